"""/api/providers: parse -> service -> schema."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.common import Deleted, Page
from sigma.schemas.inventory import Provider, ProviderCreate, ProviderUpdate
from sigma.server.deps import ActorDep, rule, run
from sigma.services import providers

router = APIRouter(prefix="/api/providers", tags=["providers"])


@router.get("", response_model=Page[Provider], openapi_extra=rule("any"))
def list_providers(
    request: Request, actor: ActorDep, page: int = Query(1), per_page: int = Query(25)
):
    return run(request, providers.list_providers, actor, page, per_page)


@router.post("", response_model=Provider, openapi_extra=rule("op"))
def create_provider(request: Request, actor: ActorDep, data: ProviderCreate):
    return run(request, providers.create, actor, data)


@router.get("/{ref}", response_model=Provider, openapi_extra=rule("any"))
def get_provider(request: Request, actor: ActorDep, ref: str):
    """`ref`: the provider's UUID, a unique id prefix (4+ chars) or its name."""
    return run(request, providers.get, actor, ref)


@router.put("/{ref}", response_model=Provider, openapi_extra=rule("op"))
def update_provider(request: Request, actor: ActorDep, ref: str, data: ProviderUpdate):
    return run(request, providers.update, actor, ref, data)


@router.delete("/{ref}", response_model=Deleted, openapi_extra=rule("op"))
def delete_provider(request: Request, actor: ActorDep, ref: str):
    run(request, providers.delete, actor, ref)
    return Deleted()
