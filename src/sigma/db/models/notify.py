"""The notification logs: what was sent where, so nothing is sent twice (the legacy
Telegram/webhook notices, and the Apprise notices of attention items)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, Text, UniqueConstraint, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table
from sigma.db.types import UtcDateTime, utcnow


class NotificationLog(Table, table=True):
    """One row per notice per channel: (kind, vps, threshold, day, channel) is sent at most
    once. A row is claimed (sent_at NULL) before sending and confirmed after; a failed send
    deletes its claim, so the next run retries. An `expiry` notice's threshold is days
    before the expiry date (-1: overdue) and its day that date; a `quota` notice's threshold
    is a share of the traffic quota (80, 95, 100) and its day the first of the period."""

    __tablename__ = "notification_log"
    __table_args__ = (
        UniqueConstraint(
            "kind",
            "vps_id",
            "threshold",
            "expire_date",
            "channel",
            name="uq_notification_log_key",
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", nullable=False
    )
    kind: str = Field(
        default="expiry",
        sa_type=Text,
        nullable=False,
        sa_column_kwargs={"server_default": "expiry"},
    )
    threshold: int = Field(sa_type=Integer, nullable=False)
    expire_date: date = Field(sa_type=Date, nullable=False)
    channel: str = Field(sa_type=Text, nullable=False)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class NoticeDelivery(Table, table=True):
    """One row per (channel, attention item, fingerprint, event) of the Apprise notices
    (services.notices): claimed (status `sending`, committed) before the message that carries
    it is sent, then `sent`, or `failed` with `next_attempt_at` for the retry (exponential
    backoff). `channel` is a stable, non-secret id of the Apprise URL (a hash of it),
    `channel_label` the URL with its secrets masked. An `open` row's `resolved_at` is set
    when its recovery went out or a newer fingerprint of the item superseded it. A daily
    digest is one row per channel and day: item_key `digest`, fingerprint the local date."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "channel", "item_key", "fingerprint", "event", name="uq_notice_deliveries_key"
        ),
        Index("ix_notice_deliveries_claimed_at", "claimed_at"),
        Index("ix_notice_deliveries_channel_event", "channel", "event", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    channel: str = Field(sa_type=Text, nullable=False)
    channel_label: str = Field(sa_type=Text, nullable=False)
    item_key: str = Field(sa_type=Text, nullable=False)
    fingerprint: str = Field(sa_type=Text, nullable=False)
    event: str = Field(sa_type=Text, nullable=False)  # open, recovered, digest
    kind: str = Field(sa_type=Text, nullable=False)
    severity: str = Field(sa_type=Text, nullable=False)
    summary: str = Field(sa_type=Text, nullable=False)
    status: str = Field(sa_type=Text, nullable=False)  # sending, sent, failed
    attempts: int = Field(default=1, sa_type=Integer, nullable=False)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
