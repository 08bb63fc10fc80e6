"""Latency, loss and outcomes per IP x source x check over time, and the fleet's (issue 17).

Four stores, each kept as long as its setting says (the `ip-check-retention` job): raw
checks (ip_checks, ip_check_raw_days, 2 by default), 5-minute buckets (ip_check_rollups,
ip_check_5m_days, 30), hourly and 6-hour buckets (ip_check_hourly_days, 365); the buckets are
filled as results arrive (sigma.db.rollups), per IP and for the whole fleet. A query reads one
store, chosen by the span asked for: raw up to 6 hours, 5-minute buckets up to 3 days, hourly
up to a week, 6-hour beyond (a month: 120 rows a series); a store that no longer holds the
start of the span is skipped for the next one. Buckets are summed by the database into at
most MAX_POINTS points a series, so an answer stays small whatever the span. Every read is a
range scan of one primary key.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import BigInteger, ColumnElement, CursorResult, Integer, delete, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.db.engine import unit_of_work
from sigma.db.models.monitoring import IpCheck as IpCheckRow
from sigma.db.models.monitoring import IpCheckFleetRollup as FleetRow
from sigma.db.models.monitoring import IpCheckRollup as RollupRow
from sigma.db.rollups import OUTCOME_COLUMNS, check_key
from sigma.db.types import utcnow
from sigma.schemas.common import validate
from sigma.schemas.monitoring import (
    CheckHistory,
    CheckHistoryQuery,
    FleetHistory,
    FleetHistoryQuery,
    HistoryPoint,
    HistorySeries,
)
from sigma.services import probes
from sigma.services.actor import READERS, Actor
from sigma.vocab import HOST_UP_OUTCOMES, SUCCESS_OUTCOMES

log = logging.getLogger("sigma.check_history")

JOB_NAME = "ip-check-retention"
DEFAULT_SPAN = timedelta(hours=24)
RAW_UP_TO = timedelta(hours=6)
FIVE_MINUTES_UP_TO = timedelta(days=3)
HOURLY_UP_TO = timedelta(days=7)
MAX_POINTS = 150  # per series: a chart's width, and a 30-day answer in tens of ms
STORES = {"5m": 300, "1h": 3600, "6h": 21600}
DEFAULT_DAYS = {"raw": 2, "5m": 30, "1h": 365}
KEPT_BY = {"raw": "raw", "5m": "5m", "1h": "hourly", "6h": "hourly"}  # ip_check_*_days

# the columns a binned point is made of, in this order; the outcome counts after them
_OUTCOMES = tuple(OUTCOME_COLUMNS.items())
_OK = [c for o, c in _OUTCOMES if o in SUCCESS_OUTCOMES]
_UP = [c for o, c in _OUTCOMES if o in HOST_UP_OUTCOMES]


def _kept(session: Session, store: str) -> timedelta:
    days = session.info.get(f"ip_check_{KEPT_BY[store]}_days")
    return timedelta(days=int(days or DEFAULT_DAYS.get(store, DEFAULT_DAYS["1h"])))


def resolution_for(
    session: Session, since: datetime, until: datetime, asked: str, raw: bool = True
) -> str:
    """The store a query reads: the one asked for, or the finest one whose points over the
    span stay few and which still holds the span's start."""
    if asked != "auto":
        return asked
    span, age = until - since, utcnow() - since
    if raw and span <= RAW_UP_TO and age <= _kept(session, "raw"):
        return "raw"
    if span <= FIVE_MINUTES_UP_TO and age <= _kept(session, "5m"):
        return "5m"
    return "1h" if span <= HOURLY_UP_TO else "6h"


