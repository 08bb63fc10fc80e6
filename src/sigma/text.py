"""Text that enters and text that leaves: the one rule for every string sigma stores, and
the escaping each consumer needs. Plain Python (no pydantic): the CLI's remote listings and
the exports use the output half without building any schema.

What is stored is valid text: Unicode scalar values only (no lone surrogates, which cannot
be encoded and broke every listing that met one), no NUL (PostgreSQL refuses it), and no
C0/C1 control characters, DEL included, except newline and tab in multi-line fields
(notes, descriptions, comments), whose line ends are normalised to "\\n".
"""

from __future__ import annotations

import re
from typing import Any

# single-line fields: every C0 and C1 control, DEL, and the surrogate range
_BAD_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# multi-line fields: the same but tab, newline and carriage return (normalised below)
_BAD_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# what any string must never hold, whatever the field: NUL and lone surrogates
_NEVER = re.compile("[\x00\ud800-\udfff]")


def _describe(ch: str) -> str:
    code = ord(ch)
    if code == 0:
        return "a NUL character"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X}); text must be valid Unicode"
    return f"a control character (U+{code:04X})"


def check_text(value: str, *, multiline: bool = False) -> str:
    """`value` if it is valid text for a field, else ValueError naming the offending
    character. Multi-line text comes back with CRLF and lone CR turned into LF."""
    bad = (_BAD_MULTILINE if multiline else _BAD_LINE).search(value)
    if bad:
        raise ValueError(f"must not contain {_describe(bad.group())} (at position {bad.start()})")
    if multiline and "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def check_any_string(value: str) -> None:
    """The floor for strings of any field: no NUL, no lone surrogate."""
    bad = _NEVER.search(value)
    if bad:
        raise ValueError(f"must not contain {_describe(bad.group())} (at position {bad.start()})")


def first_invalid_string(
    node: Any, path: tuple[Any, ...] = (), depth: int = 0
) -> tuple[tuple[Any, ...], str] | None:
    """(location, reason) of the first string under `node` (dict keys included) that breaks
    the floor of check_any_string, or None. Bounded depth: deeper nesting is the schema's
    business (it refuses it)."""
    if isinstance(node, str):
        try:
            check_any_string(node)
        except ValueError as exc:
            return path, str(exc)
        return None
    if depth > 64:
        return None
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str):
                try:
                    check_any_string(key)
                except ValueError as exc:
                    return path, f"has a key that {exc}"
            found = first_invalid_string(value, (*path, key), depth + 1)
            if found:
                return found
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            found = first_invalid_string(value, (*path, i), depth + 1)
            if found:
                return found
    return None


# ---------------------------------------------------------------- leaving: terminal

_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def for_terminal(text: str) -> str:
    """Text safe to print on a terminal: control characters (escape sequences, bells,
    carriage returns) and bidirectional overrides become visible `\\xNN` / `\\uNNNN` escapes.
    Stored text is already free of them; this guards rows stored before that rule and text
    from a server that does not keep it."""
    if _TERMINAL_UNSAFE.search(text) is None:
        return text
    return _TERMINAL_UNSAFE.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


# ---------------------------------------------------------------- leaving: spreadsheets

# a cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading apostrophe before a formula trigger
    (OWASP's advice). Reversible by csv_unsafe, so exports still import back unchanged: a
    cell that already starts with apostrophes before a trigger gets one more."""
    if cell[:1] in FORMULA_TRIGGERS or (
        cell[:1] == "'" and cell.lstrip("'")[:1] in FORMULA_TRIGGERS
    ):
        return "'" + cell
    return cell


def csv_unsafe(cell: str) -> str:
    """The value csv_safe was given: one leading apostrophe dropped before a trigger."""
    if cell[:1] == "'" and cell.lstrip("'")[:1] in FORMULA_TRIGGERS:
        return cell[1:]
    return cell
