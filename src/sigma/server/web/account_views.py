"""Provider and DNS accounts (admins) and the DNS records copied from them (every reader),
over services.accounts, services.sync and services.dns (issue 19).

Credentials are write-only here as everywhere: the forms take them in password fields, a
form shown again after an error never carries them back, and a page only lists which
credential fields an account holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData

from sigma.errors import InvalidInput, SigmaError
from sigma.schemas.accounts import AccountCreate, AccountUpdate, DnsFilter
from sigma.schemas.common import validate
from sigma.server.web.core import (
    FORM_ERROR_STATUS,
    AdminDep,
    FormDep,
    Redirect,
    WebDep,
    WebRoute,
    call,
    field_errors,
    render,
)
from sigma.services import accounts, dns, providers, sync
from sigma.services.actor import READERS, Actor

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# the credential fields of every kind (AccountCredentials), as the forms name them
CREDENTIALS = (
    ("token", "API token"),
    ("key_id", "Key ID"),
    ("secret", "Secret"),
)
CREDENTIAL_FIELDS = tuple(name for name, _ in CREDENTIALS)
DNS_PAGE_SIZES = (25, 50, 100)
DNS_DEFAULT_PAGE_SIZE = 50
# a linked VPS in one of these states makes its record stale (services.dns.stale_rows)
GONE_STATES = ("retired", "trashed")


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _form_error(exc: SigmaError) -> dict[str, str]:
    return (
        field_errors(exc) if isinstance(exc, InvalidInput) else {exc.field or "_form": exc.message}
    )


def _credential_values(form: FormData) -> dict[str, str]:
    """The credential fields typed in (an empty one is left out: on a change, it is kept)."""
    values = {name: str(form.get(name) or "") for name in CREDENTIAL_FIELDS}
    return {k: v for k, v in values.items() if v.strip()}


# ------------------------------------------------------------------ the list and the form


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    """What a form shown again may carry: never a credential."""
    return {k: v for k, v in values.items() if k not in CREDENTIAL_FIELDS}


def _accounts_page(
    request: Request,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
):
    settings = _settings(request)
    rows = call(request, accounts.list_accounts, settings)
    if values is None:
        values = {"kind": "", "interval_minutes": 60, "enabled": True, "api_wins": False}
    return render(
        request,
        "accounts.html",
        status=status,
        rows=rows,
        kinds=accounts.kinds(),
        provider_choices=call(request, providers.all_providers),
        credentials=CREDENTIALS,
        values=_shown(values),
        errors=errors or {},
    )


@router.get("/accounts")
def accounts_page(request: Request, web: AdminDep):
    return _accounts_page(request)


def _create_values(form: FormData) -> dict[str, Any]:
    """The add form's fields as the page shows them again (no credentials)."""
    text = {
        k: str(form.get(k) or "").strip()
        for k in ("kind", "name", "provider", "api_base", "region", "interval_minutes")
    }
    return {
        **text,
        "enabled": form.get("enabled") is not None,
        "api_wins": form.get("api_wins") is not None,
    }


def _create_data(values: dict[str, Any], form: FormData) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": values["kind"],
        "name": values["name"],
        "provider": values["provider"] or None,
        "api_base": values["api_base"],
        "options": {"region": values["region"]} if values["region"] else {},
        "enabled": values["enabled"],
        "api_wins": values["api_wins"],
        **_credential_values(form),
    }
    if values["interval_minutes"]:
        data["interval_minutes"] = values["interval_minutes"]
    return data


@router.post("/accounts/new")
def account_create(request: Request, web: AdminDep, form: FormDep):
    values = _create_values(form)
    try:
        data = validate(AccountCreate, _create_data(values, form))
        made = call(request, accounts.create, _settings(request), data)
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        return _accounts_page(request, FORM_ERROR_STATUS, values, _form_error(exc))
    raise Redirect(f"/accounts/{made.id}?flash=account-saved")


# ------------------------------------------------------------------ one account


def _detail(
    request: Request,
    ref: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    **context: Any,
):
    settings = _settings(request)
    a = call(request, accounts.get, settings, ref)
    kind = next((k for k in accounts.kinds() if k.kind == a.kind), None)
    if values is None:
        values = {
            "interval_minutes": a.interval_minutes,
            "api_wins": a.api_wins,
            "enabled": a.enabled,
        }
    context.setdefault("report", None)
    context.setdefault("changes", [])
    context.setdefault("test_result", None)
    return render(
        request,
        "account_detail.html",
        status=status,
        a=a,
        kind=kind,
        instances=call(request, sync.instances, a.id),
        credentials=CREDENTIALS,
        values=_shown(values),
        errors=errors or {},
        **context,
    )


@router.get("/accounts/{ref}")
def account_detail(request: Request, web: AdminDep, ref: str):
    return _detail(request, ref)


@router.post("/accounts/{ref}/edit")
def account_update(request: Request, web: AdminDep, ref: str, form: FormDep):
    a = call(request, accounts.get, _settings(request), ref)
    values: dict[str, Any] = {
        "interval_minutes": str(form.get("interval_minutes") or "").strip(),
        "api_wins": form.get("api_wins") is not None,
        "enabled": form.get("enabled") is not None,
    }
    data = {
        **{k: v for k, v in values.items() if v != ""},
        **_credential_values(form),
    }
    try:
        call(request, accounts.update, _settings(request), a.id, validate(AccountUpdate, data))
    except SigmaError as exc:
        if exc.http_status in (403, 404):
            raise
        return _detail(request, str(a.id), FORM_ERROR_STATUS, _form_error(exc), values)
    raise Redirect(f"/accounts/{a.id}?flash=account-saved")


