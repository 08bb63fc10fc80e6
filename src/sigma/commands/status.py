"""`sigma status`: what needs attention now, for the whole fleet, in one screen (issue 18);
`sigma status ack|snooze|unack ITEM`."""

from __future__ import annotations

from typing import Any

import typer

from sigma.commands.common import state

HELP = "What needs attention now, worst first; acknowledge or snooze an item."
EPILOG = """Counts per kind and severity, then the items, worst first (severity, then the oldest),
as many as fit the terminal (--all: every one).

Kinds: overdue, expiring, blocked, port-blocked, tls-blocked, down, degraded, agent-offline,
probe-unhealthy, reach-alert, ticket, duplicate, quota, missing-data. Severities: critical,
warning, info. Acknowledged and snoozed items are left out (--handled shows them); each comes
back when its facts change (a new verdict, a new expiry date) or when its snooze ends.

Exit code 0 when no critical item is open, 1 when one is (for scripts and cron).

Examples:

\b
  sigma status
  sigma status --severity critical --format json
  sigma status --kind expiring,overdue --all
  sigma status ack expiring:vps:6f1c0d2e-... --note "renewal paid"
  sigma status snooze blocked:ip:6f1c0d2e-.../203.0.113.7 --until 4h
  sigma status unack expiring:vps:6f1c0d2e-...
"""

app = typer.Typer(rich_markup_mode=None, help=HELP, epilog=EPILOG)
O = typer.Option  # noqa: E741

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
STATE_SHOWN = {"acknowledged": "acked", "snoozed": "snoozed"}
# lines of the screen that are not items: the head, the counts table, the items' header,
# the footer and the prompt
CHROME = 6


def _words(values: list[str] | None) -> list[str]:
    return [w.strip() for v in values or [] for w in v.split(",") if w.strip()]


