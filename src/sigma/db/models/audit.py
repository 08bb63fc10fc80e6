"""The audit log: one row per change, written in the change's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table
from sigma.db.types import JsonDoc, UtcDateTime, utcnow


class AuditLog(Table, table=True):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("idx_audit_created", "created_at"),
        Index("idx_audit_resource", "resource", "resource_id"),
        Index("idx_audit_user", "user_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    user_id: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    user_email: str = Field(sa_type=Text, nullable=False)
    action: str = Field(sa_type=Text, nullable=False)
    resource: str = Field(sa_type=Text, nullable=False)
    resource_id: str | None = Field(default=None, sa_type=Text)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    client_ip: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
