"""The notification log: what was sent where, so nothing is sent twice."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Integer, Text, UniqueConstraint, Uuid
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
