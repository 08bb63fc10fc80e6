"""Audit rows, written in the same transaction as the change they describe."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from sigma.db.models import AuditLog
from sigma.services.actor import Actor


def record(
    session: Session,
    actor: Actor,
    action: str,
    resource: str,
    resource_id: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
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


def diff(before: BaseModel, after: BaseModel, skip: set[str] | None = None) -> dict[str, Any]:
    """{field: {from, to}} for every serialised field that changed."""
    skip = {"id", "created_at", "updated_at"} | (skip or set())
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return {
        k: {"from": old.get(k), "to": v}
        for k, v in new.items()
        if k not in skip and old.get(k) != v
    }
