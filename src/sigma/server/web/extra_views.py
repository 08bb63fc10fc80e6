"""Costs and IP reachability pages, over the cost and ip-check services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from sigma.errors import InvalidInput
from sigma.server.web import charts
from sigma.server.web.core import WebDep, WebRoute, call, field_errors, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/costs")
def costs_page(request: Request, web: WebDep):
    from sigma.schemas.common import validate
    from sigma.schemas.costs import COST_GROUPINGS, CostQuery
    from sigma.services import costs

    q = request.query_params
    raw: dict[str, Any] = {
        "convert_to": q.get("convert_to") or None,
        "by": q.get("by") or None,
        "months": q.get("months") or 12,
    }
    errors: dict[str, str] = {}
    try:
        query = validate(CostQuery, {k: v for k, v in raw.items() if v is not None})
    except InvalidInput as exc:
        errors = field_errors(exc)
        query = CostQuery()
    error = None
    try:
        summary = call(request, costs.summary, query)
        monthly = call(request, costs.monthly, query)
    except InvalidInput as exc:  # e.g. a missing exchange rate: the message names the pair
        error = exc.message
        query = query.model_copy(update={"convert_to": None})
        summary = call(request, costs.summary, query)
        monthly = call(request, costs.monthly, query)
    # the monthly chart: the converted total when there is one, else the main currency
    series: list[tuple[str, float]] = []
    unit = query.convert_to
    if not unit and summary.per_currency:
        unit = max(summary.per_currency, key=lambda c: c.total_cost).currency
    for m in sorted(monthly.months, key=lambda m: m.month):
        if m.converted_total is not None:
            amount = m.converted_total.amount
        else:
            amount = next((c.total_cost for c in m.per_currency if c.currency == unit), 0)
        series.append((m.month.strftime("%b %y"), float(amount)))
    return render(
        request,
        "costs.html",
        summary=summary,
        monthly=monthly,
        groupings=COST_GROUPINGS,
        chart=charts.bar_chart(series, f"Monthly cost in {unit or '-'}", mono=True),
        unit=unit,
        error=error,
        errors=errors,
    )


@router.get("/reachability")
def reachability_page(request: Request, web: WebDep):
    from sigma.services import ip_checks
    from sigma.vocab import VERDICTS

    verdict = request.query_params.get("verdict") or None
    rows = call(request, ip_checks.status, None, verdict if verdict in VERDICTS else None)
    sources = sorted(
        {s for r in rows for s in r.sources}, key=lambda s: (not ip_checks.is_china(s), s)
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return render(
        request, "reachability.html", rows=rows, sources=sources, verdicts=VERDICTS, counts=counts
    )
