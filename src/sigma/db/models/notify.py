"""The notification log: what was sent where, so nothing is sent twice."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Integer, Text, UniqueConstraint, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table
from sigma.db.types import UtcDateTime, utcnow


class NotificationLog(Table, table=True):
    """One row per expiry notice per channel: (vps, threshold, expire date, channel) is sent
    at most once. A row is claimed (sent_at NULL) before sending and confirmed after; a failed
    send deletes its claim, so the next run retries. threshold -1 means "overdue"."""

    __tablename__ = "notification_log"
    __table_args__ = (
        UniqueConstraint(
            "vps_id", "threshold", "expire_date", "channel", name="uq_notification_log_key"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", nullable=False
    )
    threshold: int = Field(sa_type=Integer, nullable=False)
    expire_date: date = Field(sa_type=Date, nullable=False)
    channel: str = Field(sa_type=Text, nullable=False)
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
