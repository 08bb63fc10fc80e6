"""`sigma audit list` (admin)."""

import typer

from sigma.commands.common import FormatOption, QuietOption, state

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

COLUMNS = (
    ("Time", lambda a: a["created_at"][:19].replace("T", " ")),
    ("Actor", lambda a: a["user_email"]),
    ("Action", lambda a: a["action"]),
    (
        "Resource",
        lambda a: a["resource"] + (f" {a['resource_id'][:8]}" if a["resource_id"] else ""),
    ),
    ("Details", lambda a: _details(a["details"])),
)


def _details(details: dict) -> str:
    if "changes" in details:
        return ", ".join(
            f"{k}: {v['from']!r} -> {v['to']!r}" for k, v in details["changes"].items()
        )
    return ", ".join(f"{k}={v}" for k, v in details.items())


@app.command("list")
def list_(
    ctx: typer.Context,
    resource: str = typer.Option(None, "--resource", help="vps, provider, user, api_key..."),
    resource_id: str = typer.Option(None, "--resource-id", help="Id of the resource."),
    user_id: str = typer.Option(None, "--user-id", help="Id of the acting user."),
    action: str = typer.Option(None, "--action", help="create, update, delete, retire, login..."),
    since: str = typer.Option(None, "--since", help="YYYY-MM-DD or RFC 3339 (inclusive)."),
    until: str = typer.Option(None, "--until", help="YYYY-MM-DD or RFC 3339 (inclusive)."),
    page: int = typer.Option(1, "--page", help="Page number, from 1."),
    per_page: int = typer.Option(50, "--per-page", help="Rows per page (1-100)."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """The audit log, newest first.

    Example: sigma audit list --resource vps --since 2026-11-01
    """
    from sigma.output import emit
    from sigma.schemas.common import validate
    from sigma.schemas.identity import AuditFilter

    raw = dict(
        resource=resource,
        resource_id=resource_id,
        user_id=user_id,
        action=action,
        since=since,
        until=until,
        page=page,
        per_page=per_page,
    )
    f = validate(AuditFilter, {k: v for k, v in raw.items() if v is not None})
    result = state(ctx).backend.list_audit(f)
    emit(
        [a.model_dump(mode="json") for a in result.data],
        fmt,
        columns=COLUMNS,
        quiet=quiet,
        footer=f"Page {result.page} ({result.total} entries)",
    )
