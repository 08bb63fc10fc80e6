"""The plumbing of the web UI: Jinja2 templates, the session cookie, CSRF tokens, the
signed-in user, form parsing, and one error path that renders HTML instead of JSON.

The session is the same JWT the API hands out, kept in an HttpOnly, SameSite=Lax cookie
(Secure when the request came over https). Every state-changing request is a POST carrying a
CSRF token: HMAC(server secret, a random per-browser cookie), so a forged form from another
site has neither the cookie's value nor the secret. Service functions are called with the
Actor behind the cookie: roles are enforced by the same code as for the API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from sigma import __version__
from sigma.db.engine import unit_of_work
from sigma.errors import InvalidInput, NotAuthenticated, PermissionDenied, SigmaError
from sigma.schemas.identity import User
from sigma.services import auth
from sigma.services.actor import ADMINS, WRITERS, Actor
from sigma.vocab import IP_LABEL_SHORT, data_size, days_until, parse_timestamp

SESSION_COOKIE = "sigma_session"
CSRF_COOKIE = "sigma_csrf"
TOTP_COOKIE = "sigma_totp"
ONCE_COOKIE = "sigma_once"  # a secret shown once after a redirect (show_once)
TEMPLATES = Path(__file__).parent / "templates"
# A form shown again with its messages is an ordinary page (as in Django): a 4xx document
# would be reported by browsers as a failed load. Real errors (403, 404, 409...) keep theirs.
FORM_ERROR_STATUS = 200

IP_LABEL_NAMES = {
    "": "—",
    "china-telecom": "电信",
    "china-unicom": "联通",
    "china-mobile": "移动",
    "china-cernet": "教育网",
    "overseas": "海外",
    "internal": "内网",
    "anycast": "Anycast",
}
COUNTRIES = (
    "AU",
    "BR",
    "CA",
    "CH",
    "CN",
    "DE",
    "FR",
    "GB",
    "HK",
    "ID",
    "IN",
    "JP",
    "KR",
    "MO",
    "MY",
    "NL",
    "PH",
    "RU",
    "SG",
    "TH",
    "TR",
    "TW",
    "US",
    "VN",
)
FLASH = {
    "password-changed": "Your password was changed.",
    "mfa-enabled": "Two-factor authentication enabled.",
    "mfa-disabled": "Two-factor authentication disabled.",
    "key-revoked": "The API key was revoked.",
    "vps-created": "VPS created.",
    "vps-updated": "VPS updated.",
    "vps-retired": "VPS retired.",
    "vps-renewed": "VPS renewed: its expiry moved forward by one billing cycle.",
    "thresholds-saved": "Alert thresholds saved.",
    "vps-replaced": "Replacement recorded: the old VPS is retiring and linked to this one.",
    "vps-deleted": "VPS moved to the trash (sigma vps trash, sigma vps restore).",
    "provider-saved": "Provider saved.",
    "provider-deleted": "Provider deleted.",
    "ticket-saved": "Ticket saved.",
    "ticket-deleted": "Ticket deleted.",
    "ticket-status": "Ticket status changed.",
    "comment-added": "Comment added.",
    "user-saved": "User saved.",
    "user-deleted": "User deleted.",
    "totp-reset": "Two-factor authentication was turned off for that user.",
    "agent-released": "The agent keys of this VPS were released and revoked.",
    # bulk actions on the VPS list: {n} changed of {of} selected (?n=&of=, see flash_text)
    "bulk-retired": "{n} of {of} selected VPS retired.",
    "bulk-tagged": "Tag added to {n} of {of} selected VPS.",
    "bulk-none": "Select at least one VPS first.",
    "rate-saved": "Exchange rate saved.",
    "rate-deleted": "Exchange rate deleted.",
    "attention-acked": "Item acknowledged: it comes back if its facts change.",
    "attention-snoozed": "Item snoozed: it comes back when the snooze ends or its facts change.",
    "attention-reopened": "Item back on the list.",
    "attention-gone": "That item no longer needs attention.",
    "account-saved": "Account saved.",
    "account-deleted": "Account removed: the VPS it created stay, as they are.",
    "account-enabled": "Account enabled: it syncs at the next scheduled run.",
    "account-disabled": "Account disabled: it no longer syncs on schedule.",
}
PROJECTS = (
    ("p:airport", "Airport"),
    ("p:aoxvpn", "AoxVPN"),
    ("p:purevpn", "PureVPN"),
    ("p:coolmoovpn", "CoolMooVPN"),
)


# ------------------------------------------------------------------ control flow


class Redirect(Exception):  # noqa: N818 - a control-flow signal, not an error
    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


class WebRoute(APIRoute):
    """Errors of a page become HTML: a login redirect, or an error page with the status."""

    def get_route_handler(self) -> Callable:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except Redirect as r:
                return RedirectResponse(r.url, status_code=303)
            except NotAuthenticated:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(
                    f"/login?next={quote(target, safe='')}", status_code=303
                )
                response.delete_cookie(SESSION_COOKIE, path="/")
                return response
            except SigmaError as exc:
                return error_page(request, exc.http_status, exc.message)

        return handler


# ------------------------------------------------------------------ templates

_env = None


def env():
    global _env
    if _env is None:
        from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

        _env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.filters.update(
            dt=fmt_dt,
            ago=ago,
            days_left=days_until,
            ip_short=ip_short,
            json_pretty=json_pretty,
            uptime=uptime,
            ram=ram,
            size=data_size,
        )
        _env.globals.update(
            version=__version__,
            IP_LABEL_NAMES=IP_LABEL_NAMES,
            COUNTRIES=COUNTRIES,
            PROJECTS=PROJECTS,
            pages=page_numbers,
            qs=with_query,
        )
    return _env


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    seed = request.cookies.get(CSRF_COOKIE) or ""
    new_seed = None
    if len(seed) < 16:
        seed = new_seed = secrets.token_urlsafe(24)
    web: Web | None = getattr(request.state, "web", None)
    context.setdefault("errors", {})
    once = _take_once(request)
    context.setdefault("once", once)
    html = (
        env()
        .get_template(template)
        .render(
            request=request,
            web=web,
            csrf_token=csrf_token(request, seed),
            path=request.url.path,
            query=dict(request.query_params),
            flash=flash_text(request),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if new_seed:
        set_cookie(request, response, CSRF_COOKIE, new_seed, max_age=None)
    if ONCE_COOKIE in request.cookies:
        response.delete_cookie(ONCE_COOKIE, path="/")
    return response


def flash_text(request: Request) -> str | None:
    """The message of ?flash=KEY; one with counts takes them from ?n= and ?of= (digits only,
    else no message)."""
    text = FLASH.get(request.query_params.get("flash", ""))
    if text is None or "{" not in text:
        return text
    counts = {k: request.query_params.get(k, "") for k in ("n", "of")}
    if not all(v.isdigit() and len(v) <= 6 for v in counts.values()):
        return None
    return text.format(**{k: int(v) for k, v in counts.items()})


def show_once(request: Request, url: str, **payload: str) -> RedirectResponse:
    """Post/redirect/get for a form that creates a secret (an API key): the secret travels
    to the next page in a short-lived HttpOnly cookie, signed, which that page shows once and
    deletes. Reloading the page neither shows it again nor creates a second one."""
    body = json.dumps(payload, separators=(",", ":"))
    mac = hmac.new(_csrf_key(request), b"once:" + body.encode(), hashlib.sha256).hexdigest()
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        ONCE_COOKIE,
        quote(f"{mac}.{body}", safe=""),
        max_age=120,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _take_once(request: Request) -> dict[str, str] | None:
    from urllib.parse import unquote

    raw = unquote(request.cookies.get(ONCE_COOKIE) or "")
    mac, _, body = raw.partition(".")
    expected = hmac.new(_csrf_key(request), b"once:" + body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac, expected):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    titles = {
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        422: "Invalid input",
        429: "Too many requests",
        503: "Unavailable",
    }
    return render(
        request,
        "error.html",
        status=status,
        title=titles.get(status, "Error"),
        message=message,
        status_code=status,
    )


# ------------------------------------------------------------------ cookies and CSRF


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _csrf_key(request: Request) -> bytes:
    secret = auth._secret(request.app.state.settings)  # the server's JWT secret
    return hashlib.sha256(b"sigma-web-csrf:" + secret.encode()).digest()


def csrf_token(request: Request, seed: str) -> str:
    """HMAC(server secret, the browser's CSRF cookie and its session): a token from another
    browser, or from before the user signed in or out, does not pass."""
    session = request.cookies.get(SESSION_COOKIE) or ""
    bound = seed + "|" + hashlib.sha256(session.encode()).hexdigest()
    return hmac.new(_csrf_key(request), bound.encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, form: FormData) -> None:
    seed = request.cookies.get(CSRF_COOKIE) or ""
    sent = str(form.get("csrf_token") or "")
    if len(seed) < 16 or not hmac.compare_digest(sent, csrf_token(request, seed)):
        raise PermissionDenied(
            "The form expired or did not come from this site (CSRF check failed). "
            "Go back, reload the page and try again."
        )
    origin = request.headers.get("origin")
    if origin is not None:
        # "null" is what a sandboxed frame or a data: page sends: never this site
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin.rstrip("/") != expected:
            raise PermissionDenied("Cross-site form submission refused (Origin does not match).")


async def form_data(request: Request) -> FormData:
    """The POSTed form, after its CSRF check."""
    form = await request.form()
    check_csrf(request, form)
    return form


FormDep = Annotated[FormData, Depends(form_data)]


# ------------------------------------------------------------------ the signed-in user


@dataclass
class Web:
    actor: Actor
    user: User

    @property
    def role(self) -> str:
        return self.actor.effective_role

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    @property
    def is_admin(self) -> bool:
        return self.role in ADMINS


def _signed_in(request: Request, *, allow_password_change: bool = False) -> Web:
    from sigma.server.deps import client_ip

    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotAuthenticated("Unauthorized")
    with unit_of_work(request.app.state.sessions) as session:
        actor = auth.authenticate(
            session,
            request.app.state.settings,
            bearer=token,
            api_key=None,
            client_ip=client_ip(request),
        )
        user = auth.me(session, actor)
    if actor.password_change_required and not allow_password_change:
        raise Redirect("/change-password")
    web = Web(actor=actor, user=user)
    request.state.web = web
    return web


def signed_in(request: Request) -> Web:
    return _signed_in(request)


def signed_in_any(request: Request) -> Web:
    """Also for a user who must change the password first (the change-password page)."""
    return _signed_in(request, allow_password_change=True)


def admin(request: Request) -> Web:
    web = _signed_in(request)
    if not web.is_admin:
        raise PermissionDenied("This page is for administrators.")
    return web


WebDep = Annotated[Web, Depends(signed_in)]
AnyWebDep = Annotated[Web, Depends(signed_in_any)]
AdminDep = Annotated[Web, Depends(admin)]


def call(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """A service call as the signed-in user, in one transaction."""
    from sigma.server.deps import run

    return run(request, fn, request.state.web.actor, *args)


def field_errors(exc: InvalidInput) -> dict[str, str]:
    """{field: message} for showing messages next to the form fields."""
    errors: dict[str, str] = {}
    if isinstance(exc.details, list):
        for d in exc.details:
            if isinstance(d, dict) and d.get("field"):
                errors.setdefault(str(d["field"]), str(d.get("message", "")))
    if exc.field and exc.field not in errors:
        message = exc.message
        prefix = f"{exc.field}: "
        errors[exc.field] = message[len(prefix) :] if message.startswith(prefix) else message
    if not errors:
        errors["_form"] = exc.message
    return errors


def safe_next(value: str | None) -> str:
    """Only local paths: no open redirect through ?next=."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# ------------------------------------------------------------------ filters


def _as_dt(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def fmt_dt(value: Any, with_time: bool = True) -> str:
    dt = _as_dt(value)
    if dt is None:
        return "—"
    return dt.strftime("%Y-%m-%d %H:%M UTC") if with_time else dt.strftime("%Y-%m-%d")


def ago(value: Any) -> str:
    dt = _as_dt(value)
    if dt is None:
        return "—"
    seconds = int((datetime.now(UTC) - dt).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds}s ago"


def ip_short(label: str) -> str:
    return IP_LABEL_SHORT.get(label, label.upper()[:3])


def json_pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def uptime(seconds: Any) -> str:
    try:
        s = int(seconds)
    except (TypeError, ValueError):
        return "—"
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    return f"{d}d {h}h" if d else f"{h}h {m}m"


def ram(mb: Any) -> str:
    try:
        v = int(mb)
    except (TypeError, ValueError):
        return "—"
    return f"{v / 1024:.1f} GB" if v >= 1024 else f"{v} MB"


def page_numbers(page: int, total: int, per_page: int) -> list[int | None]:
    """Page numbers with None for an ellipsis: 1 … 4 5 6 … 20."""
    last = max(1, math.ceil(total / per_page))
    wanted = {1, last, page - 1, page, page + 1}
    out: list[int | None] = []
    for n in range(1, last + 1):
        if n in wanted:
            out.append(n)
        elif out and out[-1] is not None:
            out.append(None)
    return out


def with_query(query: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**query, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged, doseq=True) if merged else "?"
