"""Latency, loss and outcomes per IP x source x check over time (issue 17).

Three stores, each kept as long as its setting says (the `ip-check-retention` job):
raw checks (ip_checks, ip_check_raw_days, 2 by default), 5-minute buckets (ip_check_rollups,
ip_check_5m_days, 30) and hourly buckets (ip_check_hourly_days, 365); the buckets are
filled as results arrive (sigma.db.rollups). A query reads one store, chosen by the span
asked for: raw up to 6 hours, 5-minute buckets up to 3 days, hourly beyond; a store that no
longer holds the start of the span is skipped for the next one. Buckets are summed by the
database into at most MAX_POINTS points a series (30 days: 5-hour points), so an answer
stays small whatever the span. Every read is a range scan of one primary key or index.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Integer, delete, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.db.engine import unit_of_work
from sigma.db.models.monitoring import IpCheck as IpCheckRow
from sigma.db.models.monitoring import IpCheckRollup as RollupRow
from sigma.db.rollups import OUTCOME_COLUMNS, check_key
from sigma.db.types import utcnow
from sigma.schemas.common import validate
from sigma.schemas.monitoring import CheckHistory, CheckHistoryQuery, HistoryPoint, HistorySeries
from sigma.services import probes
from sigma.services.actor import READERS, Actor
from sigma.vocab import HOST_UP_OUTCOMES, SUCCESS_OUTCOMES

log = logging.getLogger("sigma.check_history")

JOB_NAME = "ip-check-retention"
DEFAULT_SPAN = timedelta(hours=24)
RAW_UP_TO = timedelta(hours=6)
FIVE_MINUTES_UP_TO = timedelta(days=3)
MAX_POINTS = 150  # per series: a chart's width, and a 30-day answer in tens of ms
STORES = {"5m": 300, "1h": 3600}
DEFAULT_DAYS = {"raw": 2, "5m": 30, "1h": 365}


def _kept(session: Session, store: str) -> timedelta:
    days = session.info.get(f"ip_check_{'hourly' if store == '1h' else store}_days")
    return timedelta(days=int(days or DEFAULT_DAYS[store]))


def resolution_for(session: Session, since: datetime, until: datetime, asked: str) -> str:
    """The store a query reads: the one asked for, or the finest one whose points over the
    span stay few and which still holds the span's start."""
    if asked != "auto":
        return asked
    span, age = until - since, utcnow() - since
    if span <= RAW_UP_TO and age <= _kept(session, "raw"):
        return "raw"
    if span <= FIVE_MINUTES_UP_TO and age <= _kept(session, "5m"):
        return "5m"
    return "1h"


