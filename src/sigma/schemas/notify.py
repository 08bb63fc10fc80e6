"""Expiry and traffic-quota notices and the report of a notification run."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from sigma.schemas.common import BaseModel


class Notice(BaseModel):
    vps_id: UUID
    hostname: str
    kind: str  # expiring, overdue or quota
    threshold: int  # the NOTIFY_BEFORE_DAYS step, -1 for overdue; quota: the % reached
    expire_date: date | None
    days_remaining: int | None
    period_start: date | None = None  # quota: the traffic period's first day
    used_bytes: int | None = None  # quota: the traffic the quota counts, this period
    quota_gb: int | None = None
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
