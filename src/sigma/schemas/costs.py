"""Exchange rates and cost reports: totals per currency, per group and per month, converted
exactly (decimal strings, never floats)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
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

from sigma.schemas.common import (
    BaseModel,
    Country,
    Currency,
    Input,
    Output,
    Status,
    Timestamp,
    currency_code,
    decimal_parser,
    one_of,
)


def _plain_decimal(v: Decimal) -> str:
    """An exact decimal as a plain string (never exponent notation): '53.5800000'."""
    return format(v, "f")


ExactAmount = Annotated[Decimal, PlainSerializer(_plain_decimal, return_type=str)]

MONEY = Decimal("0.01")


def display_amount(value: Decimal | str | int) -> Decimal:
    """An amount as shown to people (tables, the web page, `rounded_amount`): 2 decimals,
    ROUND_HALF_EVEN (banker's rounding, so halves do not drift a sum upwards). Exact amounts
    are kept everywhere else; this is the only rounding to 2 places."""
    return Decimal(value).quantize(MONEY, rounding=ROUND_HALF_EVEN)


def _positive(v: Decimal) -> Decimal:
    if v <= 0:
        raise ValueError("must be greater than 0")
    return v


PositiveRate = Annotated[
    Decimal,
    BeforeValidator(decimal_parser(6, 12)),
    AfterValidator(_positive),
    PlainSerializer(lambda v: f"{v:.6f}", return_type=str),
]


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
    return one_of(value, COST_GROUPINGS, "grouping")


class CostQuery(Input):
    provider_id: UUID | None = None
    country: Country | None = None
    status: Status | None = None
    convert_to: Annotated[
        str | None, BeforeValidator(lambda v: None if v in (None, "") else currency_code(v))
    ] = None
    # convert to the base currency (the `base_currency` setting) when convert_to is not given
    convert: bool = False
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


class Conversion(BaseModel):
    """How one currency's total was converted: straight, or through a pivot currency `via`."""

    from_currency: str
    amount: ExactAmount  # in from_currency
    converted: ExactAmount  # in the target currency, 8 places
    via: str | None = None


class ConvertedTotal(BaseModel):
    currency: str
    amount: ExactAmount
    rates: list[RateUsed] = Field(default_factory=list)
    # added fields (the ones above keep their meaning): `amount` rounded for display, and
    # each currency's conversion
    rounded_amount: ExactAmount | None = None
    conversions: list[Conversion] = Field(default_factory=list)


class CostGroup(BaseModel):
    key: str
    per_currency: list[CurrencyTotal]
    converted_total: ConvertedTotal | None = None


class CostSummary(BaseModel):
    per_currency: list[CurrencyTotal]
    converted_total: ConvertedTotal | None = None
    by: str | None = None
    groups: list[CostGroup] | None = None
    base_currency: str | None = None  # the base where the report was made (setting)


class CostMonth(BaseModel):
    month: date
    per_currency: list[CurrencyTotal]
    converted_total: ConvertedTotal | None = None
    groups: list[CostGroup] | None = None
    # added (issue 16): the renewals paid in the month (vps_renewals by paid_on, whatever
    # the VPS's status now), per currency (vps_count: the VPS renewed), and converted as
    # the running costs are
    renewals: list[CurrencyTotal] = Field(default_factory=list)
    renewals_converted_total: ConvertedTotal | None = None


class MonthlyCosts(BaseModel):
    months: list[CostMonth]
    by: str | None = None
    base_currency: str | None = None  # the base where the report was made (setting)