@app.callback(invoke_without_command=True)
def status(
    ctx: typer.Context,
    fmt: str = O(
        "table", "--format", "-f", help="table (the default), json or yaml.", metavar="FORMAT"
    ),
    kind: list[str] = O(
        None, "--kind", "-k", help="Only these kinds (repeatable, or a comma list).", metavar="KIND"
    ),
    severity: list[str] = O(
        None,
        "--severity",
        "-s",
        help="Only these severities: critical, warning, info (repeatable, or a comma list).",
        metavar="SEVERITY",
    ),
    vps: str = O(None, "--vps", help="Only the items about this VPS.", show_default=False),
    all_: bool = O(False, "--all", help="Every item, not only what fits the terminal."),
    handled: bool = O(False, "--handled", help="Show acknowledged and snoozed items too."),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from sigma.errors import InvalidInput

    if fmt not in ("table", "json", "yaml"):
        raise InvalidInput(
            f"format: unknown format '{fmt}'; expected table, json or yaml", field="format"
        )
    backend = state(ctx).backend
    kinds, severities = _words(kind), _words(severity)
    every = all_ or fmt != "table"
    per_page = 100 if every else max(1, min(100, _room_after(0)))
    first = backend.attention(kinds, severities, vps, handled, 1, per_page)
    items = list(first.data)
    if every:
        number = 1
        while len(items) < first.total:
            number += 1
            more = backend.attention(kinds, severities, vps, handled, number, per_page).data
            if not more:
                break
            items.extend(more)
    if fmt != "table":
        from sigma.output import emit

        body = first.model_dump(mode="json", exclude={"data", "page", "per_page"})
        body["items"] = [i.model_dump(mode="json") for i in items]
        emit(body, fmt)
    else:
        _screen(first, items, every)
    raise typer.Exit(1 if first.critical else 0)


def _screen(page: Any, items: list[Any], every: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from sigma.output import console, rich_text

    con = console()
    by_kind: dict[str, dict[str, int]] = {}
    totals = {"critical": 0, "warning": 0, "info": 0}
    for c in page.counts:
        by_kind.setdefault(c.kind, {})[c.severity] = c.count
        totals[c.severity] += c.count
    parts: list[Any] = [("sigma status  ", "bold")]
    for sev in ("critical", "warning", "info"):
        parts += [(f"{totals[sev]} {sev}", SEVERITY_STYLE[sev] if totals[sev] else "dim"), "  ·  "]
    parts[-1] = f"  ({page.handled} acknowledged or snoozed)" if page.handled else ""
    con.print(Text.assemble(*parts))
    if not page.total:
        con.print(Text("Nothing needs attention.", style="green"))
        return
    counts = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("Kind", "Critical", "Warning", "Info"):
        counts.add_column(name, justify="left" if name == "Kind" else "right")
    for k, sevs in by_kind.items():
        counts.add_row(
            k,
            *(
                Text(str(sevs.get(s, 0) or "-"), style=SEVERITY_STYLE[s] if sevs.get(s) else "dim")
                for s in ("critical", "warning", "info")
            ),
        )
    con.print(counts)
    shown = items if every else items[: max(1, _room_after(len(by_kind)))]
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("Severity", no_wrap=True)
    table.add_column("Summary", overflow="ellipsis", no_wrap=True, ratio=3)
    table.add_column("Since", no_wrap=True)
    table.add_column("Item", overflow="fold", ratio=2)
    for i in shown:
        badge = Text(i.severity, style=SEVERITY_STYLE.get(i.severity, ""))
        if i.state != "open":
            badge.append(f" ({STATE_SHOWN.get(i.state, i.state)})", style="dim")
        when = i.since.isoformat(timespec="minutes")[:16].replace("T", " ") if i.since else ""
        table.add_row(badge, rich_text(i.summary), when, rich_text(i.key))
    con.print(table)
    rest = page.total - len(shown)
    if rest > 0:
        con.print(Text(f"… {rest} more: sigma status --all", style="dim"))


def _room_after(count_rows: int) -> int:
    """The items that fit the terminal under the head and `count_rows` rows of counts."""
    import shutil

    lines = shutil.get_terminal_size((100, 40)).lines
    return lines - CHROME - count_rows


@app.command("ack")
def ack(
    ctx: typer.Context,
    item: str = typer.Argument(..., help="The item's key, as `sigma status` shows it."),
    note: str = O(None, "--note", "-n", help="Why, for the others (up to 500 characters)."),
) -> None:
    """Acknowledge an item: it leaves the list until its facts change.

    Example: sigma status ack expiring:vps:6f1c... --note "renewal paid"
    """
    from sigma.commands.common import done

    a = state(ctx).backend.attention_ack(item, note)
    done(f"acknowledged {a.key}")


@app.command("snooze")
def snooze(
    ctx: typer.Context,
    item: str = typer.Argument(..., help="The item's key, as `sigma status` shows it."),
    until: str = O(
        ...,
        "--until",
        "-u",
        help="A time (2026-05-01T09:00Z) or a duration from now (30m, 4h, 2d, 1w).",
    ),
    note: str = O(None, "--note", "-n", help="Why, for the others (up to 500 characters)."),
) -> None:
    """Snooze an item until a time: it leaves the list until then, or until its facts change.

    Example: sigma status snooze blocked:ip:6f1c.../203.0.113.7 --until 4h
    """
    from sigma.commands.common import done

    a = state(ctx).backend.attention_snooze(item, until, note)
    end = a.until.isoformat(timespec="minutes") if a.until else "?"
    done(f"snoozed {a.key} until {end}")


@app.command("unack")
def unack(
    ctx: typer.Context,
    item: str = typer.Argument(..., help="The item's key."),
) -> None:
    """Put an acknowledged or snoozed item back on the list.

    Example: sigma status unack expiring:vps:6f1c...
    """
    from sigma.commands.common import done

    a = state(ctx).backend.attention_unack(item)
    done(f"{a.key} is open again")
