"""Users and the audit log (admin), and the settings page (profile, MFA, API keys)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData

from sigma.errors import InvalidInput, SigmaError
from sigma.schemas.common import validate
from sigma.schemas.identity import USER_ROLES, ApiKeyCreate, AuditFilter, UserCreate, UserUpdate
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
    show_once,
)
from sigma.services import audit, auth, users

router = APIRouter(route_class=WebRoute, include_in_schema=False)
AUDIT_RESOURCES = ("vps", "provider", "ticket", "user", "api_key", "account")
AUDIT_ACTIONS = (
    "create",
    "update",
    "delete",
    "retire",
    "import",
    "login",
    "comment",
    "revoke",
    "change-password",
    "totp-enable",
    "totp-disable",
    "sync",
    "test",
    "rotate-key",
)


def _page(request: Request) -> int:
    try:
        return max(int(request.query_params.get("page") or 1), 1)
    except ValueError:
        return 1


# ------------------------------------------------------------------ audit log


@router.get("/audit-log")
def audit_log(request: Request, web: AdminDep):
    q = request.query_params
    raw = {k: q.get(k) for k in ("resource", "action", "resource_id")}
    f = validate(
        AuditFilter, {k: v for k, v in raw.items() if v} | {"page": _page(request), "per_page": 50}
    )
    result = call(request, audit.list_entries, f)
    return render(
        request, "audit.html", result=result, resources=AUDIT_RESOURCES, actions=AUDIT_ACTIONS
    )


# ------------------------------------------------------------------ users


@router.get("/users")
def user_list(request: Request, web: AdminDep):
    result = call(request, users.list_users, None, _page(request), 25)
    return render(request, "users.html", result=result)


def _user_values(form: FormData, *, editing: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "email": str(form.get("email") or "").strip(),
        "name": str(form.get("name") or "").strip(),
        "role": str(form.get("role") or "readonly"),
    }
    password = str(form.get("password") or "")
    if password or not editing:
        values["password"] = password
    values["force_password_change"] = form.get("force_password_change") is not None
    return values


def _user_form(
    request: Request,
    u: Any,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    values = {k: v for k, v in values.items() if k != "password"}
    return render(
        request,
        "user_form.html",
        status=status,
        u=u,
        values=values,
        errors=errors or {},
        roles=USER_ROLES,
    )


@router.get("/users/new")
def user_new_page(request: Request, web: AdminDep):
    return _user_form(
        request, None, {"email": "", "name": "", "role": "readonly", "force_password_change": True}
    )


@router.post("/users/new")
def user_create(request: Request, web: AdminDep, form: FormDep):
    values = _user_values(form, editing=False)
    try:
        call(request, users.create, validate(UserCreate, values))
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        errors = (
            field_errors(exc)
            if isinstance(exc, InvalidInput)
            else {exc.field or "_form": exc.message}
        )
        return _user_form(request, None, values, errors, FORM_ERROR_STATUS)
    raise Redirect("/users?flash=user-saved")


@router.get("/users/{ref}/edit")
def user_edit_page(request: Request, web: AdminDep, ref: str):
    u = call(request, users.get, ref)
    return _user_form(request, u, u.model_dump(mode="json"))


@router.post("/users/{ref}/edit")
def user_update(request: Request, web: AdminDep, ref: str, form: FormDep):
    u = call(request, users.get, ref)
    values = _user_values(form, editing=True)
    try:
        call(request, users.update, u.id, validate(UserUpdate, values))
    except SigmaError as exc:
        if exc.http_status == 403:
            raise
        errors = (
            field_errors(exc)
            if isinstance(exc, InvalidInput)
            else {exc.field or "_form": exc.message}
        )
        return _user_form(request, u, values, errors, FORM_ERROR_STATUS)
    raise Redirect("/users?flash=user-saved")


@router.post("/users/{ref}/disable-totp")
def user_disable_totp(request: Request, web: AdminDep, ref: str, form: FormDep):
    u = call(request, users.get, ref)
    if form.get("confirmed") != "yes":
        return render(
            request,
            "confirm.html",
            title=f"Turn off two-factor authentication for {u.email}?",
            action=f"/users/{u.id}/disable-totp",
            button="Turn off 2FA",
            back="/users",
            message="They will sign in with their password alone until they enrol again.",
        )
    call(request, users.update, u.id, UserUpdate(totp_enabled=False))
    raise Redirect("/users?flash=totp-reset")


@router.post("/users/{ref}/delete")
def user_delete(request: Request, web: AdminDep, ref: str, form: FormDep):
    u = call(request, users.get, ref)
    if form.get("confirmed") != "yes":
        return render(
            request,
            "confirm.html",
            title=f"Delete user {u.email}?",
            action=f"/users/{u.id}/delete",
            message="Their API keys stop working. Their audit history is kept.",
            button="Delete",
            back="/users",
            danger=True,
        )
    call(request, users.delete, u.id)
    raise Redirect("/users?flash=user-deleted")


# ------------------------------------------------------------------ settings


def _settings(request: Request, status: int = 200, **context: Any):
    web = request.state.web
    keys = call(request, auth.list_api_keys, False) if web.actor.user_id else []
    context.setdefault("setup", None)
    context.setdefault("mfa_error", None)
    context.setdefault("verify_pending", False)
    context.setdefault("key_values", {})
    return render(request, "settings.html", status=status, keys=keys, **context)


@router.get("/settings")
def settings_page(request: Request, web: WebDep):
    return _settings(request)


@router.post("/settings/mfa/setup")
def mfa_setup(request: Request, web: WebDep, form: FormDep):
    setup = call(request, auth.totp_setup)
    # segno's SVG (generated here from our own otpauth URL): safe to inline
    return _settings(request, setup=setup, verify_pending=True)


@router.post("/settings/mfa/verify")
def mfa_verify(request: Request, web: WebDep, form: FormDep):
    try:
        call(request, auth.totp_verify, str(form.get("code") or "").strip()[:16])
    except InvalidInput:
        return _settings(
            request,
            status=FORM_ERROR_STATUS,
            verify_pending=True,
            mfa_error="Invalid code. Please try again.",
        )
    raise Redirect("/settings?flash=mfa-enabled")


@router.post("/settings/mfa/disable")
def mfa_disable(request: Request, web: WebDep, form: FormDep):
    try:
        call(request, auth.totp_disable, str(form.get("code") or "").strip()[:16])
    except InvalidInput:
        return _settings(
            request, status=FORM_ERROR_STATUS, mfa_error="Invalid code. Please try again."
        )
    raise Redirect("/settings?flash=mfa-disabled")


@router.post("/settings/api-keys")
def api_key_create(request: Request, web: WebDep, form: FormDep):
    values: dict[str, Any] = {
        "name": str(form.get("name") or "").strip(),
        "read_only": form.get("read_only") is not None,
    }
    days = str(form.get("expires_in_days") or "").strip()
    if days:
        values["expires_in_days"] = days
    try:
        created = call(request, auth.create_api_key, validate(ApiKeyCreate, values))
    except InvalidInput as exc:
        return _settings(
            request,
            status=FORM_ERROR_STATUS,
            errors={f"key_{k}": v for k, v in field_errors(exc).items()},
            key_values=values,
        )
    return show_once(
        request, "/settings#api-keys", kind="api-key", name=created.name, key=created.key
    )


@router.post("/settings/api-keys/{ref}/revoke")
def api_key_revoke(request: Request, web: WebDep, ref: str, form: FormDep):
    call(request, auth.revoke_api_key, ref)
    raise Redirect("/settings?flash=key-revoked")
