"""Exchange rates, for cost reports in one currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, String, UniqueConstraint, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table
from sigma.db.types import ExactDecimal, UtcDateTime, utcnow


class ExchangeRate(Table, table=True):
    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("from_currency", "to_currency", name="uq_exchange_rates_pair"),
        CheckConstraint("rate > 0", name="ck_exchange_rates_rate"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    from_currency: str = Field(sa_type=String(3), nullable=False)
    to_currency: str = Field(sa_type=String(3), nullable=False)
    rate: Decimal = Field(sa_type=ExactDecimal(12, 6), nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_type=UtcDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )
