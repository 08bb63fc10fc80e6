"""Renewals and replacement of VPS (issue 16, part B): what `renew` and `replace` take and
answer. The billing and traffic fields themselves are on the VPS (schemas.inventory)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from sigma.schemas.common import BaseModel, Input, Money, Output, Timestamp
from sigma.schemas.inventory import Vps, VpsCreate

MAX_RENEW_CYCLES = 120


class RenewRequest(Input):
    """POST /api/vps/{ref}/renew: move expire_date forward by `cycles` whole cycles."""

    cycles: Annotated[int, Field(ge=1, le=MAX_RENEW_CYCLES)] = 1

    @model_validator(mode="before")
    @classmethod
    def _whole(cls, data: Any) -> Any:
        # 1.5 cycles is not a number of cycles (pydantic would take 2.0 as 2, and True as 1)
        if isinstance(data, dict):
            v = data.get("cycles")
            if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
                raise ValueError("cycles: must be a whole number of cycles from 1")
        return data


class Renewal(Output):
    """One renewal (db.models.lifecycle.VpsRenewal)."""

    id: UUID
    vps_id: UUID
    paid_on: date
    cycles: int
    billing_cycle: str
    expire_before: date
    expire_after: date
    amount: Money
    currency: str
    automatic: bool
    actor: str
    created_at: Timestamp


MAX_RENEWAL_WINDOW_DAYS = 366


class UpcomingRenewal(BaseModel):
    """A VPS whose expiry falls in the window: what renewing it once costs."""

    vps_id: UUID
    hostname: str
    status: str
    expire_date: date
    days_left: int
    billing_cycle: str
    auto_renew: bool
    amount: Money | None  # one cycle; None without a monthly cost
    currency: str


class RenewalTotal(BaseModel):
    currency: str
    vps_count: int
    amount: Money  # of the VPS with a cost
    without_cost: int


class UpcomingRenewals(BaseModel):
    """GET /api/vps/renewals: the renewals due by `until` (overdue included), soonest
    first, with the total per currency."""

    within_days: int
    until: date
    items: list[UpcomingRenewal]
    totals: list[RenewalTotal]
    count: int = 0  # every renewal due; `items` may hold only the first ones (the web page)


class RenewResult(BaseModel):
    """What a renewal did: the VPS as it is now, and the renewal recorded."""

    vps: Vps
    renewal: Renewal


class ReplaceRequest(Input):
    """POST /api/vps/{ref}/replace: `with` an existing VPS (id, id prefix or hostname), or
    `new`, the fields of a VPS to create; what the new one inherits from the old one."""

    model_config = ConfigDict(populate_by_name=True)

    with_vps: Annotated[str | None, Field(alias="with", max_length=253)] = None
    new: VpsCreate | None = None
    inherit_purpose: bool = True
    inherit_tags: bool = True
    inherit_monitoring: bool = True
    inherit_tickets: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> ReplaceRequest:
        if (self.with_vps is None) == (self.new is None):
            raise ValueError(
                "with: give either `with` (an existing VPS) or `new` (the VPS to create)"
            )
        return self


class ReplaceResult(BaseModel):
    """Both VPS after the replacement, what the new one inherited, and the tickets moved."""

    old: Vps
    new: Vps
    created: bool
    inherited: list[str]
    tickets_moved: list[UUID] = Field(default_factory=list)
