"""Renderers: table (rich), json, yaml, csv. Data go to stdout; messages to stderr.

Records are the JSON-mode dumps of the schemas (contract field names), so `--format json`
is stable for scripts whatever the table shows.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sigma.formats import csv_text, flat_cell, listing_format
from sigma.text import for_terminal
from sigma.vocab import days_until

Cell = Callable[[dict[str, Any]], Any]
# (name, cell), (name, cell, fit) or (name, cell, fit, drop): see KEEP, KEY and TEXT below
Column = tuple[str, Cell] | tuple[str, Cell, str] | tuple[str, Cell, str, int]

# How a column gives way when a terminal is too narrow for the table: the optional third item
# of a column, (name, cell, fit), KEEP when absent. A fourth item, `drop`, orders the columns
# that may be hidden (the highest first; 0 or absent: always shown).
KEEP = "keep"  # ids, short values (status, dates, amounts): never broken or cut
KEY = "key"  # a name first, then more ("hk-1 (alias)", "1.2.3.4 ct"): the name is never cut
TEXT = "text"  # free text (titles, tags, details): cut with an ellipsis


def check_format(fmt: str) -> str:
    return listing_format(fmt)


def console(stderr: bool = False):
    import os

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS") and not stream.isatty():
        width = 1000  # a pipe or file gets whole lines, not an 80-column fold
    return Console(file=stream, highlight=False, soft_wrap=False, width=width)


def emit(
    records: Sequence[dict[str, Any]] | dict[str, Any],
    fmt: str,
    *,
    columns: Sequence[Column] = (),
    quiet: bool = False,
    title: str | None = None,
    footer: str | None = None,
    fields: Sequence[str] = (),
) -> None:
    """Print one record (a dict) or a listing (a list of dicts) in the chosen format.

    `fields` are the record's fields (`list(Model.model_fields)`): a CSV listing's header is
    the same whether it has rows or not."""
    fmt = check_format(fmt)
    single = isinstance(records, dict)
    rows: list[dict[str, Any]] = [records] if isinstance(records, dict) else list(records)
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
        names = list(fields) or (list(rows[0].keys()) if rows else [])
        out.write(csv_text(names, ([flat_cell(r.get(n)) for n in names] for r in rows)))
    elif single:
        _fields_table(rows[0], columns)
    else:
        _table(rows, columns, title, footer)


class Styled(str):
    """A cell's text with the rich style it is shown in on a terminal (`Styled("active",
    "green")`). Cells are built without importing rich (slow to import): a pipe gets the plain text,
    rich_text() makes the styled Text for a terminal."""

    style: str

    def __new__(cls, text: str, style: str = "") -> Styled:
        obj = super().__new__(cls, text)
        obj.style = style
        return obj


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    plain = getattr(value, "plain", None)  # a rich Text
    return plain if isinstance(plain, str) else str(value)


def _terminal_cell(value: Any) -> Any:
    """A cell's text with control characters made visible (text.for_terminal)."""
    if isinstance(value, Styled):
        return Styled(for_terminal(str(value)), value.style)
    if isinstance(value, str):
        return for_terminal(value)
    return value


def _table(rows, columns, title, footer) -> None:
    cells = [[_terminal_cell(column[1](r)) for column in columns] for r in rows]
    if title is None and not is_terminal(sys.stdout):
        plain = _plain_table(
            [column[0] for column in columns], [[_plain(c) for c in row] for row in cells]
        )
        if plain is not None:
            sys.stdout.write(plain)
            if footer:
                _plain_message(footer)
            return
    from rich.table import Table

    con = console()
    widths = _fit(columns, cells, con.width)
    table = Table(title=title, show_lines=False, header_style="bold", pad_edge=False, box=None)
    for i, width in widths.items():
        table.add_column(columns[i][0], no_wrap=True, overflow="ellipsis", width=width)
    for row in cells:
        table.add_row(*[rich_text(row[i]) for i in widths])
    con.print(table)
    hidden = [column[0] for i, column in enumerate(columns) if i not in widths]
    if hidden:
        note = f"{', '.join(hidden)} hidden to fit {con.width} columns (--format json shows all)"
        footer = f"{footer} · {note}" if footer else note
    if footer:
        _plain_message(footer)


def _fit(columns, cells, width: int) -> dict[int, int]:
    """The columns a terminal `width` wide shows, each with its width. A column is never
    narrower than its header nor than what must stay whole: a KEEP cell, the first word of a
    KEY cell (plus room for the ellipsis), 12 cells of TEXT. Columns are hidden, highest
    `drop` first, until those minimums fit; the room left widens KEY and TEXT columns toward
    their longest cell. What is still too long is cut with an ellipsis, never folded: an id
    or a hostname broken across lines is copied wrong."""
    natural: list[int] = []
    minimum: list[int] = []
    for i, column in enumerate(columns):
        fit = column[2] if len(column) > 2 else KEEP
        if fit not in (KEEP, KEY, TEXT):
            raise ValueError(f"column {column[0]}: fit {fit!r} is not keep, key or text")
        lines = [line for row in cells for line in _plain(row[i]).split("\n")]
        longest = max([_width(column[0]), *(_width(line) for line in lines)])
        if fit == KEEP:
            least = longest
        elif fit == KEY:
            least = max((_key_width(line) for line in lines), default=0)
        else:
            least = min(12, longest)
        natural.append(longest)
        minimum.append(max(least, _width(column[0])))
    shown = list(range(len(columns)))
    while sum(minimum[i] for i in shown) + 2 * (len(shown) - 1) > width:
        droppable = [i for i in shown if len(columns[i]) > 3 and columns[i][3] > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i][3], i)))
    widths = {i: minimum[i] for i in shown}
    spare = width - sum(widths.values()) - 2 * (len(shown) - 1)
    wanting = {i: natural[i] - widths[i] for i in shown if natural[i] > widths[i]}
    total_want = sum(wanting.values())
    if spare > 0 and total_want:
        for i, want in wanting.items():
            widths[i] += min(want, spare * want // total_want)
    return widths


def _key_width(line: str) -> int:
    """A KEY cell's narrowest width: its first word whole, then an ellipsis for the rest."""
    first, _, rest = line.partition(" ")
    return _width(first) + (2 if rest else 0)


def _width(text: str) -> int:
    return len(text) if text.isascii() else _cell_len(text)


def is_terminal(stream) -> bool:
    """Whether rich would treat `stream` as a terminal (colours, folding to its width): the
    same environment rules as rich's Console.is_terminal."""
    import os

    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _plain_table(headers: list[str], rows: list[list[str]]) -> str | None:
    """The listing table for a pipe or a file, without rich: the text rich prints for this
    table (no box, header, two spaces between columns, each cell padded to its column's
    width, one line per line of a cell) when it has room for every cell, far cheaper than
    rich's layout of every row (bench/README.md). A pipe gets whole cells whatever COLUMNS
    says: folding a row across lines only breaks grep and cut. None when a cell holds text
    that rich would transform (tabs, control characters...): the caller then lets rich print
    it."""
    if not headers:
        return None
    table = [[cell.split("\n") for cell in row] for row in [headers, *rows]]
    widths = [1] * len(headers)
    for row in table:
        for i, lines in enumerate(row):
            for line in lines:
                if not line.isprintable():
                    return None
                width = len(line) if line.isascii() else _cell_len(line)
                if width > widths[i]:
                    widths[i] = width
    last = len(widths) - 1
    out: list[str] = []
    for row in table:
        for n in range(max(len(lines) for lines in row)):
            parts = []
            for i, lines in enumerate(row):
                line = lines[n] if n < len(lines) else ""
                pad = widths[i] - (len(line) if line.isascii() else _cell_len(line))
                parts.append(line + " " * (pad + (2 if i < last else 0)))
            out.append("".join(parts))
    return "\n".join(out) + "\n"


def _cell_len(text: str) -> int:
    """Terminal cells taken by non-ASCII text (wide CJK characters count 2), as rich counts."""
    from rich.cells import cell_len

    return cell_len(text)


def _plain_message(text: str) -> None:
    """A dim line on stderr (a listing's footer); plain text when stderr is not a terminal."""
    text = for_terminal(text)
    if not is_terminal(sys.stderr) and "[" not in text and ":" not in text and text.isprintable():
        sys.stderr.write(text + "\n")
        return
    console(stderr=True).print(text, style="dim")


def _fields_table(record: dict[str, Any], columns) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("Field", style="bold")
    table.add_column("Value", overflow="fold")
    shown = {column[0]: column[1] for column in columns}
    for key, value in record.items():
        cell = shown.get(key)
        table.add_row(key, rich_text(cell(record) if cell else _field_value(value)))
    console().print(table)


def _field_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        if not value:
            return "{}"
        import yaml

        # one line per key, nested mappings indented: a long JSON line is unreadable
        return yaml.safe_dump(value, sort_keys=False, allow_unicode=True).rstrip("\n")
    return flat_cell(value)


def rich_text(value: Any):
    """A cell for a rich table: Text as is, Styled with its style, anything else as plain text
    (never parsed as rich markup)."""
    from rich.text import Text

    if isinstance(value, Text):
        return value
    if isinstance(value, Styled):
        return Text(for_terminal(str(value)), style=value.style)
    return Text("" if value is None else for_terminal(str(value)))


def days_left(expire: str | None, today: date | None = None) -> Styled:
    """'12d' green, '5d' yellow, '2d' red, 'overdue 3d' bold red, blank when unknown."""
    days = days_until(expire, today)
    if days is None:
        return Styled("")
    if days < 0:
        return Styled(f"{expire} (overdue {-days}d)", "bold red")
    style = "red" if days <= 3 else "yellow" if days <= 7 else "green"
    return Styled(f"{expire} ({days}d)", style)
