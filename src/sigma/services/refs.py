"""Resolve a user's reference to one row: full UUID, unique id prefix (>= 4 hex chars),
or a name (VPS hostname, provider name). Ambiguity is an error listing the candidates."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from sigma.errors import Ambiguous, InvalidInput, NotFound

M = TypeVar("M")
_PREFIX = re.compile(r"^[0-9a-fA-F-]{4,36}$")
MAX_CANDIDATES = 10


def resolve(
    session: Session,
    model: type[M],
    ref: Any,
    *,
    kind: str,
    name_column: Any,
    describe: Callable[[M], str],
    prefer: Callable[[list[M]], list[M]] = lambda rows: rows,
    case_insensitive: bool = False,
    where: Any = None,
    visible: Callable[[M], bool] | None = None,
) -> M:
    """`where` (a SQL condition) and `visible` (the same rule on a row) hide rows from the
    reference, by name, id prefix and id alike (the VPS in the trash)."""
    if isinstance(ref, uuid.UUID):
        return _by_id(session, model, ref, kind, visible)
    ref = str(ref or "").strip()
    if not ref:
        raise InvalidInput(f"a {kind} reference is required", field=kind)
    if len(ref) > 512 or any(ord(ch) < 32 for ch in ref):
        raise NotFound(f"{kind} '{ref[:40]!r}' not found", field=kind)
    try:
        return _by_id(session, model, uuid.UUID(ref), kind, visible)
    except ValueError:
        pass
    hidden: tuple[Any, ...] = (where,) if where is not None else ()
    rows = list(
        session.scalars(select(model).where(name_column == ref, *hidden).limit(MAX_CANDIDATES + 1))
    )
    if not rows and case_insensitive:
        rows = list(
            session.scalars(
                select(model)
                .where(func.lower(name_column) == ref.lower(), *hidden)
                .limit(MAX_CANDIDATES + 1)
            )
        )
    if len(rows) > 1:
        rows = prefer(rows)
    if not rows and _PREFIX.match(ref):
        prefix = ref.replace("-", "").lower()
        id_text = func.replace(cast(model.id, String), "-", "")  # type: ignore[attr-defined]
        rows = list(
            session.scalars(
                select(model).where(id_text.like(prefix + "%"), *hidden).limit(MAX_CANDIDATES + 1)
            )
        )
    if not rows:
        hint = ""
        if re.fullmatch(r"[0-9a-fA-F]{1,3}", ref):
            hint = " (an id prefix needs 4 or more characters)"
        raise NotFound(f"{kind} '{ref}' not found{hint}", field=kind)
    if len(rows) > 1:
        shown = "; ".join(describe(r) for r in rows[:MAX_CANDIDATES])
        raise Ambiguous(
            f"{kind} reference '{ref}' is ambiguous, it matches: {shown}. Use a longer id prefix.",
            field=kind,
        )
    return rows[0]


def _by_id(
    session: Session,
    model: type[M],
    id_: uuid.UUID,
    kind: str,
    visible: Callable[[M], bool] | None = None,
) -> M:
    row = session.get(model, id_)
    if row is None or (visible is not None and not visible(row)):
        raise NotFound(f"{kind} {id_} not found", field=kind)
    return row
