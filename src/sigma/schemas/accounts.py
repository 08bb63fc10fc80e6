"""Provider and DNS accounts (issue 19): what an operator sends to add or change one, what
is shown of one (never its credentials), what a sync did, and the DNS records it copied."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator

from sigma.schemas.common import (
    BaseModel,
    Input,
    Name,
    Output,
    Timestamp,
    Url,
    one_of,
    refuse_nulls,
    short_text,
)
from sigma.vocab import ACCOUNT_KINDS

Kind = Annotated[str, BeforeValidator(lambda v: one_of(v, ACCOUNT_KINDS, "account kind"))]
MAX_SECRET = 4096
OPTION_KEYS = ("region",)


def _secret(value: Any) -> Any:
    if value is None:
        return None
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    raw = raw.strip()
    if len(raw) > MAX_SECRET:
        raise ValueError(f"is longer than {MAX_SECRET} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ValueError("holds control characters (a pasted newline?)")
    return SecretStr(raw)


Secret = Annotated[SecretStr | None, BeforeValidator(_secret)]


def _options(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of option: value")
    out = {}
    for key, v in value.items():
        if key not in OPTION_KEYS:
            raise ValueError(
                f"unknown option '{str(key)[:40]}'; expected one of: {', '.join(OPTION_KEYS)}"
            )
        out[key] = short_text(v)
    return out


Options = Annotated[dict[str, str], BeforeValidator(_options)]


class AccountCredentials(Input):
    """The secret parts: `token` (an API token, KiwiVM's API key), `key_id` (Alibaba's
    AccessKeyId, Virtualizor's API key, KiwiVM's VEID) and `secret` (Alibaba's
    AccessKeySecret, Virtualizor's API pass). Which ones a kind needs: `sigma account kinds`."""

    token: Secret = None
    key_id: Secret = None
    secret: Secret = None

    def values(self) -> dict[str, str]:
        return {
            k: v.get_secret_value()
            for k in ("token", "key_id", "secret")
            if (v := getattr(self, k)) is not None and v.get_secret_value()
        }


class AccountCreate(AccountCredentials):
    kind: Kind
    name: Name
    provider: str | None = Field(None, description="the provider's name or id the VPS get")
    api_base: Url = ""
    options: Options = Field(default_factory=dict)
    interval_minutes: int = Field(60, ge=5, le=10080)
    api_wins: bool = False
    enabled: bool = True


class AccountUpdate(AccountCredentials):
    name: Name | None = None
    provider: str | None = None
    api_base: Url | None = None
    options: Options | None = None
    interval_minutes: int | None = Field(None, ge=5, le=10080)
    api_wins: bool | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> AccountUpdate:
        refuse_nulls(self, nullable={"provider", "token", "key_id", "secret"})
        return self


class Account(Output):
    id: UUID
    name: str
    kind: str
    role: str = ""  # servers or dns
    provider_id: UUID | None
    provider_name: str | None = None
    api_base: str
    options: dict[str, Any]
    interval_minutes: int
    api_wins: bool
    enabled: bool
    # which credential fields are stored, never their values
    credentials: list[str] = Field(default_factory=list)
    last_sync_at: Timestamp | None
    last_status: str
    last_error: str
    last_report: dict[str, Any]
    next_sync_at: Timestamp | None
    failures: int
    instances: int = 0
    created_at: Timestamp
    updated_at: Timestamp


class AccountKind(BaseModel):
    kind: str
    title: str
    role: str
    needs: list[str]
    api_base: str
    help: str


class SyncChange(BaseModel):
    """One thing a sync did (or, dry, would do) to one VPS."""

    action: str  # create, update, gone, link, skip
    instance_id: str
    vps_id: UUID | None = None
    hostname: str = ""
    changes: dict[str, Any] = Field(default_factory=dict)
    kept: list[str] = Field(default_factory=list)  # fields the operator's value won
    note: str = ""


class SyncReport(BaseModel):
    account: str
    account_id: UUID
    kind: str
    dry_run: bool = False
    ok: bool = True
    error: str = ""
    retry_after: float | None = None
    listed: int = 0
    created: int = 0
    updated: int = 0
    gone: int = 0
    unchanged: int = 0
    skipped: int = 0
    changes: list[SyncChange] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    seconds: float = 0.0


class DnsRecord(Output):
    id: UUID
    zone: str = ""
    account: str = ""
    record_id: str
    name: str
    type: str
    content: str
    ttl: int | None
    proxied: bool
    vps_id: UUID | None
    vps_hostname: str | None = None
    vps_status: str | None = None
    cert_not_after: Timestamp | None
    cert_error: str
    cert_checked_at: Timestamp | None


class DnsZone(Output):
    id: UUID
    account_id: UUID
    account: str = ""
    zone_id: str
    name: str
    status: str
    expires_at: Timestamp | None
    synced_at: Timestamp
    records: int = 0
    linked: int = 0


class DnsFilter(Input):
    zone: str | None = None
    account: str | None = None
    linked: bool | None = None
    q: str | None = Field(None, max_length=253)
    page: int = 1
    per_page: int = 100

    @field_validator("q", "zone", "account")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        return short_text(v) or None if v is not None else None
