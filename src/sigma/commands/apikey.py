"""`sigma api-key create|list|revoke`."""

import typer

from sigma.commands.common import FormatOption, QuietOption, done, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

COLUMNS = (
    ("ID", lambda k: k["id"][:8]),
    ("Name", lambda k: k["name"], "key"),
    ("Prefix", lambda k: k["prefix"] + "…"),
    ("Access", lambda k: "read-only" if k["read_only"] else "role", "keep", 2),
    ("Owner", lambda k: k.get("user_email") or k["user_id"][:8], "text", 4),
    # an agent's key: the VPS it speaks for
    ("VPS", lambda k: k.get("vps_hostname") or (k.get("vps_id") or "")[:8]),
    ("Expires", lambda k: (k["expires_at"] or "never")[:10], "keep", 1),
    ("Last used", lambda k: (k["last_used_at"] or "never")[:19].replace("T", " "), "keep", 3),
    ("State", lambda k: "revoked" if k["revoked_at"] else "active"),
)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="What the key is for, e.g. agent-hk-exit-01."),
    read_only: bool = typer.Option(
        False, "--read-only", help="Reads only, whatever the user's role."
    ),
    expires_in_days: int = typer.Option(None, "--expires-in-days", help="Expire after DAYS."),
    user: str = typer.Option(
        None, "--user", help="(admin) create it for this user, e.g. an agent account."
    ),
    fmt: str = FormatOption,
) -> None:
    """Create an API key. The secret is printed once (stdout); only its hash is stored.

    Example: sigma api-key create prometheus --read-only
    """
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.identity import ApiKeyCreate

    data = validate(
        ApiKeyCreate, {"name": name, "read_only": read_only, "expires_in_days": expires_in_days}
    )
    key = state(ctx).backend.create_api_key(data, user)
    if fmt == "table":
        typer.echo(key.key)
        done(f"Created API key {key.name} ({key.id}). Store it now: it is not shown again.")
    else:
        emit(key.model_dump(mode="json"), fmt)


@app.command("list")
def list_(
    ctx: typer.Context,
    all_users: bool = typer.Option(False, "--all", help="(admin) keys of every user."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List API keys (never their secrets).

    Example: sigma api-key list
    """
    from sigma.output import emit

    keys = state(ctx).backend.list_api_keys(all_users)
    from sigma.schemas.identity import ApiKey

    rows = [k.model_dump(mode="json") for k in keys]
    emit(rows, fmt, columns=COLUMNS, quiet=quiet, fields=list(ApiKey.model_fields))


@app.command("revoke")
def revoke(
    ctx: typer.Context, ref: str = typer.Argument(..., help="Key id, id prefix, prefix or name.")
) -> None:
    """Revoke an API key: it stops working at once.

    Example: sigma api-key revoke 3f2a9c1b
    """
    key = state(ctx).backend.revoke_api_key(ref)
    done(f"Revoked API key {key.name} ({key.id})")
