"""Request-scoped helpers for the routes: who is calling (Actor), the unit of work, and the
declared role rule of each route (read by the RBAC matrix test and the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from sigma.db.engine import unit_of_work
from sigma.services import auth
from sigma.services.actor import Actor
from sigma.settings import Settings

T = TypeVar("T")

# who may call a route: public, any (every authenticated reader), op, admin, agent, user (a JWT user)
RULES = ("public", "any", "op", "admin", "agent", "user")


MAX_PAGE = 1_000_000


async def query_guard(request: Request) -> None:
    """On every route: query values with NUL characters (PostgreSQL cannot compare them)
    and page numbers beyond any real listing (their OFFSET overflows the database's
    integers) are refused with a 422 naming the parameter, never a 500. Async: no thread hop.
    (The heartbeat, answered by the gateway before FastAPI, takes no query parameters.)"""
    from sigma.errors import InvalidInput

    for key, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in key:
            raise InvalidInput(f"{key}: must not contain NUL characters", field=key.replace("\x00", ""))
    page = request.query_params.get("page", "").strip()
    if page.lstrip("+").isdigit() and int(page) > MAX_PAGE:
        raise InvalidInput(f"page: must be at most {MAX_PAGE}", field="page")


def rule(who: str) -> dict[str, Any]:
    assert who in RULES, who
    return {"x-sigma-role": who}


def peer_ip(headers: Any, client_host: str | None, trust_forwarded_for: bool) -> str:
    """The client's IP: the first X-Forwarded-For entry only behind a trusted proxy."""
    if trust_forwarded_for:
        forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return client_host or "unknown"


def client_ip(request: Request) -> str:
    settings: Settings = request.app.state.settings
    host = request.client.host if request.client else None
    return peer_ip(request.headers, host, settings.trust_forwarded_for)


def current_actor(request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
    with unit_of_work(request.app.state.sessions) as session:
        actor = auth.authenticate(
            session,
            request.app.state.settings,
            bearer=bearer,
            api_key=request.headers.get("x-api-key"),
            client_ip=client_ip(request),
        )
    if not request.url.path.startswith("/api/auth/"):
        auth.require_password_changed(actor)
    request.state.actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def run(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a service function in one transaction; it commits before the response is sent."""
    with unit_of_work(request.app.state.sessions) as session:
        return fn(session, *args, **kwargs)


def read(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a service function that only reads, in one statement (a listing and its count):
    no BEGIN/COMMIT round trips (`unit_of_work(read_only=True)`). Never for one that writes."""
    with unit_of_work(request.app.state.sessions, read_only=True) as session:
        return fn(session, *args, **kwargs)
