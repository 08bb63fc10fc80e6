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
