"""/api/vps: parse -> service -> schema."""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request, Response

from sigma.schemas.common import Deleted, Page, validate
from sigma.schemas.inventory import Vps, VpsCreate, VpsFilter, VpsUpdate
from sigma.server.deps import ActorDep, read, rule, run
from sigma.services import vps

router = APIRouter(prefix="/api/vps", tags=["vps"])


@router.get("", response_model=Page[Vps], openapi_extra=rule("inventory"))
def list_vps(
    request: Request,
    actor: ActorDep,
    status: str | None = Query(None),
    country: str | None = Query(None),
    provider_id: str | None = Query(None),
    provider: str | None = Query(None, description="provider id, id prefix or name"),
    purpose: str | None = Query(None),
    tag: list[str] = Query([], description="repeatable: the VPS must have every tag"),
    expiring_within_days: int | None = Query(None),
    search: str | None = Query(
        None,
        description="text in hostname or alias; an IP address, or the start of one, also "
        "matches the IP list",
    ),
    ip: str | None = Query(None, description="exact IP address"),
    expiry: str | None = Query(
        None, description="overdue (expiry passed) or soon (within 7 days); retired left out"
    ),
    agent: str | None = Query(None, description="online, offline or none (no agent)"),
    sort: str | None = Query(
        None,
        description="FIELD or FIELD:asc|desc, FIELD one of hostname, country, provider, "
        "status, cost, expiry, created (ties by hostname, id); default: status, expiry, "
        "hostname",
    ),
    page: int = Query(1),
    per_page: int = Query(25),
):
    raw = dict(
        status=status,
        country=country,
        provider_id=provider_id or None,
        provider=provider or None,
        purpose=purpose,
        tag=tag,
        expiring_within_days=expiring_within_days,
        search=search,
        ip=ip,
        expiry=expiry,
        agent=agent,
        sort=sort,
        page=page,
        per_page=per_page,
    )
    f = validate(VpsFilter, {k: v for k, v in raw.items() if v is not None})
    return read(request, vps.list_vps, actor, f)


def _warn(response: Response, v: Vps) -> None:
    for warning in v._warnings:
        response.headers.append("X-Sigma-Warning", warning)


@router.post("", response_model=Vps, openapi_extra=rule("op"))
def create_vps(request: Request, response: Response, actor: ActorDep, data: VpsCreate):
    """A hostname or IP address another VPS in service also has is accepted and named in an
    `X-Sigma-Warning` header; a hostname differing from another only in case is a 409."""
    v = run(request, vps.create, actor, data)
    _warn(response, v)
    return v


@router.get("/{ref}", response_model=Vps, openapi_extra=rule("inventory"))
def get_vps(request: Request, response: Response, actor: ActorDep, ref: str):
    """`ref`: the VPS's UUID, a unique id prefix (4+ chars) or its hostname.
    The ETag header is the VPS's version: send it back as If-Match on PUT."""
    v = run(request, vps.get, actor, ref)
    response.headers["ETag"] = vps.etag(v)
    return v


@router.put(
    "/{ref}",
    response_model=Vps,
    openapi_extra=rule("op"),
    responses={412: {"description": "If-Match does not match the current version"}},
)
def update_vps(
    request: Request,
    response: Response,
    actor: ActorDep,
    ref: str,
    data: VpsUpdate,
    if_match: str | None = Header(None),
):
    v = run(request, vps.update, actor, ref, data, vps.parse_if_match(if_match))
    response.headers["ETag"] = vps.etag(v)
    _warn(response, v)
    return v


@router.delete("/{ref}", response_model=Deleted, openapi_extra=rule("op"))
def delete_vps(request: Request, actor: ActorDep, ref: str):
    run(request, vps.delete, actor, ref)
    return Deleted()


@router.post("/{ref}/retire", response_model=Vps, openapi_extra=rule("op"))
def retire_vps(request: Request, actor: ActorDep, ref: str):
    return run(request, vps.retire, actor, ref)
