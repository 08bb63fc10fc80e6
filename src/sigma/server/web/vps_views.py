"""Dashboard, VPS list / detail / form, retire and delete, import and export."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from sigma.errors import InvalidInput, NotAuthenticated, SigmaError
from sigma.schemas.common import validate
from sigma.schemas.identity import AuditFilter
from sigma.schemas.inventory import VpsCreate, VpsFilter, VpsUpdate
from sigma.schemas.tickets import TicketFilter
from sigma.server.web import charts
from sigma.server.web.core import (
    FORM_ERROR_STATUS,
    PROJECTS,
    FormDep,
    Redirect,
    WebDep,
    WebRoute,
    call,
    field_errors,
    render,
    show_once,
    signed_in,
)
from sigma.services import agents, attention, audit, providers, stats, tickets, transfer, vps
from sigma.vocab import (
    AGENT_STATES,
    BILLING_CYCLES,
    DEFAULT_BILLING_CYCLE,
    DEFAULT_TRAFFIC_DIRECTION,
    DUE_SOON_DAYS,
    IP_LABELS,
    TRAFFIC_THRESHOLDS,
    VPS_PURPOSES,
    VPS_SORT_FIELDS,
    VPS_STATUSES,
    days_until,
    expiry_state,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# JSON for the pages' scripts: an expired session is a 401 (the script stops), not a redirect
json_router = APIRouter(include_in_schema=False)
PROJECT_TAGS = {t for t, _ in PROJECTS}
FORM_STATUSES = VPS_STATUSES[:4]
FORM_PURPOSES = tuple(p for p in VPS_PURPOSES if p and p != "other")
# what a traffic quota counts (vocab.TRAFFIC_DIRECTIONS), as the form names it
TRAFFIC_DIRECTION_NAMES = (
    ("sum", "In + out"),
    ("out", "Out (sent)"),
    ("in", "In (received)"),
    ("max", "The larger of in and out"),
)


# ------------------------------------------------------------------ dashboard


DASHBOARD_EXPIRING = 20  # rows of the dashboard's "expiring within 14 days" table
LISTINGS = {
    "vps": "/vps",
    "reachability": "/reachability",
    "tickets": "/tickets",
    "probes": "/reachability#probes",
    "alerts": "/reachability#alerts",
}


def _attention_items(a: Any) -> list[dict[str, Any]]:
    """The strip's items, each with the link to the listing filtered as the count was."""
    return [
        {
            "kind": i.kind,
            "label": i.label,
            "count": i.count,
            "href": LISTINGS[i.listing] + ("?" + urlencode(i.query) if i.query else ""),
        }
        for i in a.items
    ]


DASHBOARD_ITEMS = 25  # attention items the dashboard shows before "Show all"
SNOOZE_CHOICES = (("4h", "4 hours"), ("1d", "1 day"), ("7d", "7 days"))


@router.get("/")
def dashboard(request: Request, web: WebDep):
    q = request.query_params
    handled = q.get("handled") == "1"
    every = q.get("attention") == "all"  # then a page of 100 at a time (`apage`)
    try:
        apage = max(int(q.get("apage") or 1), 1) if every else 1
    except ValueError:
        apage = 1
    alist = call(
        request,
        attention.list_page,
        None,
        None,
        None,
        handled,
        apage,
        100 if every else DASHBOARD_ITEMS,
    )
    s = call(request, stats.stats, None, DASHBOARD_EXPIRING)
    needs = _attention_items(call(request, attention.attention))

    def pairs(counts) -> list[tuple[str, int]]:
        return [(c.label, c.count) for c in counts]

    return render(
        request,
        "dashboard.html",
        stats=s,
        attention=needs,
        alist=alist,
        handled=handled,
        every=every,
        snooze_choices=SNOOZE_CHOICES,
        expiring=[_expiry(v) | {"v": v} for v in s.expiring_soon],
        expiring_limit=DASHBOARD_EXPIRING,
        country_chart=charts.bar_chart(pairs(s.by_country), "VPS by country"),
        status_chart=charts.pie_chart(pairs(s.by_status), "VPS by status"),
        provider_chart=charts.hbar_chart(pairs(s.by_provider), "VPS by provider"),
    )


