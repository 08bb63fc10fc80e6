"""A VPS's billing and traffic over time: the renewals paid (vps_renewals) and the traffic of
each billing period (vps_traffic). Both go with their VPS (ON DELETE CASCADE: a purge takes
them; the timeline of services.history keeps what happened)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, SmallInteger, String, Text, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table
from sigma.db.types import ExactDecimal, UtcDateTime, utcnow


class VpsRenewal(Table, table=True):
    """One renewal: expire_date moved from `expire_before` to `expire_after` by `cycles`
    cycles of `billing_cycle`, paid `amount` (cost_monthly x the months of those cycles; None
    without a monthly cost) on `paid_on` (the old expiry for an automatic renewal, the day of
    a manual one). The cost reports sum them per month."""

    __tablename__ = "vps_renewals"
    __table_args__ = (
        Index("idx_vps_renewals_vps", "vps_id", "paid_on"),
        Index("idx_vps_renewals_paid", "paid_on"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", nullable=False
    )
    paid_on: date = Field(sa_type=Date, nullable=False)
    cycles: int = Field(default=1, sa_type=Integer, nullable=False)
    billing_cycle: str = Field(sa_type=Text, nullable=False)
    expire_before: date = Field(sa_type=Date, nullable=False)
    expire_after: date = Field(sa_type=Date, nullable=False)
    amount: Decimal | None = Field(default=None, sa_type=ExactDecimal(14, 2))
    currency: str = Field(default="USD", sa_type=String(3), nullable=False)
    automatic: bool = Field(default=False, sa_type=Boolean, nullable=False)
    actor: str = Field(default="", sa_type=Text, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class VpsTraffic(Table, table=True):
    """The traffic of one VPS in one billing period (from `period_start`, a reset day, to the
    next one), accumulated from the agent's cumulative interface counters: `last_rx` and
    `last_tx` are the counters of the latest report, and each report adds what they grew by
    (a counter that went backwards was reset, by a reboot or a wrap: its whole value is new
    traffic). `alerted` is the highest quota threshold already recorded in the timeline for
    this period, `alerted_before` what it was before the latest report (so that one
    statement can tell which thresholds that report crossed)."""

    __tablename__ = "vps_traffic"

    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", primary_key=True
    )
    period_start: date = Field(sa_type=Date, primary_key=True)
    bytes_in: int = Field(default=0, sa_type=BigInteger, nullable=False)
    bytes_out: int = Field(default=0, sa_type=BigInteger, nullable=False)
    last_rx: int = Field(default=0, sa_type=BigInteger, nullable=False)
    last_tx: int = Field(default=0, sa_type=BigInteger, nullable=False)
    alerted: int = Field(default=0, sa_type=SmallInteger, nullable=False)
    alerted_before: int = Field(default=0, sa_type=SmallInteger, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
