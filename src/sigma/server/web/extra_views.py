"""Costs (reports in a base currency, exchange-rate management) and IP reachability pages,
over the cost and ip-check services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request

from sigma.errors import InvalidInput, PermissionDenied
from sigma.server.web import charts
from sigma.server.web.core import (
    FORM_ERROR_STATUS,
    FormDep,
    Redirect,
    WebDep,
    WebRoute,
    call,
    field_errors,
    render,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _money(value: Any) -> str:
    """An amount for people: 2 decimals, ROUND_HALF_EVEN (schemas.costs.display_amount),
    thousands separated."""
    from sigma.schemas.costs import display_amount

    return f"{display_amount(value):,.2f}"


def _costs_page(
    request: Request,
    status: int = 200,
    rate_values: dict[str, str] | None = None,
    rate_errors: dict[str, str] | None = None,
):
    from sigma.schemas.common import validate
    from sigma.schemas.costs import COST_GROUPINGS, CostQuery
    from sigma.services import billing, costs

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
    # no currency chosen: the base currency (the setting), decided by the service
    query = query.model_copy(update={"convert": True})
    error: str | None = None
    missing: list[dict[str, str]] = []
    report = call(request, costs.overview, query)
    summary, monthly = report.summary, report.monthly
    if report.error is not None:  # a currency without a path: the message names the pairs
        error = report.error.message
        if isinstance(report.error.details, dict):
            missing = report.error.details.get("missing") or []
    base = query.convert_to or summary.base_currency
    # the monthly chart: each month's total in the base currency, oldest first
    series = [
        (m.month.strftime("%b %y"), m.converted_total.amount)
        for m in sorted(monthly.months, key=lambda m: m.month)
        if m.converted_total is not None
    ]
    chart = (
        charts.bar_chart(series, f"Monthly cost in {base}", mono=True, fmt=_money)
        if error is None
        else None
    )
    rates: list[Any] = []
    page = 1
    while True:  # every rate (a handful in practice), 100 a page
        result = call(request, costs.list_rates, None, None, page, 100)
        rates += result.data
        if not result.data or len(rates) >= result.total:
            break
        page += 1
    currencies = report.currencies
    renewals = call(request, billing.upcoming, 7, None, RENEWALS_SHOWN)
    if rate_values is None:  # ?rate_from=&rate_to= prefill the form (edit, a missing pair)
        rate_values = {
            "from_currency": (q.get("rate_from") or "")[:3],
            "to_currency": (q.get("rate_to") or "")[:3],
            "rate": "",
        }
    return render(
        request,
        "costs.html",
        status=status,
        summary=summary,
        monthly=monthly,
        groupings=COST_GROUPINGS,
        chart=chart,
        base=base,
        currencies=currencies,
        converted={
            c.from_currency: c.converted
            for c in (summary.converted_total.conversions if summary.converted_total else [])
        },
        money=_money,
        error=error,
        missing=missing,
        errors=errors,
        rates=rates,
        renewals=renewals,
        rate_values=rate_values,
        rate_errors=rate_errors or {},
    )


@router.get("/costs")
def costs_page(request: Request, web: WebDep):
    return _costs_page(request)


def _writer(web: Any) -> None:
    if not web.can_write:
        raise PermissionDenied("Your role can only read the exchange rates.")


@router.post("/costs/rates")
def rate_save(request: Request, web: WebDep, form: FormDep):
    """Add a rate, or replace the rate of an existing pair (post/redirect/get)."""
    from sigma.services import costs

    _writer(web)
    values = {k: str(form.get(k) or "").strip() for k in ("from_currency", "to_currency", "rate")}
    try:
        call(request, costs.set_rate, values)
    except InvalidInput as exc:
        return _costs_page(request, FORM_ERROR_STATUS, values, field_errors(exc))
    raise Redirect("/costs?flash=rate-saved#rates")


@router.post("/costs/rates/{ref}/delete")
def rate_delete(request: Request, web: WebDep, ref: str, form: FormDep):
    from sigma.services import costs

    _writer(web)
    r = call(request, costs.get_rate, ref)
    if form.get("confirmed") != "yes":
        return render(
            request,
            "confirm.html",
            title=f"Delete the exchange rate {r.from_currency} → {r.to_currency}?",
            action=f"/costs/rates/{r.id}/delete",
            message="Reports that convert through this rate will need another one.",
            button="Delete",
            back="/costs#rates",
            danger=True,
        )
    call(request, costs.delete_rate, r.id)
    raise Redirect("/costs?flash=rate-deleted#rates")


RENEWALS_SHOWN = 50  # rows of the costs page's renewals: the totals count them all

# the fleet chart's spans: (span, tick label format)
FLEET_SPANS = {
    "24h": (timedelta(hours=24), "%H:%M"),
    "7d": (timedelta(days=7), "%m-%d"),
    "30d": (timedelta(days=30), "%m-%d"),
}


@router.get("/reachability")
def reachability_page(request: Request, web: WebDep):
    """One page of (VPS, IP) verdicts, problems first, with the verdict filter and why; the
    probe registry with each probe's health below."""
    from sigma.db.types import utcnow
    from sigma.schemas.monitoring import FleetHistoryQuery
    from sigma.services import check_history, ip_checks, probes, reach_alerts
    from sigma.vocab import VERDICT_URGENCY, VERDICTS

    q = request.query_params
    verdict = q.get("verdict") or None
    try:
        page = max(int(q.get("page") or 1), 1)
    except ValueError:
        page = 1
    per_page = int(q["per_page"]) if q.get("per_page") in ("25", "50", "100") else 25
    result = call(
        request,
        ip_checks.status_page,
        verdict if verdict in VERDICTS else None,
        page,
        per_page,
    )
    span_name = q.get("span") or "24h"
    span_name = span_name if span_name in FLEET_SPANS else "24h"
    span, tick_format = FLEET_SPANS[span_name]
    # the charts draw each source's ICMP series (else its first): ICMP alone when there is
    # one, a third of the points
    since = utcnow() - span
    fleet = call(request, check_history.fleet_history, FleetHistoryQuery(since=since, check="icmp"))
    if not fleet.series:
        fleet = call(request, check_history.fleet_history, FleetHistoryQuery(since=since))
    fleet_charts = [
        charts.per_source(fleet, span, "Fleet latency per probe source", tick_format=tick_format),
        charts.per_source(
            fleet,
            span,
            "Checks passed per probe source",
            value="ok_pct",
            unit=" %",
            tick_format=tick_format,
        ),
    ]
    china = {s: v.china for r in result.data for s, v in r.sources.items()}
    sources = sorted(china, key=lambda s: (not china[s], s))
    carriers = {s: v.carrier for r in result.data for s, v in r.sources.items() if v.carrier}
    return render(
        request,
        "reachability.html",
        result=result,
        rows=result.data,
        sources=sources,
        carriers=carriers,
        fleet_charts=fleet_charts,
        fleet_spans=FLEET_SPANS,
        span=span_name,
        probes=call(request, probes.list_probes),
        alerts=call(request, reach_alerts.list_alerts),
        window=request.app.state.settings.alert_window_minutes,
        verdicts=VERDICT_URGENCY,
        counts=result.counts,
        page_sizes=(25, 50, 100),
        per_page=per_page,
    )
