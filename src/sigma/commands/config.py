"""`sigma config show|path|set|unset`."""

import typer

from sigma.commands.common import FormatOption, done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.command("show")
def show(ctx: typer.Context, fmt: str = FormatOption) -> None:
    """Print the effective settings, secrets and DSN passwords redacted.

    Example: sigma config show --format yaml
    """
    from sigma.output import emit

    emit(state(ctx).settings.redacted(), fmt)


@app.command("path")
def path() -> None:
    """Print the config file's path (it may not exist yet).

    Example: sigma config path
    """
    from sigma.settings import config_path

    typer.echo(str(config_path()))


@app.command("set")
def set_(
    key: str = typer.Argument(..., help="Setting name, e.g. database_url."),
    value: str = typer.Argument(..., help="Value."),
) -> None:
    """Store a setting in the config file (kept mode 0600).

    Example: sigma config set database_url postgresql+psycopg://sigma@db/sigma
    """
    from sigma.settings import Settings, load_settings, save_config_values

    key = key.replace("-", "_")
    if key not in Settings.model_fields:
        from sigma.errors import InvalidInput

        raise InvalidInput(f"unknown setting '{key}'; see `sigma config show`", field=key)
    load_settings({key: value})  # validate before writing
    path = save_config_values({key: value})
    done(f"Saved {key} to {path}")


@app.command("unset")
def unset(key: str = typer.Argument(..., help="Setting name.")) -> None:
    """Remove a setting from the config file.

    Example: sigma config unset server
    """
    from sigma.settings import save_config_values

    path = save_config_values({key.replace("-", "_"): None})
    done(f"Removed {key} from {path}")
