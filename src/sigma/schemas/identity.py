"""Users, sign-ins, TOTP, API keys and the audit log's entries."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, Field, model_validator

from sigma.schemas.common import (
    BaseModel,
    Input,
    Name,
    Output,
    PageParams,
    ShortText,
    Timestamp,
    one_of,
    refuse_nulls,
    short_text,
)
from sigma.vocab import parse_timestamp

USER_ROLES = ("admin", "operator", "readonly", "agent", "probe")
MIN_PASSWORD = 8


def _email(value: Any) -> str:
    v = short_text(value).lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", v):
        raise ValueError(f"'{value}' is not an email address")
    return v


def _password(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) < MIN_PASSWORD:
        raise ValueError(f"must be at least {MIN_PASSWORD} characters")
    if len(value) > 1024:
        raise ValueError("is longer than 1024 characters")
    return value


Email = Annotated[str, BeforeValidator(_email)]
Password = Annotated[str, BeforeValidator(_password)]
Role = Annotated[str, BeforeValidator(lambda v: one_of(v, USER_ROLES, "role"))]


class UserCreate(Input):
    email: Email
    password: Password
    name: ShortText = ""
    role: Role = "readonly"
    force_password_change: bool = False


class UserUpdate(Input):
    email: Email | None = None
    name: ShortText | None = None
    role: Role | None = None
    password: Password | None = None
    active: bool | None = None
    force_password_change: bool | None = None
    totp_enabled: bool | None = None  # only `false` has an effect: it resets MFA

    @model_validator(mode="after")
    def _no_nulls(self) -> UserUpdate:
        refuse_nulls(self, nullable=set())
        return self


class User(Output):
    id: UUID
    email: str
    name: str
    role: str
    active: bool
    force_password_change: bool
    totp_enabled: bool
    created_at: Timestamp
    updated_at: Timestamp


class LoginRequest(Input):
    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=1024)]


class TotpLogin(Input):
    totp_token: Annotated[str, Field(max_length=4096)]
    code: Annotated[str, Field(max_length=16)]


class LoginResult(BaseModel):
    token: str | None = None
    user: User | None = None
    requires_totp: bool | None = None
    totp_token: str | None = None


class ChangePassword(Input):
    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Password


class TotpCode(Input):
    code: Annotated[str, Field(max_length=16)]


class TotpSetup(BaseModel):
    secret: str
    otpauth_url: str
    qr_code: str  # a base64 PNG, no data: prefix


class TotpState(BaseModel):
    totp_enabled: bool


class ApiKeyCreate(Input):
    name: Name
    read_only: bool = False
    expires_in_days: Annotated[int | None, Field(ge=1, le=3650)] = None


class ApiKey(Output):
    id: UUID
    user_id: UUID
    name: str
    prefix: str
    read_only: bool
    # the VPS an agent's key is bound to (None: any, by its role; an agent key not bound yet)
    vps_id: UUID | None = None
    # the probe source a probe's key is bound to (None: not bound yet, or not a probe key)
    probe_source: str | None = None
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    created_at: Timestamp
    # names behind the ids, for people: the key's owner and the VPS it is bound to
    user_email: str | None = None
    vps_hostname: str | None = None


class ApiKeyCreated(ApiKey):
    key: str  # shown once; only its hash is stored


class AuditEntry(Output):
    id: UUID
    user_id: UUID | None
    user_email: str
    action: str
    resource: str
    resource_id: str | None
    details: dict[str, Any]
    client_ip: str | None
    created_at: Timestamp


class AuditFilter(PageParams):
    resource: str | None = None
    resource_id: str | None = None
    user_id: UUID | None = None
    action: str | None = None
    since: Annotated[datetime | None, BeforeValidator(parse_timestamp)] = None
    until: Annotated[datetime | None, BeforeValidator(parse_timestamp)] = None
    page: int = 1
    per_page: int = 50