def _pct(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0.0


def _point_of_bin(r: Any) -> HistoryPoint:
    """A point from a row of sums (the binned query): built without validation, its values
    are the database's own sums (numeric on PostgreSQL: made plain numbers here)."""
    counts = {o: int(getattr(r, c)) for o, c in OUTCOME_COLUMNS.items() if getattr(r, c)}
    oks = sum(n for o, n in counts.items() if o in SUCCESS_OUTCOMES)
    ups = sum(n for o, n in counts.items() if o in HOST_UP_OUTCOMES)
    checks, latency_n, loss_n = int(r.checks), int(r.latency_n), int(r.loss_n)
    return HistoryPoint.model_construct(
        t=datetime.fromtimestamp(int(r.start), UTC),
        checks=checks,
        ok_pct=_pct(oks, checks),
        up_pct=_pct(ups, checks),
        latency_avg=round(float(r.latency_sum) / latency_n, 1) if latency_n else None,
        latency_min=r.latency_min,
        latency_max=r.latency_max,
        loss_pct=round(float(r.loss_sum) / loss_n, 1) if loss_n else None,
        outcomes={(o or "unclassified"): n for o, n in counts.items()},
    )


def bin_seconds(since: datetime, until: datetime, resolution: int) -> int:
    """The width of a point: the store's buckets, merged so that a series has at most
    MAX_POINTS points (30 days of hourly buckets: 5-hour points)."""
    span = (until - since).total_seconds()
    return resolution * max(1, math.ceil(span / resolution / MAX_POINTS))


def _binned(session: Session, width: int) -> Any:
    """The start of a point, in Unix seconds, from a bucket's start."""
    if session.get_bind().dialect.name == "postgresql":
        epoch: Any = func.extract("epoch", col(RollupRow.bucket))
    else:
        epoch = sql_cast(func.strftime("%s", col(RollupRow.bucket)), Integer)
    return (func.floor(epoch / width) * width).label("start")  # not "t": Row.t is taken


def _point_of_check(c: Any) -> HistoryPoint:
    outcome = c.outcome or ("ok" if c.success else "unclassified")
    return HistoryPoint(
        t=c.checked_at,
        checks=1,
        ok_pct=100.0 if c.success else 0.0,
        up_pct=100.0 if c.success or outcome in HOST_UP_OUTCOMES else 0.0,
        latency_avg=c.latency_ms,
        latency_min=c.latency_ms,
        latency_max=c.latency_ms,
        loss_pct=c.loss_pct,
        outcomes={outcome: 1},
    )


def history(session: Session, actor: Actor, query: CheckHistoryQuery | dict) -> CheckHistory:
    """One IP's series, one per (source, check), oldest point first; sources inside China
    first. An address never checked in the span has no series (like the IP history of an
    address nobody held)."""
    actor.require(READERS)
    q = query if isinstance(query, CheckHistoryQuery) else validate(CheckHistoryQuery, query)
    until = q.until or utcnow()
    since = q.since or until - DEFAULT_SPAN
    resolution = resolution_for(session, since, until, q.resolution)
    series: dict[tuple[str, str], list[HistoryPoint]] = {}
    if resolution == "raw":
        stmt = select(
            col(IpCheckRow.source),
            col(IpCheckRow.check_type),
            col(IpCheckRow.port),
            col(IpCheckRow.checked_at),
            col(IpCheckRow.success),
            col(IpCheckRow.outcome),
            col(IpCheckRow.latency_ms),
            col(IpCheckRow.loss_pct),
        ).where(
            col(IpCheckRow.ip) == q.ip,
            col(IpCheckRow.checked_at) >= since,
            col(IpCheckRow.checked_at) < until,
        )
        if q.source is not None:
            stmt = stmt.where(col(IpCheckRow.source) == q.source)
        for c in session.execute(stmt.order_by(col(IpCheckRow.checked_at))):
            key = check_key(c.check_type, c.port)
            if q.check is None or key == q.check:
                series.setdefault((c.source, key), []).append(_point_of_check(c))
    else:
        width = bin_seconds(since, until, STORES[resolution])
        start = _binned(session, width)
        stmt2 = (
            select(
                col(RollupRow.source),
                col(RollupRow.check_key),
                start,
                func.sum(RollupRow.checks).label("checks"),
                func.sum(RollupRow.latency_sum).label("latency_sum"),
                func.sum(RollupRow.latency_n).label("latency_n"),
                func.min(RollupRow.latency_min).label("latency_min"),
                func.max(RollupRow.latency_max).label("latency_max"),
                func.sum(RollupRow.loss_sum).label("loss_sum"),
                func.sum(RollupRow.loss_n).label("loss_n"),
                *(func.sum(getattr(RollupRow, c)).label(c) for c in OUTCOME_COLUMNS.values()),
            )
            .where(
                col(RollupRow.ip) == q.ip,
                col(RollupRow.resolution) == STORES[resolution],
                col(RollupRow.bucket) >= since - timedelta(seconds=STORES[resolution] - 1),
                col(RollupRow.bucket) < until,
            )
            .group_by(col(RollupRow.source), col(RollupRow.check_key), start)
        )
        if q.source is not None:
            stmt2 = stmt2.where(col(RollupRow.source) == q.source)
        if q.check is not None:
            stmt2 = stmt2.where(col(RollupRow.check_key) == q.check)
        for r in session.execute(stmt2.order_by(start)):
            series.setdefault((r.source, r.check_key), []).append(_point_of_bin(r))
    roles = probes.roles(session, {s for s, _ in series})
    out = [
        HistorySeries(
            source=source,
            carrier=roles[source].carrier,
            region=roles[source].region,
            china=roles[source].china,
            check=check,
            points=points,
        )
        for (source, check), points in series.items()
    ]
    out.sort(key=lambda s: (not s.china, s.source, s.check))
    return CheckHistory(ip=q.ip, resolution=resolution, since=since, until=until, series=out)


# ---------------------------------------------------------------- retention


def prune(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Delete what each store keeps no longer; {store: rows deleted}."""
    now = now or utcnow()
    deleted: dict[str, int] = {}
    result = session.execute(
        delete(IpCheckRow).where(col(IpCheckRow.checked_at) < now - _kept(session, "raw"))
    )
    deleted["raw"] = cast(CursorResult[Any], result).rowcount or 0
    for store, resolution in STORES.items():
        result = session.execute(
            delete(RollupRow).where(
                col(RollupRow.resolution) == resolution,
                col(RollupRow.bucket) < now - _kept(session, store),
            )
        )
        deleted[store] = cast(CursorResult[Any], result).rowcount or 0
    return deleted


def job(sessions: sessionmaker[Session], settings: Any) -> None:
    """The retention job of `sigma serve` (hourly, once across replicas)."""
    with unit_of_work(sessions) as session:
        deleted = prune(session)
    if any(deleted.values()):
        log.info("check history pruned: %s", ", ".join(f"{k} {v}" for k, v in deleted.items()))
