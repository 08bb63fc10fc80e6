"""Dialect-aware predicates over JSON array columns: GIN-indexable `@>` on PostgreSQL,
`json_each` on SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, func, literal, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def json_array_contains(session: Session, column: Any, value: str) -> ColumnElement[bool]:
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import JSONB  # not at the top: SQLite runs skip it

        return type_coerce(column, JSONB).contains([value])
    each = func.json_each(column).table_valued("value").alias()
    return select(each.c.value).where(each.c.value == value).exists()


def json_array_has_object_with(
    session: Session, column: Any, key: str, value: str
) -> ColumnElement[bool]:
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import JSONB

        return type_coerce(column, JSONB).contains([{key: value}])
    each = func.json_each(column).table_valued("value").alias()
    return select(each.c.value).where(func.json_extract(each.c.value, f"$.{key}") == value).exists()


def json_array_has_object_starting_with(
    session: Session, column: Any, key: str, prefix: str
) -> ColumnElement[bool]:
    """An element of the array is an object whose `key` starts with `prefix`. No index serves
    a prefix inside a JSON array: each row is read, so callers pair it with a cheaper test
    or accept a scan. `prefix` is matched literally (LIKE wildcards escaped)."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import JSONB

        each = func.jsonb_array_elements(type_coerce(column, JSONB)).table_valued("value").alias()
        return (
            select(each.c.value)
            .where(each.c.value.op("->>")(key).like(pattern, escape="\\"))
            .exists()
        )
    each = func.json_each(column).table_valued("value").alias()
    return (
        select(each.c.value)
        .where(func.json_extract(each.c.value, f"$.{key}").like(pattern, escape="\\"))
        .exists()
    )


def json_is_empty_array(session: Session, column: Any) -> ColumnElement[bool]:
    """The column holds an empty JSON array: a comparison, not a parse of every row's
    document (the documents are written by json.dumps: an empty array is `[]`)."""
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import JSONB

        return type_coerce(column, JSONB) == literal("[]", JSONB)
    return type_coerce(column, String) == "[]"


def json_has_key(session: Session, column: Any, key: str) -> ColumnElement[bool]:
    """The JSON object column has this key at its top level: PostgreSQL's `?`; on SQLite a
    substring test of the text first (cheap), then the key's value read (what json_extract
    says, for a key that only appears inside a value)."""
    if _is_pg(session):
        from sqlalchemy.dialects.postgresql import JSONB

        has: ColumnElement[bool] = type_coerce(column, JSONB).has_key(key)
        return has
    return (func.instr(type_coerce(column, String), f'"{key}"') > 0) & (
        func.json_type(column, f"$.{key}").is_not(None)
    )
