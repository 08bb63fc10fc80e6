"""Renderers: table (rich), json, yaml, csv. Data go to stdout; messages to stderr.

Records are the JSON-mode dumps of the schemas (contract field names), so `--format json`
is stable for scripts whatever the table shows.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sigma.errors import InvalidInput

FORMATS = ("table", "json", "yaml", "csv")
Cell = Callable[[dict[str, Any]], Any]


def check_format(fmt: str) -> str:
    fmt = (fmt or "table").lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"format: unknown format '{fmt}'; expected one of: {', '.join(FORMATS)}", field="format")
    return fmt


def console(stderr: bool = False):
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS") and not stream.isatty():
        width = 1000  # a pipe or file gets whole lines, not an 80-column fold
    return Console(file=stream, highlight=False, soft_wrap=False, width=width)


def flat_cell(value: Any) -> str:
    """How a value is written into one CSV cell (same encoding as the CSV export)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def emit(
    records: Sequence[dict[str, Any]] | dict[str, Any],
    fmt: str,
    *,
    columns: Sequence[tuple[str, Cell]] = (),
    quiet: bool = False,
    title: str | None = None,
    footer: str | None = None,
    fields: Sequence[str] = (),
) -> None:
    """Print one record (a dict) or a listing (a list of dicts) in the chosen format.

    `fields` are the record's keys, for the header of an empty CSV listing."""
    fmt = check_format(fmt)
    single = isinstance(records, dict)
    rows: list[dict[str, Any]] = [records] if single else list(records)  # type: ignore[list-item]
    out = sys.stdout
    if quiet:
        for r in rows:
            out.write(f"{r.get('id', '')}\n")
        return
    if fmt == "json":
        json.dump(rows[0] if single else rows, out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif fmt == "yaml":
        import yaml

        yaml.safe_dump(rows[0] if single else rows, out, sort_keys=False, allow_unicode=True)
    elif fmt == "csv":
        buf = io.StringIO()
        names = list(rows[0].keys()) if rows else list(fields) or [n for n, _ in columns]
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        for r in rows:
            writer.writerow([flat_cell(r.get(n)) for n in names])
        out.write(buf.getvalue())
    elif single:
        _fields_table(rows[0], columns)
    else:
        _table(rows, columns, title, footer)


def _table(rows, columns, title, footer) -> None:
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold", pad_edge=False, box=None)
    for name, _ in columns:
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(*[_text(cell(r)) for _, cell in columns])
    con = console()
    con.print(table)
    if footer:
        console(stderr=True).print(footer, style="dim")


def _fields_table(record: dict[str, Any], columns) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("Field", style="bold")
    table.add_column("Value", overflow="fold")
    shown = dict(columns)
    for key, value in record.items():
        cell = shown.get(key)
        table.add_row(key, _text(cell(record) if cell else _plain(value)))
    console().print(table)


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else "{}"
    return flat_cell(value)


def _text(value: Any):
    from rich.text import Text

    if isinstance(value, Text):
        return value
    return Text("" if value is None else str(value))


def days_left(expire: str | None, today: date | None = None):
    """'12d' green, '5d' yellow, '2d' red, 'overdue 3d' bold red, blank when unknown."""
    from rich.text import Text

    if not expire:
        return Text("")
    d = date.fromisoformat(expire) - (today or date.today())
    days = d.days
    if days < 0:
        return Text(f"{expire} (overdue {-days}d)", style="bold red")
    style = "red" if days <= 3 else "yellow" if days <= 7 else "green"
    return Text(f"{expire} ({days}d)", style=style)
