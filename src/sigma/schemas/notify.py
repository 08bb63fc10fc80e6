"""Expiry notices and the report of a notification run."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from sigma.schemas.common import BaseModel


class Notice(BaseModel):
    vps_id: UUID
    hostname: str
    kind: str  # expiring or overdue
    threshold: int  # the NOTIFY_BEFORE_DAYS step, -1 for overdue
    expire_date: date
    days_remaining: int
    channel: str
    status: str  # sent, failed, pending (dry run)
    error: str | None = None


class NotifyReport(BaseModel):
    dry_run: bool
    channels: list[str]
    notices: list[Notice]
    sent: int
    failed: int
    already_sent: int
