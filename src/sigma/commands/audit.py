"""`sigma audit list` (admin)."""

import typer

from sigma.commands.common import (
    AllOption,
    FormatOption,
    PageOption,
    PerPageOption,
    QuietOption,
    listing,
    state,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

COLUMNS = (
    ("Time", lambda a: a["created_at"][:19].replace("T", " ")),
    ("Actor", lambda a: a["user_email"], "text", 1),
    ("Action", lambda a: a["action"]),
    (
        "Resource",
        lambda a: a["resource"] + (f" {a['resource_id'][:8]}" if a["resource_id"] else ""),
    ),
    ("Details", lambda a: _details(a["details"]), "text"),
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
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """The audit log, newest first. A table shows one page; -q, json, yaml and csv give every
    matching entry unless --page or --per-page asks for a page.

    Example: sigma audit list --resource vps --since 2026-11-01
    """
    from sigma.output import check_format, emit
    from sigma.schemas.common import validate
    from sigma.schemas.identity import AuditEntry, AuditFilter

    fmt = check_format(fmt)
    raw = dict(
        resource=resource,
        resource_id=resource_id,
        user_id=user_id,
        action=action,
        since=since,
        until=until,
    )
    raw = {k: v for k, v in raw.items() if v is not None}
    backend = state(ctx).backend
    items, footer = listing(
        lambda n, size: backend.list_audit(
            validate(AuditFilter, {**raw, "page": n, "per_page": size})
        ),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=quiet,
        fmt=fmt,
        noun="entries",
    )
    rows = [a.model_dump(mode="json") for a in items]
    fields = list(AuditEntry.model_fields)
    emit(rows, fmt, columns=COLUMNS, quiet=quiet, footer=footer, fields=fields)