def _pct(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0.0


def bin_seconds(since: datetime, until: datetime, resolution: int) -> int:
    """The width of a point: the store's buckets, merged so that a series has at most
    MAX_POINTS points (a week of hourly buckets: 2-hour points)."""
    span = (until - since).total_seconds()
    return resolution * max(1, math.ceil(span / resolution / MAX_POINTS))


def _epoch(session: Session, bucket: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", bucket)
    return sql_cast(func.strftime("%s", bucket), Integer)


def _point_of_bin(r: Any) -> HistoryPoint:
    """A point from a row of sums (source, check, start, checks, ok, up, latency sum and n,
    min, max, loss sum and n, then the outcome counts). Validated: pydantic's validator
    (compiled) builds a point faster than model_construct does."""
    checks, latency_n, loss_n = r[3], r[7], r[11]
    return HistoryPoint.model_validate(
        {
            "t": datetime.fromtimestamp(r[2], UTC),
            "checks": checks,
            "ok_pct": _pct(r[4], checks),
            "up_pct": _pct(r[5], checks),
            "latency_avg": round(r[6] / latency_n, 1) if latency_n else None,
            "latency_min": r[8],
            "latency_max": r[9],
            "loss_pct": round(r[10] / loss_n, 1) if loss_n else None,
            "outcomes": {
                (o or "unclassified"): n for (o, _), n in zip(_OUTCOMES, r[12:], strict=True) if n
            },
        }
    )


def _binned(
    session: Session,
    table: Any,
    conditions: Iterable[ColumnElement[bool]],
    since: datetime,
    until: datetime,
    store: str,
) -> dict[tuple[str, str], list[HistoryPoint]]:
    """The points of every (source, check key) of one bucket table, summed by the database
    into bins of bin_seconds, oldest first."""
    resolution = STORES[store]
    width = bin_seconds(since, until, resolution)
    start = (func.floor(_epoch(session, table.bucket) / width) * width).label("start")

    def total(*columns: Any) -> Any:
        # integers, not PostgreSQL's numeric (Decimal), for the sums of integer columns
        return sql_cast(func.sum(sum(columns[1:], columns[0])), BigInteger)

    stmt = (
        select(
            table.source,
            table.check_key,
            sql_cast(start, BigInteger),
            total(table.checks),
            total(*(getattr(table, c) for c in _OK)),
            total(*(getattr(table, c) for c in _UP)),
            total(table.latency_sum),
            total(table.latency_n),
            func.min(table.latency_min),
            func.max(table.latency_max),
            func.sum(table.loss_sum),
            total(table.loss_n),
            *(total(getattr(table, c)) for _, c in _OUTCOMES),
        )
        .where(
            *conditions,
            table.resolution == resolution,
            table.bucket >= since - timedelta(seconds=resolution - 1),
            table.bucket < until,
        )
        .group_by(table.source, table.check_key, start)
        .order_by(start)
    )
    series: dict[tuple[str, str], list[HistoryPoint]] = {}
    for r in session.connection().execute(stmt).all():  # Core rows: no ORM bookkeeping
        series.setdefault((r[0], r[1]), []).append(_point_of_bin(r))
    return series


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


def _raw(session: Session, q: CheckHistoryQuery, since: datetime, until: datetime) -> Any:
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
    series: dict[tuple[str, str], list[HistoryPoint]] = {}
    for c in session.execute(stmt.order_by(col(IpCheckRow.checked_at))):
        key = check_key(c.check_type, c.port)
        if q.check is None or key == q.check:
            series.setdefault((c.source, key), []).append(_point_of_check(c))
    return series


def _series_out(
    session: Session, series: dict[tuple[str, str], list[HistoryPoint]]
) -> list[HistorySeries]:
    """The series with their sources' roles; sources inside China first."""
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
    return out


def history(session: Session, actor: Actor, query: CheckHistoryQuery | dict) -> CheckHistory:
    """One IP's series, one per (source, check), oldest point first; sources inside China
    first. An address never checked in the span has no series (like the IP history of an
    address nobody held)."""
    actor.require(READERS)
    q = query if isinstance(query, CheckHistoryQuery) else validate(CheckHistoryQuery, query)
    until = q.until or utcnow()
    since = q.since or until - DEFAULT_SPAN
    resolution = resolution_for(session, since, until, q.resolution)
    if resolution == "raw":
        series = _raw(session, q, since, until)
    else:
        conditions = [col(RollupRow.ip) == q.ip]
        if q.source is not None:
            conditions.append(col(RollupRow.source) == q.source)
        if q.check is not None:
            conditions.append(col(RollupRow.check_key) == q.check)
        series = _binned(session, RollupRow, conditions, since, until, resolution)
    return CheckHistory(
        ip=q.ip,
        resolution=resolution,
        since=since,
        until=until,
        series=_series_out(session, series),
    )


def fleet_history(session: Session, actor: Actor, query: FleetHistoryQuery | dict) -> FleetHistory:
    """Every IP's checks summed per (source, check): how each carrier sees the fleet."""
    actor.require(READERS)
    q = query if isinstance(query, FleetHistoryQuery) else validate(FleetHistoryQuery, query)
    until = q.until or utcnow()
    since = q.since or until - DEFAULT_SPAN
    resolution = resolution_for(session, since, until, q.resolution, raw=False)
    conditions = []
    if q.source is not None:
        conditions.append(col(FleetRow.source) == q.source)
    if q.check is not None:
        conditions.append(col(FleetRow.check_key) == q.check)
    series = _binned(session, FleetRow, conditions, since, until, resolution)
    return FleetHistory(
        resolution=resolution, since=since, until=until, series=_series_out(session, series)
    )


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
        deleted[store] = 0
        for table in (RollupRow, FleetRow):
            result = session.execute(
                delete(table).where(
                    col(table.resolution) == resolution,
                    col(table.bucket) < now - _kept(session, store),
                )
            )
            deleted[store] += cast(CursorResult[Any], result).rowcount or 0
    return deleted


def job(sessions: sessionmaker[Session], settings: Any) -> None:
    """The retention job of `sigma serve` (hourly, once across replicas)."""
    with unit_of_work(sessions) as session:
        deleted = prune(session)
    if any(deleted.values()):
        log.info("check history pruned: %s", ", ".join(f"{k} {v}" for k, v in deleted.items()))