@json_router.get("/attention.json")
def attention_json(request: Request):
    """The dashboard's attention counts, polled by app.js every minute."""
    try:
        signed_in(request)
    except Redirect:  # must change the password first: nothing to show until then
        raise NotAuthenticated("Change your password first.") from None
    items = _attention_items(call(request, attention.attention))
    return JSONResponse({"items": items}, headers={"Cache-Control": "no-store"})


def _attention_act(request: Request, web: Any, form: FormData, fn: Any, *args: Any) -> Any:
    """Acknowledge, snooze or reopen one item from the dashboard, then back to it; an item
    that no longer needs attention is said so, not an error page."""
    from sigma.errors import NotFound

    if not web.can_write:
        raise_forbidden()
    back = "/?handled=1" if form.get("handled") == "1" else "/"
    try:
        call(request, fn, str(form.get("key") or ""), *args)
    except NotFound:
        raise Redirect(_with_flash(back, "attention-gone") + "#attention-list") from None
    return back


@router.post("/attention/ack")
def attention_ack(request: Request, web: WebDep, form: FormDep):
    back = _attention_act(request, web, form, attention.ack, str(form.get("note") or "") or None)
    raise Redirect(_with_flash(back, "attention-acked") + "#attention-list")


@router.post("/attention/snooze")
def attention_snooze(request: Request, web: WebDep, form: FormDep):
    back = _attention_act(
        request,
        web,
        form,
        attention.snooze,
        str(form.get("until") or ""),
        str(form.get("note") or "") or None,
    )
    raise Redirect(_with_flash(back, "attention-snoozed") + "#attention-list")


@router.post("/attention/unack")
def attention_unack(request: Request, web: WebDep, form: FormDep):
    back = _attention_act(request, web, form, attention.unack)
    raise Redirect(_with_flash(back, "attention-reopened") + "#attention-list")


# ------------------------------------------------------------------ list


def _agent(v: Any) -> dict[str, Any] | None:
    """The agent dot: its liveness as the service computed it, and when it last reported."""
    if v.online is None:
        return None
    return {"online": v.online, "last": (v.extra or {}).get("last_heartbeat")}


LIST_FILTERS = (
    "status",
    "purpose",
    "provider_id",
    "country",
    "search",
    "expiry",
    "agent",
    "ip",
    "expiring_within_days",
    "over_quota",
)
PAGE_SIZES = (25, 50, 100)
# the first click on a column header: amounts and dates biggest / newest first
FIRST_DIRECTION = {"cost": "desc", "created": "desc"}


def _expiry(v: Any) -> dict[str, Any]:
    """The expiry cell: overdue / due soon (vocab.expiry_state) and the days left."""
    return {"expiry": expiry_state(v.expire_date, v.status), "days": days_until(v.expire_date)}


def _page_size(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) in PAGE_SIZES else PAGE_SIZES[0]


def _sort(q: Any) -> tuple[str | None, str]:
    """?sort=FIELD&dir=asc|desc as (FIELD:DIR for VpsFilter, dir); an unknown field or
    direction is an InvalidInput naming the allowed values (a 422 page)."""
    field = (q.get("sort") or "").strip().lower()
    direction = (q.get("dir") or "").strip().lower()
    if not field:
        return None, ""
    direction = direction or FIRST_DIRECTION.get(field, "asc")
    return validate(VpsFilter, {"sort": f"{field}:{direction}"}).sort, direction


