"""/api/auth: login (with the TOTP second step), me, refresh, change password, TOTP, API keys."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sigma.schemas.identity import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ChangePassword,
    LoginRequest,
    LoginResult,
    TotpCode,
    TotpLogin,
    TotpSetup,
    TotpState,
    User,
)
from sigma.server.deps import ActorDep, client_ip, rule, run
from sigma.services import auth

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=LoginResult,
    response_model_exclude_none=True,
    openapi_extra=rule("public"),
)
def login(request: Request, data: LoginRequest):
    return run(request, auth.login, request.app.state.settings, data, client_ip(request))


@router.post(
    "/login/totp",
    response_model=LoginResult,
    response_model_exclude_none=True,
    openapi_extra=rule("public"),
)
def login_totp(request: Request, data: TotpLogin):
    return run(request, auth.login_totp, request.app.state.settings, data, client_ip(request))


@router.get("/me", response_model=User, openapi_extra=rule("user"))
def me(request: Request, actor: ActorDep):
    return run(request, auth.me, actor)


@router.post(
    "/refresh",
    response_model=LoginResult,
    response_model_exclude_none=True,
    openapi_extra=rule("user"),
)
def refresh(request: Request, actor: ActorDep):
    return run(request, auth.refresh, request.app.state.settings, actor)


@router.post("/logout-all", response_model=User, openapi_extra=rule("user"))
def logout_all(request: Request, actor: ActorDep):
    """Revoke every access token of the caller's user (API keys stay; revoke them one by one)."""
    return run(request, auth.logout_all, actor)


@router.post("/change-password", response_model=User, openapi_extra=rule("user"))
def change_password(request: Request, actor: ActorDep, data: ChangePassword):
    return run(request, auth.change_password, actor, data)


@router.post("/totp/setup", response_model=TotpSetup, openapi_extra=rule("user"))
def totp_setup(request: Request, actor: ActorDep):
    return run(request, auth.totp_setup, actor)


@router.post("/totp/verify", response_model=TotpState, openapi_extra=rule("user"))
def totp_verify(request: Request, actor: ActorDep, data: TotpCode):
    return run(request, auth.totp_verify, actor, data.code)


@router.post("/totp/disable", response_model=TotpState, openapi_extra=rule("user"))
def totp_disable(request: Request, actor: ActorDep, data: TotpCode):
    return run(request, auth.totp_disable, actor, data.code)


@router.get("/api-keys", response_model=list[ApiKey], openapi_extra=rule("user"))
def list_api_keys(request: Request, actor: ActorDep, all_users: bool = False):
    return run(request, auth.list_api_keys, actor, all_users)


@router.post("/api-keys", response_model=ApiKeyCreated, openapi_extra=rule("user"))
def create_api_key(request: Request, actor: ActorDep, data: ApiKeyCreate, user: str | None = None):
    """Creates a key for yourself, or (admin) for `user` (e.g. an agent account).
    The secret is in this response only."""
    return run(request, auth.create_api_key, actor, data, user)


@router.delete("/api-keys/{ref}", response_model=ApiKey, openapi_extra=rule("user"))
def revoke_api_key(request: Request, actor: ActorDep, ref: str):
    return run(request, auth.revoke_api_key, actor, ref)
