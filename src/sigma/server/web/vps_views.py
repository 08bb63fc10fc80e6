"""Dashboard, VPS list / detail / form, retire and delete, import and export."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from sigma.errors import InvalidInput, SigmaError
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
)
from sigma.services import agents, audit, providers, stats, tickets, transfer, vps
from sigma.vocab import IP_LABELS, VPS_PURPOSES, VPS_STATUSES

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PROJECT_TAGS = {t for t, _ in PROJECTS}
FORM_STATUSES = VPS_STATUSES[:4]
FORM_PURPOSES = tuple(p for p in VPS_PURPOSES if p and p != "other")


# ------------------------------------------------------------------ dashboard


@router.get("/")
def dashboard(request: Request, web: WebDep):
    s = call(request, stats.stats)

    def pairs(counts) -> list[tuple[str, int]]:
        return [(c.label, c.count) for c in counts]

    return render(
        request,
        "dashboard.html",
        stats=s,
        country_chart=charts.bar_chart(pairs(s.by_country), "VPS by country"),
        status_chart=charts.pie_chart(pairs(s.by_status), "VPS by status"),
        provider_chart=charts.hbar_chart(pairs(s.by_provider), "VPS by provider"),
    )


# ------------------------------------------------------------------ list


def _agent(v: Any) -> dict[str, Any] | None:
    """The agent dot: its liveness as the service computed it, and when it last reported."""
    if v.online is None:
        return None
    return {"online": v.online, "last": (v.extra or {}).get("last_heartbeat")}


@router.get("/vps")
def vps_list(request: Request, web: WebDep):
    q = request.query_params
    raw = {k: q.get(k) for k in ("status", "purpose", "provider_id", "country", "search")}
    raw = {k: v for k, v in raw.items() if v}
    tags = [t for t in (q.get("tag") or "").replace(",", " ").split() if t]
    errors: dict[str, str] = {}
    try:
        page = max(int(q.get("page") or 1), 1)
    except ValueError:
        page = 1
    try:
        f = validate(VpsFilter, {**raw, "tag": tags, "page": page, "per_page": 25})
    except InvalidInput as exc:
        errors = field_errors(exc)
        f = VpsFilter(page=page, per_page=25)
    result = call(request, vps.list_vps, f)
    all_providers = call(request, providers.all_providers)
    names = {p.id: p.name for p in all_providers}
    rows = [
        {
            "v": v,
            "provider": names.get(v.provider_id, "") if v.provider_id else "",
            "agent": _agent(v),
        }
        for v in result.data
    ]
    return render(
        request,
        "vps_list.html",
        result=result,
        rows=rows,
        providers=all_providers,
        statuses=FORM_STATUSES,
        purposes=FORM_PURPOSES,
        errors=errors,
    )


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


@router.get("/vps/{ref}")
def vps_detail(request: Request, web: WebDep, ref: str):
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
    return render(
        request,
        "vps_detail.html",
        v=v,
        provider=provider,
        related=related,
        history=history,
        agent=_agent(v),
        system=(v.extra or {}).get("system_info") or {},
        agent_keys=keys,
    )


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


@router.post("/vps/{ref}/delete")
def vps_delete(request: Request, web: WebDep, ref: str, form: FormDep):
    v = call(request, vps.get, ref)
    if not _confirmed(form):
        return render(
            request,
            "confirm.html",
            title=f"Delete {v.hostname} for good?",
            action=f"/vps/{v.id}/delete",
            message="This cannot be undone; retiring keeps the history instead.",
            button="Delete",
            back=f"/vps/{v.id}",
            danger=True,
        )
    call(request, vps.delete, v.id)
    raise Redirect("/vps?flash=vps-deleted")


def _with_flash(url: str, key: str) -> str:
    with contextlib.suppress(Exception):
        from urllib.parse import parse_qsl, urlencode, urlsplit

        parts = urlsplit(url)
        q = [(k, v) for k, v in parse_qsl(parts.query) if k != "flash"] + [("flash", key)]
        return f"{parts.path}?{urlencode(q)}"
    return url
