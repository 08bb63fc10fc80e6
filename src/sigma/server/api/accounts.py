"""/api/accounts (admins: provider and DNS accounts, their syncs) and /api/dns (readers: the
DNS records copied from the DNS accounts). Parse -> service -> schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from sigma.schemas.accounts import (
    Account,
    AccountCreate,
    AccountKind,
    AccountUpdate,
    DnsRecord,
    DnsZone,
    SyncReport,
)
from sigma.schemas.common import Deleted, Input, Page
from sigma.server.deps import ActorDep, read, rule, run
from sigma.services import accounts, dns, sync

router = APIRouter(tags=["accounts"])


class SyncRequest(Input):
    accounts: list[str] = Field(default_factory=list, max_length=200)
    dry_run: bool = False


def _settings(request: Request) -> Any:
    return request.app.state.settings


@router.get("/api/accounts", response_model=list[Account], openapi_extra=rule("admin"))
def list_accounts(request: Request, actor: ActorDep):
    return read(request, accounts.list_accounts, actor, _settings(request))


@router.get("/api/accounts/kinds", response_model=list[AccountKind], openapi_extra=rule("admin"))
def account_kinds(request: Request, actor: ActorDep):
    """The kinds of account, the credentials each needs and its default API base."""
    actor.require(("admin",))
    return accounts.kinds()


@router.post("/api/accounts", response_model=Account, openapi_extra=rule("admin"))
def create_account(request: Request, actor: ActorDep, data: AccountCreate):
    """Credentials (`token`, `key_id`, `secret`) are stored encrypted and never returned."""
    return run(request, accounts.create, actor, _settings(request), data)


@router.post("/api/sync", response_model=list[SyncReport], openapi_extra=rule("admin"))
def sync_accounts(request: Request, actor: ActorDep, body: SyncRequest):
    """Sync the accounts named (every enabled one when none is); one report per account."""
    return sync.sync_many(
        request.app.state.sessions, _settings(request), actor, body.accounts, dry_run=body.dry_run
    )


@router.get("/api/accounts/{ref}", response_model=Account, openapi_extra=rule("admin"))
def get_account(request: Request, actor: ActorDep, ref: str):
    """`ref`: the account's UUID, a unique id prefix (4+ chars) or its name."""
    return read(request, accounts.get, actor, _settings(request), ref)


@router.put("/api/accounts/{ref}", response_model=Account, openapi_extra=rule("admin"))
def update_account(request: Request, actor: ActorDep, ref: str, data: AccountUpdate):
    return run(request, accounts.update, actor, _settings(request), ref, data)


@router.delete("/api/accounts/{ref}", response_model=Deleted, openapi_extra=rule("admin"))
def delete_account(request: Request, actor: ActorDep, ref: str):
    """The account, its sync links and its DNS copy go; its VPS stay as they are."""
    run(request, accounts.delete, actor, ref)
    return Deleted()


@router.post("/api/accounts/{ref}/test", openapi_extra=rule("admin"))
def test_account(request: Request, actor: ActorDep, ref: str) -> dict[str, Any]:
    """Ask the provider with the stored credentials; nothing changes (the use is audited)."""
    return run(request, accounts.test, actor, _settings(request), ref)


@router.post("/api/accounts/{ref}/sync", response_model=SyncReport, openapi_extra=rule("admin"))
def sync_account(request: Request, actor: ActorDep, ref: str, dry_run: bool = Query(False)):
    """One sync of the account now; `dry_run` reports what it would change, changing nothing."""
    return sync.sync(request.app.state.sessions, _settings(request), actor, ref, dry_run=dry_run)


@router.get("/api/accounts/{ref}/instances", openapi_extra=rule("admin"))
def account_instances(request: Request, actor: ActorDep, ref: str) -> list[dict[str, Any]]:
    """The instances the account's syncs saw, each with the VPS it fills."""
    return read(request, sync.instances, actor, ref)


@router.get("/api/dns/zones", response_model=list[DnsZone], openapi_extra=rule("any"))
def dns_zones(request: Request, actor: ActorDep):
    return read(request, dns.list_zones, actor)


@router.get("/api/dns/records", response_model=Page[DnsRecord], openapi_extra=rule("any"))
def dns_records(
    request: Request,
    actor: ActorDep,
    zone: str | None = Query(None),
    account: str | None = Query(None),
    linked: bool | None = Query(None),
    q: str | None = Query(None),
    page: int = Query(1),
    per_page: int = Query(100),
):
    f = {"zone": zone, "account": account, "linked": linked, "q": q, "page": page}
    return read(request, dns.list_records, actor, {**f, "per_page": per_page})


@router.get("/api/dns/{name}", openapi_extra=rule("any"))
def dns_show(request: Request, actor: ActorDep, name: str) -> dict[str, Any]:
    """A zone with its records, or every record of one name."""
    shown = read(request, dns.show, actor, name)
    return {
        "zone": shown["zone"].model_dump(mode="json") if shown["zone"] else None,
        "records": [r.model_dump(mode="json") for r in shown["records"]],
    }
