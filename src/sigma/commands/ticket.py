"""`sigma ticket list|open|show|edit|assign|start|resolve|close|reopen|comment|rm`."""

from typing import Any

import typer

from sigma.commands.common import (
    AllOption,
    FormatOption,
    PageOption,
    PerPageOption,
    QuietOption,
    confirm_or_yes,
    done,
    listing,
    state,
)

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
Opt = typer.Option

COLUMNS = (
    ("ID", lambda t: t["id"][:8]),
    ("Priority", lambda t: _priority(t["priority"])),
    ("Status", lambda t: _status(t["status"])),
    ("Title", lambda t: t["title"], "text"),
    ("VPS", lambda t: t.get("vps_hostname") or (t["vps_id"] or "")[:8], "keep", 2),
    ("Assignee", lambda t: t.get("assigned_to_email") or (t["assigned_to"] or "")[:8], "text", 3),
    ("Updated", lambda t: t["updated_at"][:16].replace("T", " "), "keep", 1),
)
COMMENT_COLUMNS = (
    ("Time", lambda c: c["created_at"][:16].replace("T", " ")),
    ("By", lambda c: c["user_email"]),
    ("Comment", lambda c: c["body"], "text"),
)


def _status(status: str):
    from rich.text import Text

    style = {"open": "cyan", "in-progress": "yellow", "resolved": "green", "closed": "dim"}
    return Text(status, style=style.get(status, ""))


def _priority(priority: str):
    from rich.text import Text

    style = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}
    return Text(priority, style=style.get(priority, ""))


def _link_ids(ctx: typer.Context, vps: str | None, provider: str | None) -> dict[str, Any]:
    """--vps / --provider references to ids; '' clears the link."""
    backend = state(ctx).backend
    out: dict[str, Any] = {}
    if vps is not None:
        out["vps_id"] = str(backend.get_vps(vps).id) if vps else None
    if provider is not None:
        out["provider_id"] = str(backend.get_provider(provider).id) if provider else None
    return out


def _emit_one(t: Any, fmt: str, quiet: bool, message: str) -> None:
    from sigma.output import emit

    record = t.model_dump(mode="json")
    if quiet or fmt != "table":
        emit(record, fmt, quiet=quiet)
    else:
        done(message.format(**record))


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str = Opt(None, "--status", help="open, in-progress, resolved or closed."),
    priority: str = Opt(None, "--priority", help="low, medium, high or critical."),
    assigned_to: str = Opt(None, "--assigned-to", help="User id or email."),
    vps: str = Opt(None, "--vps", help="Only tickets about this VPS (id, prefix or hostname)."),
    provider: str = Opt(None, "--provider", help="Only tickets about this provider."),
    page: int = PageOption,
    per_page: int = PerPageOption,
    all_: bool = AllOption,
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """List tickets, newest first. A table shows one page; -q, json, yaml and csv give every
    matching ticket unless --page or --per-page asks for a page.

    Example: sigma ticket list --status open --priority critical
    """
    from sigma.output import check_format, emit
    from sigma.schemas.common import validate
    from sigma.schemas.tickets import Ticket, TicketFilter

    fmt = check_format(fmt)
    backend = state(ctx).backend
    values: dict[str, Any] = {
        k: v
        for k, v in dict(status=status, priority=priority, assigned_to=assigned_to).items()
        if v is not None
    }
    values.update({k: v for k, v in _link_ids(ctx, vps, provider).items() if v})
    items, footer = listing(
        lambda n, size: backend.list_tickets(
            validate(TicketFilter, {**values, "page": n, "per_page": size})
        ),
        page=page,
        per_page=per_page,
        all_=all_,
        quiet=quiet,
        fmt=fmt,
        noun="tickets",
    )
    rows = [t.model_dump(mode="json") for t in items]
    fields = list(Ticket.model_fields)
    emit(rows, fmt, columns=COLUMNS, quiet=quiet, footer=footer, fields=fields)


