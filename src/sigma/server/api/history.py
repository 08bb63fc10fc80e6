"""/api/ip-history: which VPS held an address, from when until when."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.common import Page, validate
from sigma.schemas.history import IpHistoryQuery, IpHolding
from sigma.server.deps import ActorDep, read, rule
from sigma.services import history

router = APIRouter(tags=["vps"])


@router.get("/api/ip-history", response_model=Page[IpHolding], openapi_extra=rule("any"))
def ip_history(
    request: Request,
    actor: ActorDep,
    ip: str = Query(
        ...,
        description="an address (103.1.2.3), a CIDR (103.1.2.0/24) or the start of an "
        "address in whole parts (103.1.2. or 2001:db8:)",
    ),
    since: str | None = Query(None, description="only holdings that last until this time"),
    until: str | None = Query(None, description="only holdings that began by this time"),
    page: int = Query(1),
    per_page: int = Query(25),
):
    """By address, each address's holders newest first: held by a VPS under a label, from
    `since` until `until` (null: still held), with the VPS's state now (its status,
    trashed, purged). A returning or recycled address shows each of its holders."""
    raw = {"ip": ip, "since": since, "until": until, "page": page, "per_page": per_page}
    q = validate(IpHistoryQuery, {k: v for k, v in raw.items() if v is not None})
    return read(request, history.ip_history, actor, q)
