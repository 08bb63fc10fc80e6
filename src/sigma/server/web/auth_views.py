"""Login (password, then the TOTP step), logout, forced password change."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from sigma.errors import InvalidInput, NotAuthenticated
from sigma.server.deps import client_ip, run
from sigma.server.web.core import (
    FORM_ERROR_STATUS,
    SESSION_COOKIE,
    TOTP_COOKIE,
    AnyWebDep,
    FormDep,
    WebRoute,
    call,
    render,
    safe_next,
    set_cookie,
)
from sigma.services import auth

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _signed_in_response(request: Request, token: str, force_change: bool, next_url: str):
    target = "/change-password" if force_change else safe_next(next_url)
    response = RedirectResponse(target, status_code=303)
    hours = request.app.state.settings.jwt_expiry_hours
    set_cookie(request, response, SESSION_COOKIE, token, max_age=hours * 3600)
    response.delete_cookie(TOTP_COOKIE, path="/")
    return response


@router.get("/favicon.ico")
def favicon():
    from pathlib import Path

    from fastapi.responses import FileResponse

    icon = Path(__file__).parents[1] / "static" / "web" / "favicon.svg"
    return FileResponse(
        icon, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", step="password", next=safe_next(next), email="")


@router.post("/login")
def login(request: Request, form: FormDep):
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or "/"))
    settings = request.app.state.settings
    try:
        result = run(
            request,
            auth.login,
            settings,
            {"email": email[:320], "password": password[:1024]},
            client_ip(request),
        )
    except (NotAuthenticated, InvalidInput):
        return render(
            request,
            "login.html",
            status=FORM_ERROR_STATUS,
            step="password",
            next=next_url,
            email=email,
            error="Invalid email or password",
        )
    if result.requires_totp:
        response = render(request, "login.html", step="totp", next=next_url, email=email)
        set_cookie(
            request, response, TOTP_COOKIE, result.totp_token or "", max_age=auth.CHALLENGE_SECONDS
        )
        return response
    return _signed_in_response(
        request,
        result.token or "",
        bool(result.user and result.user.force_password_change),
        next_url,
    )


@router.post("/login/totp")
def login_totp(request: Request, form: FormDep):
    next_url = safe_next(str(form.get("next") or "/"))
    challenge = request.cookies.get(TOTP_COOKIE)
    if not challenge:
        return render(
            request,
            "login.html",
            status=FORM_ERROR_STATUS,
            step="password",
            next=next_url,
            email="",
            error="The sign-in step expired. Please sign in again.",
        )
    code = str(form.get("code") or "").strip()[:16]
    try:
        result = run(
            request,
            auth.login_totp,
            request.app.state.settings,
            {"totp_token": challenge, "code": code},
            client_ip(request),
        )
    except NotAuthenticated:
        response = render(
            request,
            "login.html",
            status=FORM_ERROR_STATUS,
            step="password",
            next=next_url,
            email="",
            error="The sign-in step expired. Please sign in again.",
        )
        response.delete_cookie(TOTP_COOKIE, path="/")
        return response
    except InvalidInput as exc:
        error = "Invalid TOTP code" if "Invalid" in exc.message else exc.message
        return render(
            request,
            "login.html",
            status=FORM_ERROR_STATUS,
            step="totp",
            next=next_url,
            email="",
            error=error,
        )
    return _signed_in_response(
        request,
        result.token or "",
        bool(result.user and result.user.force_password_change),
        next_url,
    )


@router.post("/logout")
def logout(request: Request, form: FormDep):
    response = RedirectResponse("/login", status_code=303)
    for name in (SESSION_COOKIE, TOTP_COOKIE):
        response.delete_cookie(name, path="/")
    return response


@router.get("/change-password")
def change_password_page(request: Request, web: AnyWebDep):
    return render(request, "change_password.html", forced=web.actor.password_change_required)


@router.post("/change-password")
def change_password(request: Request, web: AnyWebDep, form: FormDep):
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    confirm = str(form.get("confirm_password") or "")
    forced = web.actor.password_change_required
    errors: dict[str, str] = {}
    if new != confirm:
        errors["confirm_password"] = "Passwords do not match"
    if not errors:
        try:
            call(request, auth.change_password, {"current_password": current, "new_password": new})
        except InvalidInput as exc:
            field = exc.field or "new_password"
            message = exc.message.removeprefix(f"{field}: ")
            if field == "current_password":
                message = "Current password is incorrect"
            errors[field] = message
    if errors:
        return render(
            request, "change_password.html", status=FORM_ERROR_STATUS, forced=forced, errors=errors
        )
    # the change revoked every earlier session, this one included: a new one for this browser
    token = run(request, auth.session_after_password_change, request.app.state.settings, web.actor)
    return _signed_in_response(request, token, False, "/?flash=password-changed")
