"""Stats, exchange rates, costs, import/export reports and expiry notices (issue 4): loaded on
first use through sigma.schemas."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from sigma.schemas import (
    BaseModel,
    Country,
    Currency,
    Input,
    Output,
    Status,
    Timestamp,
    Vps,
    _currency,
    _decimal,
    _one_of,
)

# ---- derived from the inventory: stats, exchange rates, costs, import/export, notices (issue 4)


def _plain_decimal(v: Decimal) -> str:
    """An exact decimal as a plain string (never exponent notation): '53.5800000'."""
    return format(v, "f")


ExactAmount = Annotated[Decimal, PlainSerializer(_plain_decimal, return_type=str)]


def _positive(v: Decimal) -> Decimal:
    if v <= 0:
        raise ValueError("must be greater than 0")
    return v


PositiveRate = Annotated[
    Decimal,
    BeforeValidator(_decimal(6, 12)),
    AfterValidator(_positive),
    PlainSerializer(lambda v: f"{v:.6f}", return_type=str),
]


class CountBy(BaseModel):
    label: str
    count: int


class Stats(BaseModel):
    total_vps: int
    active_vps: int
    total_providers: int
    by_country: list[CountBy]
    by_provider: list[CountBy]
    by_status: list[CountBy]
    expiring_soon: list[Vps]


class ExchangeRate(Output):
    id: UUID
    from_currency: str
    to_currency: str
    rate: PositiveRate
    updated_at: Timestamp


class ExchangeRateCreate(Input):
    from_currency: Currency
    to_currency: Currency
    rate: PositiveRate

    @field_validator("to_currency", mode="after")
    @classmethod
    def _distinct(cls, to: str, info: ValidationInfo) -> str:
        if info.data.get("from_currency") == to:
            raise ValueError(f"a rate from {to} to itself is always 1")
        return to


class ExchangeRateUpdate(Input):
    rate: PositiveRate


COST_GROUPINGS = ("provider", "country", "purpose")


def _grouping(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return _one_of(value, COST_GROUPINGS, "grouping")


class CostQuery(Input):
    provider_id: UUID | None = None
    country: Country | None = None
    status: Status | None = None
    convert_to: Annotated[str | None, BeforeValidator(lambda v: None if v in (None, "") else _currency(v))] = None
    by: Annotated[str | None, BeforeValidator(_grouping)] = None
    months: int = 12
    include_retired: bool = False

    @field_validator("months", mode="after")
    @classmethod
    def _months(cls, v: int) -> int:
        return min(max(v, 1), 120)

    @field_validator("country", mode="before")
    @classmethod
    def _empty_country(cls, v: Any) -> Any:
        return None if v == "" else v


class CurrencyTotal(BaseModel):
    currency: str
    vps_count: int
    total_cost: ExactAmount


class RateUsed(BaseModel):
    from_currency: str
    to_currency: str
    rate: ExactAmount
    inverse: bool  # True: only to->from was stored, its inverse was applied


class ConvertedTotal(BaseModel):
    currency: str
    amount: ExactAmount
    rates: list[RateUsed] = Field(default_factory=list)


class CostGroup(BaseModel):
    key: str
    per_currency: list[CurrencyTotal]
    converted_total: ConvertedTotal | None = None


class CostSummary(BaseModel):
    per_currency: list[CurrencyTotal]
    converted_total: ConvertedTotal | None = None
    by: str | None = None
    groups: list[CostGroup] | None = None


class CostMonth(BaseModel):
    month: date
    per_currency: list[CurrencyTotal]
    converted_total: ConvertedTotal | None = None
    groups: list[CostGroup] | None = None


class MonthlyCosts(BaseModel):
    months: list[CostMonth]
    by: str | None = None


TRANSFER_FORMATS = ("csv", "json", "yaml")


def _transfer_format(value: Any) -> str:
    v = _one_of(value, (*TRANSFER_FORMATS, "yml"), "format")
    return "yaml" if v == "yml" else v


TransferFormat = Annotated[str, BeforeValidator(_transfer_format)]


class ImportRequest(Input):
    format: TransferFormat = "json"
    data: str
    dry_run: bool = False


class ImportRowError(BaseModel):
    line: int  # line of the file where the record starts (1-based)
    record: int  # 1-based record number (data rows, not counting a CSV header)
    field: str | None = None
    reason: str


class ImportReport(BaseModel):
    kind: str  # vps or providers
    format: str
    dry_run: bool
    total: int
    created: int
    updated: int
    unchanged: int
    imported: int  # created + updated (the contract's field)
    errors: list[ImportRowError] = Field(default_factory=list)


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


