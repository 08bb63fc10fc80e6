"""/api/vps: parse -> service -> schema."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas import Deleted, Page, Vps, VpsCreate, VpsFilter, VpsUpdate, validate
from sigma.server.deps import ActorDep, rule, run
from sigma.services import vps

router = APIRouter(prefix="/api/vps", tags=["vps"])


@router.get("", response_model=Page[Vps], openapi_extra=rule("any"))
def list_vps(
    request: Request,
    actor: ActorDep,
    status: str | None = Query(None),
    country: str | None = Query(None),
    provider_id: str | None = Query(None),
    purpose: str | None = Query(None),
    tag: list[str] = Query([], description="repeatable: the VPS must have every tag"),
    expiring_within_days: int | None = Query(None),
    search: str | None = Query(None, description="text in hostname or alias"),
    ip: str | None = Query(None, description="exact IP address"),
    page: int = Query(1),
    per_page: int = Query(25),
):
    raw = dict(
        status=status, country=country, provider_id=provider_id or None, purpose=purpose,
        tag=tag, expiring_within_days=expiring_within_days, search=search, ip=ip,
        page=page, per_page=per_page,
    )
    f = validate(VpsFilter, {k: v for k, v in raw.items() if v is not None})
    return run(request, vps.list_vps, actor, f)


@router.post("", response_model=Vps, openapi_extra=rule("op"))
def create_vps(request: Request, actor: ActorDep, data: VpsCreate):
    return run(request, vps.create, actor, data)


@router.get("/{ref}", response_model=Vps, openapi_extra=rule("any"))
def get_vps(request: Request, actor: ActorDep, ref: str):
    """`ref`: the VPS's UUID, a unique id prefix (4+ chars) or its hostname."""
    return run(request, vps.get, actor, ref)


@router.put("/{ref}", response_model=Vps, openapi_extra=rule("op"))
def update_vps(request: Request, actor: ActorDep, ref: str, data: VpsUpdate):
    return run(request, vps.update, actor, ref, data)


@router.delete("/{ref}", response_model=Deleted, openapi_extra=rule("op"))
def delete_vps(request: Request, actor: ActorDep, ref: str):
    run(request, vps.delete, actor, ref)
    return Deleted()


@router.post("/{ref}/retire", response_model=Vps, openapi_extra=rule("op"))
def retire_vps(request: Request, actor: ActorDep, ref: str):
    return run(request, vps.retire, actor, ref)
