"""`sigma stats`: the fleet at a glance."""

from typing import Any

import typer

from sigma.commands.common import state

BAR_WIDTH = 30
STATUS_STYLE = {
    "active": "green",
    "provisioning": "cyan",
    "retiring": "yellow",
    "retired": "dim",
    "suspended": "red",
}


def stats(
    ctx: typer.Context,
    fmt: str = typer.Option(
        "table", "--format", "-f", help="table (a dashboard), json or yaml.", metavar="FORMAT"
    ),
) -> None:
    """Dashboard: totals, VPS by status / country / provider, and what expires within 14 days.

    Example: sigma stats
    """
    from sigma.errors import InvalidInput
    from sigma.output import emit

    if fmt not in ("table", "json", "yaml"):
        raise InvalidInput(
            f"format: unknown format '{fmt}'; expected table, json or yaml", field="format"
        )
    s = state(ctx).backend.stats().model_dump(mode="json")
    if fmt != "table":
        emit(s, fmt)
        return
    dashboard(s)


def _bars(title: str, rows: list[dict[str, Any]], style_of=lambda label: "blue"):
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        show_header=False,
        box=None,
        pad_edge=False,
    )
    table.add_column("label", no_wrap=True)
    table.add_column("bar")
    table.add_column("count", justify="right")
    top = max((r["count"] for r in rows), default=0)
    for r in rows:
        width = max(1, round(BAR_WIDTH * r["count"] / top)) if top else 0
        table.add_row(
            r["label"] or "(none)", Text("█" * width, style=style_of(r["label"])), str(r["count"])
        )
    if not rows:
        table.add_row(Text("nothing yet", style="dim"), "", "")
    return table


def dashboard(s: dict[str, Any]) -> None:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from sigma.output import console, days_left, rich_text

    head = Text.assemble(
        ("sigma fleet  ", "bold"),
        (f"{s['total_vps']} VPS", "bold"),
        "  ·  ",
        (f"{s['active_vps']} active", "green"),
        "  ·  ",
        f"{s['total_providers']} providers",
    )
    expiring = Table(
        title=f"Expiring within 14 days ({len(s['expiring_soon'])})",
        title_justify="left",
        title_style="bold",
        header_style="bold",
        box=None,
        pad_edge=False,
    )
    for col in ("Hostname", "Country", "Status", "Cost", "Expires"):
        expiring.add_column(col)
    for v in s["expiring_soon"]:
        expiring.add_row(
            v["hostname"] + (f" ({v['alias']})" if v["alias"] else ""),
            v["country"],
            Text(v["status"], style=STATUS_STYLE.get(v["status"], "")),
            f"{v['cost_monthly']} {v['currency']}" if v["cost_monthly"] else "",
            rich_text(days_left(v["expire_date"])),
        )
    if not s["expiring_soon"]:
        expiring.add_row(Text("nothing expires soon", style="dim"), "", "", "", "")
    con = console()
    con.print(
        Group(
            head,
            Text(""),
            _bars("By status", s["by_status"], lambda label: STATUS_STYLE.get(label, "blue")),
            Text(""),
            _bars("By country (live)", s["by_country"]),
            Text(""),
            _bars("By provider (live)", s["by_provider"]),
            Text(""),
            expiring,
        )
    )
