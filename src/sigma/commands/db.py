"""`sigma db upgrade|current`."""

import typer

from sigma.commands.common import done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply the database migrations shipped with this sigma (safe to repeat).

    Example: SIGMA_DATABASE_URL=postgresql+psycopg://sigma@db/sigma sigma db upgrade
    """
    from sigma.services import database
    from sigma.settings import redact_url

    settings = state(ctx).settings
    before, after = database.upgrade(settings)
    where = redact_url(settings.effective_database_url)
    if before == after:
        done(f"{where}: already at revision {after}")
    else:
        done(f"{where}: upgraded {before or 'empty'} -> {after}")


@app.command("current")
def current(ctx: typer.Context) -> None:
    """Print the schema revision of the database.

    Example: sigma db current
    """
    from sigma.services import database

    typer.echo(database.current_revision(state(ctx).settings) or "empty")
