"""Providers (list and form) and tickets (list, detail with status actions and comments, form)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData

from sigma.errors import InvalidInput, SigmaError
from sigma.schemas.common import validate
from sigma.schemas.inventory import ProviderCreate, ProviderUpdate
from sigma.schemas.tickets import (
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    TICKET_TRANSITIONS,
    TicketCreate,
    TicketFilter,
    TicketUpdate,
)
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
from sigma.services import providers, tickets, users, vps

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _forbid_readonly(web) -> None:
    if not web.can_write:
        from sigma.errors import PermissionDenied

        raise PermissionDenied("Your role can only read.")


def _page(request: Request) -> int:
    try:
        return max(int(request.query_params.get("page") or 1), 1)
    except ValueError:
        return 1


# ------------------------------------------------------------------ providers


@router.get("/providers")
def provider_list(request: Request, web: WebDep):
    result = call(request, providers.list_providers, _page(request), 25)
    return render(request, "providers.html", result=result)


def _provider_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: str(form.get(k) or "").strip()
        for k in ("name", "country", "website", "panel_url", "notes")
    }
    values["api_supported"] = form.get("api_supported") is not None
    values["rating"] = str(form.get("rating") or "").strip() or None
    return values


def _provider_form(
    request: Request,
    p: Any,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    return render(
        request, "provider_form.html", status=status, p=p, values=values, errors=errors or {}
    )


@router.get("/providers/new")
def provider_new_page(request: Request, web: WebDep):
    _forbid_readonly(web)
    return _provider_form(
        request,
        None,
        {
            "name": "",
            "country": "",
            "website": "",
            "panel_url": "",
            "notes": "",
            "api_supported": False,
            "rating": None,
        },
    )


@router.post("/providers/new")
def provider_create(request: Request, web: WebDep, form: FormDep):
    values = _provider_values(form)
    try:
        call(request, providers.create, validate(ProviderCreate, values))
    except InvalidInput as exc:
        return _provider_form(request, None, values, field_errors(exc), FORM_ERROR_STATUS)
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        return _provider_form(
            request, None, values, {exc.field or "_form": exc.message}, FORM_ERROR_STATUS
        )
    raise Redirect("/providers?flash=provider-saved")


@router.get("/providers/{ref}/edit")
def provider_edit_page(request: Request, web: WebDep, ref: str):
    _forbid_readonly(web)
    p = call(request, providers.get, ref)
    return _provider_form(request, p, p.model_dump(mode="json"))


@router.post("/providers/{ref}/edit")
def provider_update(request: Request, web: WebDep, ref: str, form: FormDep):
    p = call(request, providers.get, ref)
    values = _provider_values(form)
    try:
        call(request, providers.update, p.id, validate(ProviderUpdate, values))
    except InvalidInput as exc:
        return _provider_form(request, p, values, field_errors(exc), FORM_ERROR_STATUS)
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        return _provider_form(
            request, p, values, {exc.field or "_form": exc.message}, FORM_ERROR_STATUS
        )
    raise Redirect("/providers?flash=provider-saved")


@router.post("/providers/{ref}/delete")
def provider_delete(request: Request, web: WebDep, ref: str, form: FormDep):
    p = call(request, providers.get, ref)
    if form.get("confirmed") != "yes":
        return render(
            request,
            "confirm.html",
            title=f"Delete provider {p.name}?",
            action=f"/providers/{p.id}/delete",
            message="Tickets about it are kept and unlinked. "
            "A provider that still has VPS cannot be deleted.",
            button="Delete",
            back="/providers",
            danger=True,
        )
    call(request, providers.delete, p.id)
    raise Redirect("/providers?flash=provider-deleted")


# ------------------------------------------------------------------ tickets


@router.get("/tickets")
def ticket_list(request: Request, web: WebDep):
    q = request.query_params
    raw = {"status": q.get("status") or None, "priority": q.get("priority") or None}
    errors: dict[str, str] = {}
    try:
        f = validate(TicketFilter, {k: v for k, v in raw.items() if v} | {"page": _page(request)})
    except InvalidInput as exc:
        errors = field_errors(exc)
        f = TicketFilter(page=_page(request))
    result = call(request, tickets.list_tickets, f)
    return render(
        request,
        "tickets.html",
        result=result,
        statuses=TICKET_STATUSES,
        priorities=TICKET_PRIORITIES,
        errors=errors,
    )


def _choices(request: Request, web) -> dict[str, Any]:
    """The selects of the ticket form: providers and (admin) users. The VPS is typed (a
    hostname, id or id prefix) with suggestions from /vps/options: a fleet has too many
    VPS for a select, and a capped list would drop the link of any VPS beyond it."""
    provider_page = call(request, providers.list_providers, 1, 100)
    user_list = call(request, users.list_users, None, 1, 100).data if web.is_admin else []
    return {"provider_choices": provider_page.data, "user_choices": user_list}


def _resolve_vps(request: Request, values: dict[str, Any]) -> dict[str, Any]:
    """The form's values with the typed VPS reference turned into its id (empty: no VPS).
    Refused with the field's error when it names no VPS or several; `values` keeps what was
    typed, for the form shown again."""
    resolved = dict(values)
    text = resolved.pop("vps", None)
    if text is None:
        return resolved
    if not text:
        resolved["vps_id"] = None
        return resolved
    try:
        resolved["vps_id"] = str(call(request, vps.get, text).id)
        return resolved
    except SigmaError as exc:
        if exc.http_status not in (404, 409, 422):
            raise
        raise InvalidInput(f"vps_id: {exc.message}", field="vps_id") from None


def _vps_text(request: Request, values: dict[str, Any]) -> str:
    """What the VPS field shows: what was typed, else the linked VPS's hostname."""
    if values.get("vps") is not None:
        return str(values["vps"])
    if not values.get("vps_id"):
        return ""
    try:
        return call(request, vps.get, values["vps_id"]).hostname
    except SigmaError:
        return str(values["vps_id"])


