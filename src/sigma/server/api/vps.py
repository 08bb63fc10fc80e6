"""/api/vps: parse -> service -> schema."""

from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request, Response

from sigma.schemas.common import Deleted, Page, validate
from sigma.schemas.history import (
    DuplicatePair,
    HistoryEvent,
    HistoryFilter,
    MergeRequest,
    MergeResult,
    PurgedVps,
    TrashedVps,
)
from sigma.schemas.inventory import Vps, VpsCreate, VpsFilter, VpsUpdate
from sigma.schemas.lifecycle import (
    RenewRequest,
    RenewResult,
    ReplaceRequest,
    ReplaceResult,
    UpcomingRenewals,
)
from sigma.schemas.monitoring import ReachThresholds, ReachThresholdsIn
from sigma.server.deps import ActorDep, read, rule, run
from sigma.services import billing, history, merge, reach_alerts, replacement, trash, vps

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
    over_quota: str | None = Query(
        None,
        description="only VPS whose traffic this billing period is at least this percentage "
        "of their quota (VPS without a quota left out)",
    ),
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
        over_quota=over_quota or None,
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


# the fixed paths first: /api/vps/duplicates is not a VPS called "duplicates"
@router.get("/duplicates", response_model=Page[DuplicatePair], openapi_extra=rule("any"))
def duplicates(request: Request, actor: ActorDep, page: int = Query(1), per_page: int = Query(25)):
    """Pairs of VPS in service sharing a public IP (any label but internal), a hostname
    (without case) or extra.provider_instance_id, each with its reasons."""
    return read(request, merge.duplicates, actor, page, per_page)


@router.get("/renewals", response_model=UpcomingRenewals, openapi_extra=rule("any"))
def upcoming_renewals(request: Request, actor: ActorDep, within: int = Query(7)):
    """The VPS in service expiring within `within` days (0-366; overdue included), soonest
    first, each with what one billing cycle costs, and the total per currency."""
    return read(request, billing.upcoming, actor, within)


@router.post("/merge", response_model=MergeResult, openapi_extra=rule("op"))
def merge_vps(request: Request, actor: ActorDep, data: MergeRequest):
    """Merge `other` into `keep` in one transaction (IPs, tags, extra, empty fields,
    tickets, IP checks, history, agent keys) and delete `other`; `dry_run` shows the result
    and writes nothing. Conflicting fields keep `keep`'s value and are listed. Merging a VPS
    with itself is a 422, with one in the trash a 409, naming the field."""
    return run(request, merge.merge, actor, data)


@router.get("/trash", response_model=Page[TrashedVps], openapi_extra=rule("any"))
def list_trash(request: Request, actor: ActorDep, page: int = Query(1), per_page: int = Query(25)):
    """The VPS in the trash, most recently deleted first, with when each is purged."""
    days = request.app.state.settings.trash_retention_days
    return read(request, trash.list_trash, actor, page, per_page, days)


@router.get("/{ref}/alert-thresholds", response_model=ReachThresholds, openapi_extra=rule("any"))
def get_alert_thresholds(request: Request, actor: ActorDep, ref: str):
    """The VPS's own latency and loss alert thresholds (null: the settings', in `defaults`)."""
    return read(request, reach_alerts.get_thresholds, actor, ref)


@router.put("/{ref}/alert-thresholds", response_model=ReachThresholds, openapi_extra=rule("op"))
def set_alert_thresholds(request: Request, actor: ActorDep, ref: str, data: ReachThresholdsIn):
    """Set the VPS's own thresholds: `latency_ms` (ms) and `loss_pct` (%), 0 = no alert,
    null = the settings'; both null clears them."""
    return run(request, reach_alerts.set_thresholds, actor, ref, data)


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


@router.delete("/{ref}", response_model=PurgedVps | Deleted, openapi_extra=rule("op"))
def delete_vps(
    request: Request,
    actor: ActorDep,
    ref: str,
    purge: bool = Query(
        False, description="delete for good, from the trash or at once (admins only)"
    ),
):
    """Move the VPS to the trash (hidden everywhere, restorable, purged after
    trash_retention_days): `{"deleted": true}`. With `purge=true` (admins), delete it for
    good, from the trash or at once: `{"deleted": true, "purged": true, "id", "hostname"}`."""
    if purge:
        return run(request, trash.purge, actor, ref)
    run(request, vps.delete, actor, ref)
    return Deleted()


@router.post("/{ref}/restore", response_model=Vps, openapi_extra=rule("op"))
def restore_vps(request: Request, response: Response, actor: ActorDep, ref: str):
    """Bring a VPS back from the trash (404 if it is not in the trash)."""
    v = run(request, trash.restore, actor, ref)
    _warn(response, v)
    return v


@router.get("/{ref}/history", response_model=Page[HistoryEvent], openapi_extra=rule("any"))
def vps_history(
    request: Request,
    actor: ActorDep,
    ref: str,
    since: str | None = Query(None, description="only events at or after this date or time"),
    kind: str | None = Query(None, description="only events of this kind"),
    page: int = Query(1),
    per_page: int = Query(25),
):
    """The VPS's timeline, newest first: field, status and IP changes, trash and merges,
    agent online/offline, reachability verdicts, tickets. A VPS in the trash has one too."""
    raw = {"since": since, "kind": kind, "page": page, "per_page": per_page}
    f = validate(HistoryFilter, {k: v for k, v in raw.items() if v is not None})
    return read(request, history.timeline, actor, ref, f)


@router.post("/{ref}/retire", response_model=Vps, openapi_extra=rule("op"))
def retire_vps(request: Request, actor: ActorDep, ref: str):
    return run(request, vps.retire, actor, ref)


@router.post(
    "/{ref}/renew",
    response_model=RenewResult,
    openapi_extra=rule("op"),
    responses={409: {"description": "the VPS is retired"}},
)
def renew_vps(request: Request, actor: ActorDep, ref: str, data: RenewRequest | None = None):
    """Move expire_date forward by `cycles` (default 1) whole billing cycles (calendar
    months clamped to the month's end, or days; from today when it has no expiry date yet)
    and record the renewal and its amount (cost_monthly x the months paid for) in the
    timeline."""
    return run(request, billing.renew, actor, ref, data or RenewRequest())


@router.post(
    "/{ref}/replace",
    response_model=ReplaceResult,
    openapi_extra=rule("op"),
    responses={409: {"description": "the old or the new VPS is retired"}},
)
def replace_vps(request: Request, actor: ActorDep, ref: str, data: ReplaceRequest):
    """Replace the VPS `ref` `with` an existing VPS, or by a `new` one created from the
    given fields: the new VPS inherits purpose, tags, monitoring settings and the open
    tickets' links (`inherit_*`, each true by default); the old one becomes retiring, with
    `extra.replaced_by` (and `extra.replaces` on the new one). One transaction, audited."""
    return run(request, replacement.replace, actor, ref, data)
