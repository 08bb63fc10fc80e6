"""Exchange rates and the notification log (issue 4): mapped on first use through sigma.db.models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from sigma.db.models import _Base as Base
from sigma.db.types import ExactDecimal, UtcDateTime, utcnow


class ExchangeRate(Base):
    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("from_currency", "to_currency", name="uq_exchange_rates_pair"),
        CheckConstraint("rate > 0", name="ck_exchange_rates_rate"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    from_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    to_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal(12, 6), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class NotificationLog(Base):
    """One row per expiry notice per channel: (vps, threshold, expire date, channel) is sent
    at most once. A row is claimed (sent_at NULL) before sending and confirmed after; a failed
    send deletes its claim, so the next run retries. threshold -1 means "overdue"."""

    __tablename__ = "notification_log"
    __table_args__ = (
        UniqueConstraint(
            "vps_id", "threshold", "expire_date", "channel", name="uq_notification_log_key"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vps_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("vps.id", ondelete="CASCADE"), nullable=False
    )
    threshold: Mapped[int] = mapped_column(Integer, nullable=False)
    expire_date: Mapped[date] = mapped_column(Date, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