def _sync(request: Request, ref: str, dry_run: bool):
    actor: Actor = request.state.web.actor
    report = sync.sync(request.app.state.sessions, _settings(request), actor, ref, dry_run=dry_run)
    changes = [
        {
            "c": c,
            "changes": [(k, _shown_value(v)) for k, v in c.changes.items()],
        }
        for c in report.changes
    ]
    return _detail(request, str(report.account_id), report=report, changes=changes)


def _shown_value(value: Any) -> str:
    """A field's value in a sync's change list, as text (lists joined)."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


@router.post("/accounts/{ref}/sync")
def account_sync(request: Request, web: AdminDep, ref: str, form: FormDep):
    return _sync(request, ref, dry_run=False)


@router.post("/accounts/{ref}/dry-run")
def account_dry_run(request: Request, web: AdminDep, ref: str, form: FormDep):
    return _sync(request, ref, dry_run=True)


@router.post("/accounts/{ref}/test")
def account_test(request: Request, web: AdminDep, ref: str, form: FormDep):
    # asks the provider, changes nothing but the audit log (the use of the credentials)
    result = call(request, accounts.test, _settings(request), ref)
    return _detail(request, ref, test_result=result)


def _set_enabled(request: Request, ref: str, enabled: bool):
    a = call(request, accounts.update, _settings(request), ref, AccountUpdate(enabled=enabled))
    raise Redirect(f"/accounts?flash=account-{'enabled' if enabled else 'disabled'}#account-{a.id}")


@router.post("/accounts/{ref}/enable")
def account_enable(request: Request, web: AdminDep, ref: str, form: FormDep):
    _set_enabled(request, ref, True)


@router.post("/accounts/{ref}/disable")
def account_disable(request: Request, web: AdminDep, ref: str, form: FormDep):
    _set_enabled(request, ref, False)


@router.post("/accounts/{ref}/delete")
def account_delete(request: Request, web: AdminDep, ref: str, form: FormDep):
    a = call(request, accounts.get, _settings(request), ref)
    if form.get("confirmed") != "yes":
        return render(
            request,
            "confirm.html",
            title=f"Remove account {a.name}?",
            action=f"/accounts/{a.id}/delete",
            message=(
                "Its stored credentials, its sync links and its copy of DNS records go. "
                "The VPS it created stay, as they are."
            ),
            button="Remove",
            back="/accounts",
            danger=True,
        )
    call(request, accounts.delete, a.id)
    raise Redirect("/accounts?flash=account-deleted")


# ------------------------------------------------------------------ DNS


def _blocked(session: Any, actor: Actor) -> set[Any]:
    """The records pointing at a VPS in service whose address is blocked from China (the
    third case of services.dns.stale_rows; the other two show in the VPS's own status)."""
    actor.require(READERS)
    return {r[0].id for r in dns.stale_rows(session) if r.vps_status not in GONE_STATES}


def _days_left(value: datetime | None) -> int | None:
    if value is None:
        return None
    return (value.astimezone(UTC).date() - datetime.now(UTC).date()).days


@router.get("/dns")
def dns_page(request: Request, web: WebDep):
    q = request.query_params
    try:
        page = max(int(q.get("page") or 1), 1)
    except ValueError:
        page = 1
    size = q.get("per_page") or ""
    per_page = (
        int(size) if size.isdigit() and int(size) in DNS_PAGE_SIZES else DNS_DEFAULT_PAGE_SIZE
    )
    linked = {"yes": True, "no": False}.get((q.get("linked") or "").strip().lower())
    raw: dict[str, Any] = {k: q.get(k) for k in ("zone", "account", "q") if q.get(k)}
    if linked is not None:
        raw["linked"] = linked
    errors: dict[str, str] = {}
    if (q.get("linked") or "") not in ("", "yes", "no"):
        errors["linked"] = "must be yes or no"
    paging = {"page": page, "per_page": per_page}
    try:
        f = validate(DnsFilter, {**raw, **paging})
    except InvalidInput as exc:
        errors.update(field_errors(exc))
        f = validate(DnsFilter, paging)
    zones = call(request, dns.list_zones)
    result = call(request, dns.list_records, f)
    blocked = call(request, _blocked) if result.data else set()
    settings = _settings(request)
    rows = [
        {
            "r": r,
            "blocked": r.id in blocked,
            "stale": r.id in blocked or (r.vps_status in GONE_STATES),
            "cert_days": _days_left(r.cert_not_after),
        }
        for r in result.data
    ]
    return render(
        request,
        "dns.html",
        zones=[{"z": z, "days": _days_left(z.expires_at)} for z in zones],
        account_names=sorted({z.account for z in zones}, key=str.lower),
        result=result,
        rows=rows,
        errors=errors,
        page_sizes=DNS_PAGE_SIZES,
        per_page=per_page,
        cert_warn_days=settings.cert_warn_days,
    )
