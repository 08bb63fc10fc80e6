"""Request-scoped helpers for the routes: who is calling (Actor), the unit of work, and the
declared role rule of each route (read by the RBAC matrix test and the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from sigma.db.engine import unit_of_work
from sigma.services import auth
from sigma.services.actor import (
    ADMINS,
    AGENTS,
    INVENTORY_READERS,
    PROBES,
    READERS,
    ROLES,
    WRITERS,
    Actor,
)

T = TypeVar("T")

# who may call a route, declared on it with openapi_extra=rule(...) and checked before its
# body is read (an unauthorised caller gets 403, never a validation error about the body).
# The services check the same roles again, with the finer rules (an agent's own VPS...).
RULE_ROLES: dict[str, tuple[str, ...]] = {
    "public": (),  # no credentials needed
    "any": READERS,  # every authenticated reader
    "inventory": INVENTORY_READERS,  # the VPS listing: readers and probes
    "op": WRITERS,
    "admin": ADMINS,
    "agent": AGENTS,  # agents' own reports
    "probe": PROBES,  # probe targets and results
    "user": ROLES,  # about the caller's own account
}
RULES = tuple(RULE_ROLES)


MAX_PAGE = 1_000_000


async def query_guard(request: Request) -> None:
    """On every route: query values with NUL characters (PostgreSQL cannot compare them)
    and page numbers beyond any real listing (their OFFSET overflows the database's
    integers) are refused with a 422 naming the parameter, never a 500. Async: no thread hop.
    (The heartbeat, answered by the gateway before FastAPI, takes no query parameters.)"""
    from sigma.errors import InvalidInput

    for key, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in key:
            raise InvalidInput(
                f"{key}: must not contain NUL characters", field=key.replace("\x00", "")
            )
    page = request.query_params.get("page", "").strip()
    if page.lstrip("+").isdigit() and int(page) > MAX_PAGE:
        raise InvalidInput(f"page: must be at most {MAX_PAGE}", field="page")


def rule(who: str) -> dict[str, Any]:
    assert who in RULES, who
    return {"x-sigma-role": who}


def client_ip(request: Request) -> str:
    """The client's address: the TCP peer, or behind a trusted proxy the rightmost
    X-Forwarded-For hop that is not a trusted proxy (server.proxies sets it)."""
    return request.client.host if request.client else "unknown"


def route_rule(request: Request) -> str | None:
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    return extra.get("x-sigma-role")


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
    auth.require_password_changed(actor, request.url.path)
    rule_name = route_rule(request)
    if rule_name and rule_name != "public":
        actor.require(RULE_ROLES[rule_name])
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