def _ticket_values(form: FormData, *, editing: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": str(form.get("title") or "").strip(),
        "description": str(form.get("description") or ""),
        "priority": str(form.get("priority") or "medium"),
        "provider_id": str(form.get("provider_id") or "") or None,
    }
    if "vps" in form:
        values["vps"] = str(form.get("vps") or "").strip()
    else:  # a form without the picker (the original UI, scripts) sends the id
        values["vps_id"] = str(form.get("vps_id") or "") or None
    if "assigned_to" in form:
        values["assigned_to"] = str(form.get("assigned_to") or "") or None
    if editing and form.get("status"):
        values["status"] = str(form.get("status"))
    return values


def _ticket_form(
    request: Request,
    web,
    t: Any,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    statuses: tuple[str, ...] = TICKET_STATUSES
    if t is not None:
        statuses = tuple(
            s for s in TICKET_STATUSES if s == t.status or s in TICKET_TRANSITIONS[t.status]
        )
    return render(
        request,
        "ticket_form.html",
        status=status,
        t=t,
        values=values,
        errors=errors or {},
        statuses=statuses,
        priorities=TICKET_PRIORITIES,
        vps_text=_vps_text(request, values),
        **_choices(request, web),
    )


@router.get("/tickets/new")
def ticket_new_page(request: Request, web: WebDep):
    _forbid_readonly(web)
    values = {
        "title": "",
        "description": "",
        "priority": "medium",
        "status": "open",
        "vps_id": request.query_params.get("vps_id") or None,
        "provider_id": None,
        "assigned_to": None,
    }
    return _ticket_form(request, web, None, values)


@router.post("/tickets/new")
def ticket_create(request: Request, web: WebDep, form: FormDep):
    values = _ticket_values(form, editing=False)
    try:
        t = call(request, tickets.create, validate(TicketCreate, _resolve_vps(request, values)))
    except InvalidInput as exc:
        return _ticket_form(request, web, None, values, field_errors(exc), FORM_ERROR_STATUS)
    raise Redirect(f"/tickets/{t.id}?flash=ticket-saved")


@router.get("/tickets/{ref}")
def ticket_detail(request: Request, web: WebDep, ref: str):
    t = call(request, tickets.get, ref)
    comments = call(request, tickets.list_comments, t.id)
    linked_vps = linked_provider = None
    if t.vps_id:
        linked_vps = call(request, vps.get, t.vps_id)
    if t.provider_id:
        linked_provider = call(request, providers.get, t.provider_id)
    people = call(request, _emails, {t.created_by, t.assigned_to})
    return render(
        request,
        "ticket_detail.html",
        t=t,
        comments=comments,
        linked_vps=linked_vps,
        linked_provider=linked_provider,
        people=people,
        transitions=TICKET_TRANSITIONS[t.status],
    )


def _emails(session, actor, ids):
    return tickets.user_emails(session, ids)


@router.get("/tickets/{ref}/edit")
def ticket_edit_page(request: Request, web: WebDep, ref: str):
    _forbid_readonly(web)
    t = call(request, tickets.get, ref)
    return _ticket_form(request, web, t, t.model_dump(mode="json"))


@router.post("/tickets/{ref}/edit")
def ticket_update(request: Request, web: WebDep, ref: str, form: FormDep):
    t = call(request, tickets.get, ref)
    values = _ticket_values(form, editing=True)
    try:
        call(request, tickets.update, t.id, validate(TicketUpdate, _resolve_vps(request, values)))
    except InvalidInput as exc:
        return _ticket_form(request, web, t, values, field_errors(exc), FORM_ERROR_STATUS)
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        return _ticket_form(
            request, web, t, values, {exc.field or "_form": exc.message}, FORM_ERROR_STATUS
        )
    raise Redirect(f"/tickets/{t.id}?flash=ticket-saved")


@router.post("/tickets/{ref}/status")
def ticket_status(request: Request, web: WebDep, ref: str, form: FormDep):
    t = call(request, tickets.get, ref)
    call(request, tickets.set_status, t.id, str(form.get("status") or ""))
    raise Redirect(f"/tickets/{t.id}?flash=ticket-status")


@router.post("/tickets/{ref}/comments")
def ticket_comment(request: Request, web: WebDep, ref: str, form: FormDep):
    t = call(request, tickets.get, ref)
    body = str(form.get("body") or "")
    try:
        call(request, tickets.add_comment, t.id, body)
    except InvalidInput as exc:
        comments = call(request, tickets.list_comments, t.id)
        linked_vps = call(request, vps.get, t.vps_id) if t.vps_id else None
        linked_provider = call(request, providers.get, t.provider_id) if t.provider_id else None
        return render(
            request,
            "ticket_detail.html",
            status=FORM_ERROR_STATUS,
            t=t,
            comments=comments,
            linked_vps=linked_vps,
            linked_provider=linked_provider,
            people=call(request, _emails, {t.created_by, t.assigned_to}),
            transitions=TICKET_TRANSITIONS[t.status],
            errors={"body": exc.message.removeprefix("body: ")},
        )
    raise Redirect(f"/tickets/{t.id}?flash=comment-added#comments")


@router.post("/tickets/{ref}/delete")
def ticket_delete(request: Request, web: WebDep, ref: str, form: FormDep):
    t = call(request, tickets.get, ref)
    if form.get("confirmed") != "yes":
        return render(
            request,
            "confirm.html",
            title=f"Delete ticket “{t.title}”?",
            action=f"/tickets/{t.id}/delete",
            message="The ticket and its comments are deleted for good.",
            button="Delete",
            back=f"/tickets/{t.id}",
            danger=True,
        )
    call(request, tickets.delete, t.id)
    raise Redirect("/tickets?flash=ticket-deleted")