@router.get("/vps")
def vps_list(request: Request, web: WebDep):
    q = request.query_params
    raw = {k: q.get(k) for k in LIST_FILTERS}
    raw = {k: v for k, v in raw.items() if v}
    tags = [t for t in (q.get("tag") or "").replace(",", " ").split() if t]
    errors: dict[str, str] = {}
    try:
        page = max(int(q.get("page") or 1), 1)
    except ValueError:
        page = 1
    per_page = _page_size(q.get("per_page"))
    sort, direction = _sort(q)
    paging = {"page": page, "per_page": per_page, "sort": sort}
    try:
        f = validate(VpsFilter, {**raw, "tag": tags, **paging})
    except InvalidInput as exc:
        errors = field_errors(exc)
        f = validate(VpsFilter, paging)
    result = call(request, vps.list_vps, f)
    all_providers = call(request, providers.all_providers)
    names = {p.id: p.name for p in all_providers}
    rows = [
        {
            "v": v,
            "provider": names.get(v.provider_id, "") if v.provider_id else "",
            "agent": _agent(v),
            **_expiry(v),
        }
        for v in result.data
    ]
    sort_field = sort.partition(":")[0] if sort else ""
    return render(
        request,
        "vps_list.html",
        result=result,
        rows=rows,
        providers=all_providers,
        statuses=VPS_STATUSES,
        purposes=FORM_PURPOSES,
        agent_states=AGENT_STATES,
        traffic_thresholds=TRAFFIC_THRESHOLDS,
        due_soon_days=DUE_SOON_DAYS,
        errors=errors,
        page_sizes=PAGE_SIZES,
        per_page=per_page,
        sort_field=sort_field,
        sort_dir=direction,
        sort_fields=VPS_SORT_FIELDS,
        first_direction=FIRST_DIRECTION,
        back=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )


# ------------------------------------------------------------------ bulk actions


def _back(form: FormData) -> str:
    """The list to return to (its filters, sort and page), never another site."""
    back = str(form.get("back") or "")
    return back if back.startswith("/vps") and not back.startswith("//") else "/vps"


@router.post("/vps/bulk")
def vps_bulk(request: Request, web: WebDep, form: FormDep):
    """Retire, tag or export the VPS ticked on the list (or every VPS of the page). Each
    change goes through the VPS services once per VPS, in one transaction: all or nothing;
    then post/redirect/get back to the same list with the counts."""
    if not web.can_write:
        raise_forbidden()
    action = str(form.get("action") or "")
    if form.get("scope") == "page":
        ids = [str(i) for i in form.getlist("page_id")]
    else:
        ids = [str(i) for i in form.getlist("id")]
    back = _back(form)
    if action not in ("retire", "tag", "export"):
        raise InvalidInput("action: retire, tag or export", field="action")
    if not ids:
        raise Redirect(_with_flash(back, "bulk-none"))
    if action == "export":
        body = call(request, transfer.export_vps, "csv", ids)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="vps-selected.csv"'},
        )
    if action == "retire":
        if not _confirmed(form):
            return render(
                request,
                "confirm.html",
                title=f"Retire {len(ids)} VPS?",
                action="/vps/bulk",
                message="Their status becomes retired and monitoring is turned off. The records "
                "are kept.",
                button="Retire",
                back=back,
                hidden=[("action", "retire"), ("back", back)] + [("id", i) for i in ids],
            )
        result = call(request, vps.bulk_retire, ids)
        key = "bulk-retired"
    else:
        result = call(request, vps.bulk_add_tag, ids, str(form.get("tag") or ""))
        key = "bulk-tagged"
    raise Redirect(_with_flash(back, key, n=result.changed, of=result.selected))


# ------------------------------------------------------------------ export / import


KINDS = {"vps": "VPS", "providers": "providers"}


@router.get("/vps/export.{fmt}")
def vps_export(request: Request, web: WebDep, fmt: str):
    return _export(request, "vps", fmt)


@router.get("/providers/export.{fmt}")
def providers_export(request: Request, web: WebDep, fmt: str):
    return _export(request, "providers", fmt)


def _export(request: Request, kind: str, fmt: str) -> Response:
    if fmt not in ("csv", "json"):
        raise InvalidInput("format: csv or json", field="format")
    body = call(request, transfer.export_vps if kind == "vps" else transfer.export_providers, fmt)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{kind}.{fmt}"'},
    )


@router.get("/vps/import")
def vps_import_page(request: Request, web: WebDep):
    return _import_page(request, web, "vps")


@router.get("/providers/import")
def providers_import_page(request: Request, web: WebDep):
    return _import_page(request, web, "providers")


