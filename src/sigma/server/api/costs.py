"""/api/exchange-rates and /api/costs."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.common import Deleted, Page, validate
from sigma.schemas.costs import (
    CostQuery,
    CostSummary,
    ExchangeRate,
    ExchangeRateCreate,
    ExchangeRateUpdate,
    MonthlyCosts,
)
from sigma.server.deps import ActorDep, rule, run
from sigma.services import costs

router = APIRouter(tags=["costs"])


@router.get("/api/exchange-rates", response_model=Page[ExchangeRate], openapi_extra=rule("any"))
def list_rates(
    request: Request,
    actor: ActorDep,
    from_currency: str | None = Query(None),
    to_currency: str | None = Query(None),
    page: int = Query(1),
    per_page: int = Query(25),
):
    return run(request, costs.list_rates, actor, from_currency, to_currency, page, per_page)


@router.post("/api/exchange-rates", response_model=ExchangeRate, openapi_extra=rule("op"))
def set_rate(request: Request, actor: ActorDep, data: ExchangeRateCreate):
    """Upsert on the (from, to) pair: an existing pair keeps its id."""
    return run(request, costs.set_rate, actor, data)


@router.get("/api/exchange-rates/{ref}", response_model=ExchangeRate, openapi_extra=rule("any"))
def get_rate(request: Request, actor: ActorDep, ref: str):
    """`ref`: the rate's id, or its pair such as EUR-USD."""
    return run(request, costs.get_rate, actor, ref)


@router.put("/api/exchange-rates/{ref}", response_model=ExchangeRate, openapi_extra=rule("op"))
def update_rate(request: Request, actor: ActorDep, ref: str, data: ExchangeRateUpdate):
    return run(request, costs.update_rate, actor, ref, data)


@router.delete("/api/exchange-rates/{ref}", response_model=Deleted, openapi_extra=rule("op"))
def delete_rate(request: Request, actor: ActorDep, ref: str):
    run(request, costs.delete_rate, actor, ref)
    return Deleted()


CONVERT_HELP = (
    "convert to the server's base_currency (echoed as base_currency) when convert_to is not "
    "given; without either, totals stay per currency"
)


def _query(**raw) -> CostQuery:
    return validate(CostQuery, {k: v for k, v in raw.items() if v not in (None, "")})


@router.get("/api/costs/summary", response_model=CostSummary, openapi_extra=rule("any"))
def cost_summary(
    request: Request,
    actor: ActorDep,
    provider_id: str | None = Query(None),
    country: str | None = Query(None),
    status: str | None = Query(
        None, description="only this status (retired VPS are excluded otherwise)"
    ),
    convert_to: str | None = Query(None, description="currency for converted_total"),
    convert: bool = Query(False, description=CONVERT_HELP),
    by: str | None = Query(None, description="also group by provider, country or purpose"),
    include_retired: bool = Query(False),
):
    q = _query(
        provider_id=provider_id,
        country=country,
        status=status,
        convert_to=convert_to,
        convert=convert,
        by=by,
        include_retired=include_retired,
    )
    return run(request, costs.summary, actor, q)


@router.get("/api/costs/monthly", response_model=MonthlyCosts, openapi_extra=rule("any"))
def cost_monthly(
    request: Request,
    actor: ActorDep,
    months: int = Query(12, description="1 to 120"),
    provider_id: str | None = Query(None),
    country: str | None = Query(None),
    convert_to: str | None = Query(None, description="currency for converted_total"),
    convert: bool = Query(False, description=CONVERT_HELP),
    by: str | None = Query(None, description="also group by provider, country or purpose"),
    include_retired: bool = Query(False),
):
    q = _query(
        months=months,
        provider_id=provider_id,
        country=country,
        convert_to=convert_to,
        convert=convert,
        by=by,
        include_retired=include_retired,
    )
    return run(request, costs.monthly, actor, q)