@app.command("open")
def open_(
    ctx: typer.Context,
    title: str = typer.Argument(..., help="What is wrong, in one line."),
    description: str = Opt(None, "--description", "-d", help="Details."),
    priority: str = Opt(None, "--priority", "-p", help="low, medium (default), high or critical."),
    vps: str = Opt(None, "--vps", help="The VPS concerned (id, prefix or hostname)."),
    provider: str = Opt(None, "--provider", help="The provider concerned (id, prefix or name)."),
    assign: str = Opt(None, "--assign", help="Assignee: user id or email."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Open a ticket.

    Example: sigma ticket open "hk-exit-01 blocked on CT" --vps hk-exit-01 --priority high
    """
    from sigma.schemas.common import validate
    from sigma.schemas.tickets import TicketCreate

    values: dict[str, Any] = {"title": title}
    if description is not None:
        values["description"] = description
    if priority is not None:
        values["priority"] = priority
    if assign:
        values["assigned_to"] = assign
    values.update({k: v for k, v in _link_ids(ctx, vps, provider).items() if v})
    t = state(ctx).backend.create_ticket(validate(TicketCreate, values))
    _emit_one(t, fmt, quiet, "Opened ticket {id} ({title})")


app.command("create", hidden=True)(open_)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Ticket id, id prefix or exact title."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Show a ticket and its comments.

    Example: sigma ticket show 3f2a9c1b
    """
    from sigma.output import check_format, emit

    check_format(fmt)
    backend = state(ctx).backend
    t = backend.get_ticket(ref)
    comments = [c.model_dump(mode="json") for c in backend.list_comments(t.id)]
    record = t.model_dump(mode="json")
    if quiet or fmt != "table":
        emit(record | {"comments": comments} if not quiet else record, fmt, quiet=quiet)
        return
    emit(record, fmt)
    if comments:
        typer.echo("")
        emit(comments, fmt, columns=COMMENT_COLUMNS)


app.command("get", hidden=True)(show)


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Ticket id, id prefix or exact title."),
    title: str = Opt(None, "--title", help="New title."),
    description: str = Opt(None, "--description", "-d", help="New description."),
    priority: str = Opt(None, "--priority", "-p", help="low, medium, high or critical."),
    status: str = Opt(None, "--status", help="New status (must follow the workflow)."),
    vps: str = Opt(None, "--vps", help="Link to this VPS ('' removes the link)."),
    provider: str = Opt(None, "--provider", help="Link to this provider ('' removes the link)."),
    assign: str = Opt(None, "--assign", help="Assignee: user id or email ('' unassigns)."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Change some fields of a ticket; the others are kept.

    Example: sigma ticket edit 3f2a --priority critical --vps hk-exit-02
    """
    from sigma.errors import InvalidInput
    from sigma.schemas.common import validate
    from sigma.schemas.tickets import TicketUpdate

    values: dict[str, Any] = {
        k: v
        for k, v in dict(
            title=title, description=description, priority=priority, status=status
        ).items()
        if v is not None
    }
    if assign is not None:
        values["assigned_to"] = assign or None
    values.update(_link_ids(ctx, vps, provider))
    if not values:
        raise InvalidInput("nothing to change: give at least one option (see --help)")
    t = state(ctx).backend.update_ticket(ref, validate(TicketUpdate, values))
    _emit_one(t, fmt, quiet, "Updated ticket {id} ({title})")


app.command("update", hidden=True)(edit)


@app.command("assign")
def assign(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Ticket id, id prefix or exact title."),
    user: str = typer.Argument(None, help="User id or email; omit (or --none) to unassign."),
    none: bool = Opt(False, "--none", help="Remove the assignee."),
) -> None:
    """Assign a ticket to a user (or unassign it).

    Example: sigma ticket assign 3f2a ops@example.com
    """
    from sigma.errors import InvalidInput
    from sigma.schemas.tickets import TicketUpdate

    if not user and not none:
        raise InvalidInput("user: give a user id or email, or --none to unassign", field="user")
    t = state(ctx).backend.update_ticket(ref, TicketUpdate(assigned_to=None if none else user))
    done(f"Ticket {t.id} " + (f"assigned to {user}" if not none else "unassigned"))


def _status_command(name: str, status: str, verb: str, example: str):
    def command(
        ctx: typer.Context,
        refs: list[str] = typer.Argument(..., help="Ticket ids, id prefixes or exact titles."),
    ) -> None:
        from sigma.schemas.tickets import TicketUpdate

        backend = state(ctx).backend
        targets = [backend.get_ticket(r) for r in refs]
        for t in targets:
            backend.update_ticket(t.id, TicketUpdate(status=status))
            done(f"{verb} ticket {t.id} ({t.title})")

    command.__doc__ = f"Set the status to {status}.\n\n    Example: {example}\n    "
    app.command(name)(command)


_status_command("start", "in-progress", "Started", "sigma ticket start 3f2a")
_status_command("resolve", "resolved", "Resolved", "sigma ticket resolve 3f2a")
_status_command("close", "closed", "Closed", "sigma ticket close 3f2a 9c1b")
_status_command("reopen", "open", "Reopened", "sigma ticket reopen 3f2a")


@app.command("comment")
def comment(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Ticket id, id prefix or exact title."),
    body: str = typer.Argument(..., help="The comment ('-' reads it from standard input)."),
    fmt: str = FormatOption,
    quiet: bool = QuietOption,
) -> None:
    """Add a comment to a ticket.

    Example: sigma ticket comment 3f2a "provider says the route is fixed"
    """
    import sys

    if body == "-":
        body = sys.stdin.read()
    c = state(ctx).backend.add_comment(ref, body)
    _emit_one(c, fmt, quiet, "Commented on ticket {ticket_id}")


@app.command("rm")
def rm(
    ctx: typer.Context,
    refs: list[str] = typer.Argument(..., help="Ticket ids, id prefixes or exact titles."),
    yes: bool = Opt(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete tickets and their comments (admin).

    Example: sigma ticket rm 3f2a --yes
    """
    backend = state(ctx).backend
    targets = [backend.get_ticket(r) for r in refs]
    confirm_or_yes(
        f"Delete ticket(s) {', '.join(repr(t.title) for t in targets)} and their comments?", yes
    )
    for t in targets:
        backend.delete_ticket(t.id)
        done(f"Deleted ticket {t.id} ({t.title})")


@app.command("delete", hidden=True)
def delete(ctx: typer.Context, refs: list[str] = typer.Argument(...)) -> None:
    """The original CLI's spelling: deletes without asking."""
    rm(ctx, refs, yes=True)
