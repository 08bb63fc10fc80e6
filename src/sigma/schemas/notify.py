"""Expiry and traffic-quota notices, the Apprise notices of attention items, and the report
of a notification run."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import Field

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


class ChannelNotice(BaseModel):
    """One attention item's notice on one Apprise channel in a run (services.notices)."""

    channel: str  # the URL's masked label, never the URL
    channel_id: str  # a digest of the URL: the channel's name in the database
    item_key: str  # the attention item's key; `digest` for a daily digest
    kind: str  # the item's kind; `digest`
    severity: str
    summary: str
    event: str  # open, recovered, digest
    why: str  # instant, recovery, digest of DAY, retry N, held: quiet hours..., waiting: ...
    status: str  # sent, failed, pending (dry run), held (quiet hours), waiting (backoff)
    attempts: int = 0
    error: str | None = None  # why the send failed, secrets scrubbed
    items: int | None = None  # a digest: how many items it lists


class NotifyReport(BaseModel):
    dry_run: bool
    channels: list[str]
    notices: list[Notice]
    sent: int
    failed: int
    already_sent: int
    # the Apprise notices of attention items (issue 18); sent and failed count them too
    deliveries: list[ChannelNotice] = []


class NoticeLogEntry(BaseModel):
    """A row of `sigma notify log`: one (channel, item, fingerprint, event) delivery."""

    channel: str
    channel_id: str
    item_key: str
    kind: str
    severity: str
    summary: str
    event: str
    status: str  # sending, sent, failed (retried at next_attempt_at)
    attempts: int
    claimed_at: datetime
    sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    error: str | None = None


class NotifyTest(BaseModel):
    """POST /api/notify/test: one URL (admins), or every configured channel."""

    url: str | None = Field(None, max_length=4096)
    all: bool = False


class NotifyTestResult(BaseModel):
    channel: str  # the masked label
    ok: bool
    error: str | None = None