def _import_page(request: Request, web: Any, kind: str, status: int = 200, **context: Any):
    if not web.can_write:
        raise_forbidden()
    context.setdefault("report", None)
    return render(
        request, "import.html", status=status, kind=kind, kind_name=KINDS[kind], **context
    )


@router.post("/vps/import")
async def vps_import(request: Request, web: WebDep, form: FormDep):
    return await _import(request, web, form, "vps")


@router.post("/providers/import")
async def providers_import(request: Request, web: WebDep, form: FormDep):
    return await _import(request, web, form, "providers")


async def _import(request: Request, web: Any, form: FormData, kind: str):
    from starlette.concurrency import run_in_threadpool

    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return _import_page(
            request, web, kind, FORM_ERROR_STATUS, errors={"file": "Choose a .csv or .json file"}
        )
    raw = await upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _import_page(
            request, web, kind, FORM_ERROR_STATUS, errors={"file": "The file is not UTF-8 text"}
        )
    fmt = "csv" if upload.filename.lower().endswith(".csv") else "json"
    fn = transfer.import_vps if kind == "vps" else transfer.import_providers
    try:
        report = await run_in_threadpool(call, request, fn, text, fmt)
    except InvalidInput as exc:
        return _import_page(
            request,
            web,
            kind,
            FORM_ERROR_STATUS,
            report=getattr(exc, "report", None),
            errors={"file": exc.message},
            details=exc.details,
        )
    return _import_page(request, web, kind, report=report)


def raise_forbidden() -> None:
    from sigma.errors import PermissionDenied

    raise PermissionDenied("Your role cannot change the inventory.")


# ------------------------------------------------------------------ form


def _form_values(form: FormData, *, editing: bool) -> tuple[dict[str, Any], list[dict[str, str]]]:
    def text(name: str) -> str:
        return str(form.get(name) or "").strip()

    ips = [str(x) for x in form.getlist("ip")]
    labels = [str(x) for x in form.getlist("ip_label")]
    rows = [
        {"ip": ip.strip(), "label": labels[i] if i < len(labels) else ""}
        for i, ip in enumerate(ips)
    ]
    rows = [r for r in rows if r["ip"]]
    tag_text = text("tags").replace(",", " ").split()
    projects = [str(p) for p in form.getlist("project") if str(p) in PROJECT_TAGS]
    values: dict[str, Any] = {
        "hostname": text("hostname"),
        "alias": text("alias"),
        "provider_id": text("provider_id") or None,
        "status": text("status") or "provisioning",
        "ip_addresses": rows,
        "country": text("country"),
        "city": text("city"),
        "dc_name": text("dc_name"),
        "currency": text("currency") or "USD",
        "purpose": text("purpose"),
        "vpn_protocol": text("vpn_protocol"),
        "tags": tag_text + [p for p in projects if p not in tag_text],
        "monitoring_enabled": form.get("monitoring_enabled") is not None,
        "notes": str(form.get("notes") or ""),
        "billing_cycle": text("billing_cycle") or DEFAULT_BILLING_CYCLE,
        "auto_renew": form.get("auto_renew") is not None,
        "traffic_quota_gb": text("traffic_quota_gb") or None,
        "traffic_direction": text("traffic_direction") or DEFAULT_TRAFFIC_DIRECTION,
        "traffic_reset_day": text("traffic_reset_day") or "1",
    }
    for name in (
        "cpu_cores",
        "ram_mb",
        "disk_gb",
        "bandwidth_tb",
        "cost_monthly",
        "purchase_date",
        "expire_date",
    ):
        values[name] = text(name) or None
    for name in ("ssh_port", "node_exporter_port"):
        if text(name):
            values[name] = text(name)
    if not editing and values["provider_id"] is None:
        values.pop("provider_id")
    return values, rows


