"""/api/users (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.common import Deleted, Page
from sigma.schemas.identity import User, UserCreate, UserUpdate
from sigma.server.deps import ActorDep, rule, run
from sigma.services import users

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=Page[User], openapi_extra=rule("admin"))
def list_users(
    request: Request,
    actor: ActorDep,
    role: str | None = Query(None),
    page: int = 1,
    per_page: int = 25,
):
    return run(request, users.list_users, actor, role, page, per_page)


@router.post("", response_model=User, openapi_extra=rule("admin"))
def create_user(request: Request, actor: ActorDep, data: UserCreate):
    return run(request, users.create, actor, data)


@router.get("/{ref}", response_model=User, openapi_extra=rule("admin"))
def get_user(request: Request, actor: ActorDep, ref: str):
    return run(request, users.get, actor, ref)


@router.put("/{ref}", response_model=User, openapi_extra=rule("admin"))
def update_user(request: Request, actor: ActorDep, ref: str, data: UserUpdate):
    return run(request, users.update, actor, ref, data)


@router.delete("/{ref}", response_model=Deleted, openapi_extra=rule("admin"))
def delete_user(request: Request, actor: ActorDep, ref: str):
    run(request, users.delete, actor, ref)
    return Deleted()
