"""File and listing formats, and the one CSV writer: what both the faces (listings, the web
UI's export) and the services (exports) write, so neither depends on the other. Plain
Python."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sigma.errors import InvalidInput
from sigma.text import csv_safe

LISTING_FORMATS = ("table", "json", "yaml", "csv")
FILE_FORMATS = ("csv", "json", "yaml")
_EXTENSIONS = {"csv": "csv", "json": "json", "yaml": "yaml", "yml": "yaml"}


def listing_format(fmt: str | None) -> str:
    """One of LISTING_FORMATS (`--format` of every listing)."""
    f = (fmt or "table").strip().lower()
    if f not in LISTING_FORMATS:
        raise InvalidInput(
            f"format: unknown format '{fmt}'; expected one of: {', '.join(LISTING_FORMATS)}",
            field="format",
        )
    return f


def file_format(fmt: str | None) -> str:
    """One of FILE_FORMATS (imports and exports), `yml` read as yaml; JSON when not given."""
    f = (fmt or "json").strip().lower()
    f = _EXTENSIONS.get(f, f)
    if f not in FILE_FORMATS:
        raise InvalidInput(
            f"format: unknown format '{fmt}'; expected one of: {', '.join(FILE_FORMATS)}",
            field="format",
        )
    return f


def guess_file_format(filename: str, fmt: str | None) -> str:
    """`--format` wins; else the file's extension (.csv, .json, .yaml, .yml); a file with
    another extension is refused rather than read or written as JSON; no file (standard
    input or output) is JSON."""
    if fmt:
        return file_format(fmt)
    if not filename or filename == "-":
        return "json"
    name = filename.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in _EXTENSIONS:
        raise InvalidInput(
            f"format: cannot tell the format of '{filename}' from its extension; "
            f"name it .csv, .json or .yaml, or give --format {'|'.join(FILE_FORMATS)}",
            field="format",
        )
    return _EXTENSIONS[ext]


def flat_cell(value: Any) -> str:
    """How a value is written into one CSV cell (listings and exports alike)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """CSV with "\\n" line ends, for every CSV sigma writes (listings, exports, the web UI).
    csv quotes a "\\n" in a field but not a lone "\\r" (it is not in the line terminator),
    which a reader then takes for a line break: a row with a "\\r" is written fully quoted.
    A cell a spreadsheet would evaluate as a formula is neutralised (text.csv_safe; the
    importer undoes it)."""
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for cells in (header, *rows):
        cells = [csv_safe(cell) for cell in cells]
        (quoted if any("\r" in cell for cell in cells) else plain).writerow(cells)
    return buf.getvalue()
