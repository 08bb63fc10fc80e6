"""/api/ip-checks (the original's shapes: docs/COMPATIBILITY.md) plus the probes' routes:
targets and batch."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Request

from sigma.schemas.common import Deleted, Page, validate
from sigma.schemas.identity import ApiKeyCreate, ApiKeyCreated
from sigma.schemas.monitoring import (
    CheckHistory,
    CheckHistoryQuery,
    FleetHistory,
    FleetHistoryQuery,
    IpCheck,
    IpCheckBatch,
    IpCheckBatchResult,
    IpCheckCreate,
    IpCheckFilter,
    IpCheckSummary,
    ProbeTarget,
    PurgeResult,
    ReachabilityPage,
    ReachabilityStatus,
    ReachAlertOut,
)
from sigma.server.deps import ActorDep, read, rule, run
from sigma.services import check_history, ip_checks, probes, reach_alerts

router = APIRouter(prefix="/api/ip-checks", tags=["ip-checks"])


@router.get("", response_model=Page[IpCheck], openapi_extra=rule("any"))
def list_checks(
    request: Request,
    actor: ActorDep,
    vps_id: str | None = Query(None),
    ip: str | None = Query(None),
    source: str | None = Query(None),
    check_type: str | None = Query(None),
    success: bool | None = Query(None),
    page: int = Query(1),
    per_page: int = Query(25),
):
    raw = dict(
        vps_id=vps_id or None,
        ip=ip,
        source=source,
        check_type=check_type,
        success=success,
        page=page,
        per_page=per_page,
    )
    f = validate(IpCheckFilter, {k: v for k, v in raw.items() if v is not None})
    return run(request, ip_checks.list_checks, actor, f)


@router.post("", response_model=IpCheck, openapi_extra=rule("probe"))
def create_check(request: Request, actor: ActorDep, data: IpCheckCreate):
    """Record one check (checked_at = now). Probes post batches to /api/ip-checks/batch."""
    return run(request, ip_checks.create, actor, data)


@router.post("/batch", response_model=IpCheckBatchResult, openapi_extra=rule("probe"))
def record_batch(request: Request, actor: ActorDep, data: IpCheckBatch):
    """Up to 5,000 probe results; each `id` is an idempotency key (re-sent checks are
    counted as duplicates and change nothing)."""
    return run(request, ip_checks.record_batch, actor, data)


@router.get("/targets", response_model=list[ProbeTarget], openapi_extra=rule("probe"))
def targets(request: Request, actor: ActorDep):
    """What probes check: every valid IP of every active VPS, with label and SSH port."""
    return run(request, ip_checks.targets, actor)


@router.post("/probe-keys", response_model=ApiKeyCreated, openapi_extra=rule("op"))
def provision_probe(
    request: Request,
    actor: ActorDep,
    data: ApiKeyCreate,
    source: str | None = Query(None, description="bind the key to this probe source"),
):
    """A new API key with the probe role (shown once), for `sigma probe run` or the original
    sigma-probe. With `source` it speaks only for that probe source; without, it is bound to
    the source of its first round report."""
    return run(request, probes.provision_key, actor, data, source)


@router.get("/summary", response_model=list[IpCheckSummary], openapi_extra=rule("any"))
def summary(request: Request, actor: ActorDep, vps_id: str | None = Query(None)):
    return run(request, ip_checks.summary, actor, vps_id)


@router.get(
    "/status",
    response_model=list[ReachabilityStatus] | ReachabilityPage,
    openapi_extra=rule("any"),
)
def status(
    request: Request,
    actor: ActorDep,
    vps: str | None = Query(None, description="VPS id, id prefix or hostname"),
    verdict: str | None = Query(
        None, description="ok, degraded, blocked, port-blocked, tls-blocked, down or unknown"
    ),
    all: bool = Query(False, description="include VPS that are not active"),
    page: int | None = Query(None, description="paged, problems first (see below)"),
    per_page: int | None = Query(None, description="1-100 (default 25), paged"),
):
    """Reachability verdict per (VPS, IP) and each probe source's view of it.

    Without `page` and `per_page`: every pair, by hostname and IP, as a list. With either:
    one page `{data, total, page, per_page, counts}`, problems first (blocked, down,
    degraded, unknown, ok), `counts` the pairs of each verdict over the selection."""
    if page is None and per_page is None:
        return run(request, ip_checks.status, actor, vps, verdict or None, all)
    return read(
        request,
        ip_checks.status_page,
        actor,
        verdict or None,
        page if page is not None else 1,
        per_page if per_page is not None else 25,
        vps,
        all,
    )


@router.get("/history", response_model=CheckHistory, openapi_extra=rule("any"))
def history(
    request: Request,
    actor: ActorDep,
    ip: str = Query(..., description="the IP address"),
    source: str | None = Query(None, description="one probe source"),
    check: str | None = Query(None, description="one check: icmp, tcp:22, tls:443, http:80"),
    since: str | None = Query(None, description="RFC 3339, a date, or ago: 30m, 24h, 7d"),
    until: str | None = Query(None, description="RFC 3339 or a date (default: now)"),
    resolution: str = Query("auto", description="auto, raw, 5m, 1h or 6h"),
):
    """One IP's checks over time, one series per (source, check), inside China first: per
    raw check or 5-minute, hourly or 6-hour bucket, the share that succeeded, that reached
    the host (refused included), latency (avg, min, max), ICMP loss and the outcomes counted.
    `auto` reads raw checks up to 6 hours, 5-minute buckets up to 3 days, hourly ones up to
    a week, 6-hour ones beyond; at most 150 points a series."""
    raw = {
        "ip": ip,
        "source": source,
        "check": check,
        "since": since,
        "until": until,
        "resolution": resolution,
    }
    query = validate(CheckHistoryQuery, {k: v for k, v in raw.items() if v is not None})
    return read(request, check_history.history, actor, query)


@router.get("/fleet-history", response_model=FleetHistory, openapi_extra=rule("any"))
def fleet_history(
    request: Request,
    actor: ActorDep,
    source: str | None = Query(None, description="one probe source"),
    check: str | None = Query(None, description="one check: icmp, tcp:22, tls:443, http:80"),
    since: str | None = Query(None, description="RFC 3339, a date, or ago: 30m, 24h, 7d"),
    until: str | None = Query(None, description="RFC 3339 or a date (default: now)"),
    resolution: str = Query("auto", description="auto, 5m, 1h or 6h"),
):
    """The whole fleet's checks over time, every IP summed, one series per (source, check),
    inside China first: how each carrier sees the fleet (the same points as /history, from
    5-minute, hourly or 6-hour buckets)."""
    raw = {"source": source, "check": check, "since": since, "until": until}
    query = validate(
        FleetHistoryQuery,
        {**{k: v for k, v in raw.items() if v is not None}, "resolution": resolution},
    )
    return read(request, check_history.fleet_history, actor, query)


@router.get("/alerts", response_model=list[ReachAlertOut], openapi_extra=rule("any"))
def alerts(request: Request, actor: ActorDep):
    """Latency and loss alerts firing now: per VPS, IP and carrier, the average over the
    alert window above its threshold (settings alert_latency_ms, alert_loss_pct, or the
    VPS's own), the oldest first."""
    return read(request, reach_alerts.list_alerts, actor)


@router.delete("/purge", response_model=PurgeResult, openapi_extra=rule("op"))
def purge(request: Request, actor: ActorDep, older_than_days: str = Query(...)):
    return run(request, ip_checks.purge, actor, older_than_days)


@router.get("/{check_id}", response_model=IpCheck, openapi_extra=rule("any"))
def get_check(request: Request, actor: ActorDep, check_id: UUID):
    return run(request, ip_checks.get, actor, check_id)


@router.delete("/{check_id}", response_model=Deleted, openapi_extra=rule("op"))
def delete_check(request: Request, actor: ActorDep, check_id: UUID):
    run(request, ip_checks.delete_check, actor, check_id)
    return Deleted()
