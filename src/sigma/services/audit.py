"""Audit rows, written in the same transaction as the change they describe.

The table is imported where a row is written or read: every service imports this module, and
a listing, which writes nothing, then maps no audit table."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from sigma.services.actor import Actor

if TYPE_CHECKING:
    from sigma.schemas.common import Page
    from sigma.schemas.identity import AuditEntry


_changes = itertools.count(1)
_generation = 0


def generation() -> int:
    """How many changes this process has recorded (audited) so far: what a view computed
    from the database and kept for a while (services.attention) compares to know it is
    out of date."""
    return _generation


def record(
    session: Session,
    actor: Actor,
    action: str,
    resource: str,
    resource_id: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    from sigma.db.models.audit import AuditLog

    global _generation
    _generation = next(_changes)
    session.add(
        AuditLog(
            user_id=actor.user_id,
            user_email=actor.email,
            action=action,
            resource=resource,
            resource_id=None if resource_id is None else str(resource_id),
            details=details or {},
            client_ip=actor.client_ip,
        )
    )


def refusal(
    actor: Actor,
    action: str,
    resource: str,
    resource_id: Any = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The audit row of a refused attempt, for a SigmaError's `audit`: the transaction of the
    attempt rolls back, and the unit of work records this row on its own."""
    return {
        "user_id": actor.user_id,
        "user_email": actor.email,
        "action": action,
        "resource": resource,
        "resource_id": None if resource_id is None else str(resource_id),
        "details": details or {},
        "client_ip": actor.client_ip,
    }


def diff(before: BaseModel, after: BaseModel, skip: set[str] | None = None) -> dict[str, Any]:
    """{field: {from, to}} for every serialised field that changed."""
    skip = {"id", "created_at", "updated_at"} | (skip or set())
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {
        k: {"from": old.get(k), "to": v}
        for k, v in new.items()
        if k not in skip and old.get(k) != v
    }


def list_entries(session: Session, actor: Actor, f: Any = None) -> Page[AuditEntry]:
    """The audit log, newest first (admin only)."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from sigma.db.models.audit import AuditLog
    from sigma.schemas.common import Page, validate
    from sigma.schemas.identity import AuditEntry, AuditFilter
    from sigma.services.actor import ADMINS

    actor.require(ADMINS)
    f = f if isinstance(f, AuditFilter) else validate(AuditFilter, f or {})
    q = select(AuditLog)
    for column, value in (
        (AuditLog.resource, f.resource),
        (AuditLog.resource_id, f.resource_id),
        (AuditLog.user_id, f.user_id),
        (AuditLog.action, f.action),
    ):
        if value is not None:
            q = q.where(column == value)
    if f.since:
        q = q.where(AuditLog.created_at >= f.since)
    if f.until:
        q = q.where(AuditLog.created_at <= f.until)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(col(AuditLog.created_at).desc())
        .offset((f.page - 1) * f.per_page)
        .limit(f.per_page)
    )
    return Page[AuditEntry](
        data=[AuditEntry.model_validate(r) for r in rows],
        total=total,
        page=f.page,
        per_page=f.per_page,
    )