def _form(
    request: Request,
    v: Any,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    all_providers = call(request, providers.all_providers)
    if values is None:
        if v is not None:
            values = v.model_dump(mode="json")
        else:
            values = {
                "hostname": "",
                "status": "provisioning",
                "ssh_port": 22,
                "node_exporter_port": 9100,
                "monitoring_enabled": True,
                "currency": "USD",
                "billing_cycle": DEFAULT_BILLING_CYCLE,
                "traffic_direction": DEFAULT_TRAFFIC_DIRECTION,
                "traffic_reset_day": 1,
                "ip_addresses": [],
                "tags": [],
            }
    tags = values.get("tags") or []
    return render(
        request,
        "vps_form.html",
        status=status,
        v=v,
        values=values,
        errors=errors or {},
        providers=all_providers,
        statuses=FORM_STATUSES,
        purposes=FORM_PURPOSES,
        labels=IP_LABELS,
        billing_cycles=BILLING_CYCLES,
        traffic_directions=TRAFFIC_DIRECTION_NAMES,
        text_tags=" ".join(t for t in tags if t not in PROJECT_TAGS),
        project_tags=[t for t in tags if t in PROJECT_TAGS],
        ip_rows=list(values.get("ip_addresses") or []) + [{"ip": "", "label": ""}],
        agent=_agent(v) if v is not None else None,
        system=((v.extra or {}).get("system_info") or {}) if v is not None else {},
    )


@router.get("/vps/options")
def vps_options(request: Request, web: WebDep, q: str = ""):
    """Suggestions for a VPS field (the ticket form's picker): up to 20 VPS whose hostname
    or alias contains what was typed, as JSON."""
    from fastapi.responses import JSONResponse

    q = q.strip()[:100]
    if not q:
        return JSONResponse([])
    result = call(request, vps.list_vps, validate(VpsFilter, {"search": q, "per_page": 20}))
    return JSONResponse(
        [{"id": str(v.id), "hostname": v.hostname, "alias": v.alias or ""} for v in result.data]
    )


@router.get("/vps/new")
def vps_new_page(request: Request, web: WebDep):
    if not web.can_write:
        raise_forbidden()
    return _form(request, None)


@router.post("/vps/new")
def vps_create(request: Request, web: WebDep, form: FormDep):
    values, _ = _form_values(form, editing=False)
    try:
        created = call(request, vps.create, validate(VpsCreate, values))
    except InvalidInput as exc:
        return _form(request, None, values, field_errors(exc), status=FORM_ERROR_STATUS)
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        return _form(request, None, values, {"_form": exc.message}, status=FORM_ERROR_STATUS)
    raise Redirect(f"/vps/{created.id}?flash=vps-created")


@router.get("/vps/{ref}/edit")
def vps_edit_page(request: Request, web: WebDep, ref: str):
    if not web.can_write:
        raise_forbidden()
    return _form(request, call(request, vps.get, ref))


@router.post("/vps/{ref}/edit")
def vps_update(request: Request, web: WebDep, ref: str, form: FormDep):
    current = call(request, vps.get, ref)
    values, _ = _form_values(form, editing=True)
    try:
        call(request, vps.update, current.id, validate(VpsUpdate, values))
    except InvalidInput as exc:
        return _form(request, current, values, field_errors(exc), status=FORM_ERROR_STATUS)
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        return _form(request, current, values, {"_form": exc.message}, status=FORM_ERROR_STATUS)
    raise Redirect(f"/vps/{current.id}?flash=vps-updated")


# ------------------------------------------------------------------ detail


TIMELINE_EVENTS = 20  # events of the timeline per page of the VPS page


@router.get("/vps/{ref}")
def vps_detail(request: Request, web: WebDep, ref: str, events: int = 1):
    from sigma.schemas.history import HistoryFilter, event_summary
    from sigma.services import history as timeline_service

    v = call(request, vps.get, ref)
    provider = call(request, providers.get, v.provider_id) if v.provider_id else None
    related = call(request, tickets.list_tickets, TicketFilter(vps_id=v.id, per_page=10))
    history = None
    if web.is_admin:
        history = call(
            request,
            audit.list_entries,
            AuditFilter(resource="vps", resource_id=str(v.id), per_page=20),
        )
    keys = call(request, agents.bound_keys, v.id) if web.can_write else []
    timeline = call(
        request,
        timeline_service.timeline,
        v.id,
        HistoryFilter(page=max(1, min(events, 10_000)), per_page=TIMELINE_EVENTS),
    )
    from sigma.services import dns, reach_alerts, sync

    return render(
        request,
        "vps_detail.html",
        sources=call(request, sync.sources_of, v.id),
        dns_records=call(request, dns.records_of, v.id),
        reach=_reachability(request, v),
        reach_alerts=[a for a in call(request, reach_alerts.list_alerts) if a.vps_id == v.id],
        thresholds=call(request, reach_alerts.get_thresholds, v.id),
        threshold_errors={},
        timeline=timeline,
        timeline_rows=[(e, event_summary(e.kind, e.details)) for e in timeline.data],
        v=v,
        provider=provider,
        related=related,
        history=history,
        agent=_agent(v),
        system=(v.extra or {}).get("system_info") or {},
        agent_keys=keys,
    )


REACH_CHART_SPAN = timedelta(hours=24)
REACH_CHART_IPS = 8  # the first addresses of a VPS get a chart: a page stays light


def _reachability(request: Request, v: Any) -> list[dict[str, Any]]:
    """Each address's verdict with its reasons and, for the first few, the latency per probe
    source over the last 24 hours (one line per source: its ICMP series, else its first)."""
    from sigma.db.types import utcnow
    from sigma.errors import NotFound
    from sigma.schemas.monitoring import CheckHistoryQuery
    from sigma.services import check_history, ip_checks

    rows = call(request, ip_checks.status, v.id)
    out = []
    for i, r in enumerate(rows):
        chart = None
        if i < REACH_CHART_IPS:
            try:
                h = call(
                    request,
                    check_history.history,
                    CheckHistoryQuery(ip=r.ip, since=utcnow() - REACH_CHART_SPAN),
                )
            except NotFound:
                h = None
            if h is not None and h.series:
                chart = charts.per_source(
                    h, REACH_CHART_SPAN, f"Latency to {r.ip} per probe source"
                )
        out.append({"r": r, "chart": chart})
    return out


@router.post("/vps/{ref}/alert-thresholds")
def vps_alert_thresholds(request: Request, web: WebDep, ref: str, form: FormDep):
    """The VPS's own latency and loss thresholds; an empty field is the settings'."""
    from sigma.services import reach_alerts

    v = call(request, vps.get, ref)
    values = {k: str(form.get(k) or "").strip() or None for k in ("latency_ms", "loss_pct")}
    call(request, reach_alerts.set_thresholds, v.id, values)
    raise Redirect(f"/vps/{v.id}?flash=thresholds-saved#reachability")


@router.post("/vps/{ref}/agent-key")
def vps_agent_key(request: Request, web: WebDep, ref: str, form: FormDep):
    v = call(request, vps.get, ref)
    key = call(request, agents.provision, v.id, None)
    return show_once(
        request, f"/vps/{v.id}#agent-access", kind="agent-key", name=key.name, key=key.key
    )


@router.post("/vps/{ref}/agent-release")
def vps_agent_release(request: Request, web: WebDep, ref: str, form: FormDep):
    v = call(request, vps.get, ref)
    if not _confirmed(form):
        return render(
            request,
            "confirm.html",
            title=f"Release the agent keys of {v.hostname}?",
            action=f"/vps/{v.id}/agent-release",
            button="Release and revoke",
            back=f"/vps/{v.id}",
            message="The keys bound to this VPS are revoked: its agent stops reporting "
            "until it gets a new key, and the VPS can be claimed by the next agent that "
            "registers it.",
        )
    call(request, agents.release, v.id, True)
    raise Redirect(f"/vps/{v.id}?flash=agent-released")


# ------------------------------------------------------------------ retire / delete


def _confirmed(form: FormData) -> bool:
    return form.get("confirmed") == "yes"


@router.post("/vps/{ref}/retire")
def vps_retire(request: Request, web: WebDep, ref: str, form: FormDep):
    v = call(request, vps.get, ref)
    if not _confirmed(form):
        return render(
            request,
            "confirm.html",
            title=f"Retire {v.hostname}?",
            action=f"/vps/{v.id}/retire",
            message="Its status becomes retired and monitoring is turned off. The record is kept.",
            button="Retire",
            back=f"/vps/{v.id}",
            hidden={"back": str(form.get("back") or "")},
        )
    call(request, vps.retire, v.id)
    back = str(form.get("back") or "")
    target = back if back.startswith("/vps") and not back.startswith("//") else f"/vps/{v.id}"
    raise Redirect(_with_flash(target, "vps-retired"))


@router.post("/vps/{ref}/renew")
def vps_renew(request: Request, web: WebDep, ref: str, form: FormDep):
    from sigma.services import billing

    v = call(request, vps.get, ref)
    if not _confirmed(form):
        start = v.expire_date or date.today()
        nxt = billing.advance(start, v.billing_cycle, 1, v.purchase_date)
        amount = billing.renewal_amount(v.cost_monthly, v.billing_cycle)
        paid = f" The renewal of {amount} {v.currency} is recorded." if amount is not None else ""
        return render(
            request,
            "confirm.html",
            title=f"Renew {v.hostname}?",
            action=f"/vps/{v.id}/renew",
            message=f"Its expiry moves from {start} to {nxt} (one {v.billing_cycle} cycle).{paid}",
            button="Renew",
            back=f"/vps/{v.id}",
        )
    call(request, billing.renew, v.id, 1)
    raise Redirect(f"/vps/{v.id}?flash=vps-renewed")


REPLACE_INHERIT = (
    ("purpose", "Purpose"),
    ("tags", "Tags"),
    ("monitoring", "Monitoring settings"),
    ("tickets", "Open tickets"),
)


@router.get("/vps/{ref}/replace")
def vps_replace_page(request: Request, web: WebDep, ref: str):
    if not web.can_write:
        raise_forbidden()
    v = call(request, vps.get, ref)
    return render(request, "vps_replace.html", v=v, values={}, inherit=REPLACE_INHERIT)


@router.post("/vps/{ref}/replace")
def vps_replace(request: Request, web: WebDep, ref: str, form: FormDep):
    from sigma.schemas.lifecycle import ReplaceRequest
    from sigma.services import replacement

    v = call(request, vps.get, ref)
    values: dict[str, Any] = {"with": str(form.get("with") or "").strip()}
    for name, _label in REPLACE_INHERIT:
        values[f"inherit_{name}"] = form.get(f"inherit_{name}") is not None
    try:
        data = validate(ReplaceRequest, {**values, "with": values["with"] or None})
        result = call(request, replacement.replace, v.id, data)
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        errors = {"with" if exc.field == "with" else "_form": exc.message}
        return render(
            request,
            "vps_replace.html",
            status=FORM_ERROR_STATUS,
            v=v,
            values=values,
            inherit=REPLACE_INHERIT,
            errors=errors,
        )
    raise Redirect(f"/vps/{result.new.id}?flash=vps-replaced")


@router.post("/vps/{ref}/delete")
def vps_delete(request: Request, web: WebDep, ref: str, form: FormDep):
    v = call(request, vps.get, ref)
    if not _confirmed(form):
        return render(
            request,
            "confirm.html",
            title=f"Move {v.hostname} to the trash?",
            action=f"/vps/{v.id}/delete",
            message="It disappears from every list, export and report. It can be restored "
            "(sigma vps restore) until the trash is emptied of it after "
            f"{request.app.state.settings.trash_retention_days} days.",
            button="Move to trash",
            back=f"/vps/{v.id}",
            danger=True,
        )
    call(request, vps.delete, v.id)
    raise Redirect("/vps?flash=vps-deleted")


def _with_flash(url: str, key: str, **counts: int) -> str:
    with contextlib.suppress(Exception):
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(url)
        q = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("flash", "n", "of")]
        q += [("flash", key), *((k, str(v)) for k, v in counts.items())]
        return f"{parts.path}?{urlencode(q)}"
    return url
