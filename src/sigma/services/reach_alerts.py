"""Latency and loss alerts per carrier (issue 17).

Every few minutes (the `reach-alerts` job) the 5-minute sums of the last
`alert_window_minutes` (15 by default) are averaged per (VPS, IP, carrier): the healthy
sources of one carrier together (a source that declared no carrier stands for itself). An
average above its threshold fires an alert; one back under it recovers. The thresholds are
the settings alert_latency_ms and alert_loss_pct (a default and carriers of their own), or a
VPS's own (`sigma ip-check thresholds`), 0 meaning off. A firing alert is a row of
reach_alerts; firing and recovering are events of the VPS's timeline and VPS events, which
services.notify sends as notices, each once per channel.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.db.engine import unit_of_work
from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.monitoring import IpCheckRollup as RollupRow
from sigma.db.models.monitoring import ReachAlert as AlertRow
from sigma.db.models.monitoring import ReachThreshold as ThresholdRow
from sigma.db.types import utcnow
from sigma.schemas.common import validate
from sigma.schemas.monitoring import ReachAlertOut, ReachThresholds, ReachThresholdsIn
from sigma.services import audit, history, probes
from sigma.services.actor import READERS, WRITERS, Actor
from sigma.services.agents import record_event

log = logging.getLogger("sigma.reach_alerts")

JOB_NAME = "reach-alerts"
JOB_INTERVAL = 300.0
METRICS = ("latency", "loss")
DEFAULTS = {"latency": {"default": 300}, "loss": {"default": 20}}


def _setting(session: Session, metric: str) -> dict[str, int]:
    key = "alert_latency_ms" if metric == "latency" else "alert_loss_pct"
    return dict(session.info.get(key) or DEFAULTS[metric])


def _threshold(settings: dict[str, int], own: float | None, carrier: str) -> float | None:
    """The threshold for this carrier: the VPS's own, else the carrier's, else the default;
    None when off (0)."""
    value = own if own is not None else settings.get(carrier, settings.get("default", 0))
    return float(value) if value else None


# ---------------------------------------------------------------- a VPS's own thresholds


def get_thresholds(session: Session, actor: Actor, ref: Any) -> ReachThresholds:
    from sigma.services.vps import find

    actor.require(READERS)
    v = find(session, ref)
    row = session.get(ThresholdRow, v.id)
    return ReachThresholds(
        vps_id=v.id,
        hostname=v.hostname,
        latency_ms=row.latency_ms if row else None,
        loss_pct=row.loss_pct if row else None,
        defaults={
            "latency_ms": _setting(session, "latency"),
            "loss_pct": _setting(session, "loss"),
        },
    )


def set_thresholds(
    session: Session, actor: Actor, ref: Any, data: ReachThresholdsIn | dict
) -> ReachThresholds:
    """Set (or, with nulls, clear) a VPS's own thresholds; audited."""
    from sigma.services.vps import find

    actor.require(WRITERS)
    data = data if isinstance(data, ReachThresholdsIn) else validate(ReachThresholdsIn, data)
    v = find(session, ref)
    row = session.get(ThresholdRow, v.id, with_for_update=True)
    before = {"latency_ms": row.latency_ms, "loss_pct": row.loss_pct} if row else {}
    if data.latency_ms is None and data.loss_pct is None:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = ThresholdRow(vps_id=v.id)
            session.add(row)
        row.latency_ms, row.loss_pct, row.updated_at = data.latency_ms, data.loss_pct, utcnow()
    audit.record(
        session,
        actor,
        "update",
        "vps",
        v.id,
        {
            "hostname": v.hostname,
            "alert_thresholds": {"latency_ms": data.latency_ms, "loss_pct": data.loss_pct},
            "was": before,
        },
    )
    session.flush()
    return get_thresholds(session, actor, v.id)


# ---------------------------------------------------------------- evaluation


def _averages(
    session: Session, now: datetime, window: timedelta
) -> dict[tuple[Any, str, str], dict[str, float]]:
    """{(vps_id, ip, carrier): {"latency": ms, "loss": %}} over the window, from the 5-minute
    sums of the healthy sources to the addresses of active VPS."""
    from sigma.services.vps import not_trashed

    q = (
        select(
            col(RollupRow.vps_id),
            col(RollupRow.ip),
            col(RollupRow.source),
            func.sum(RollupRow.latency_sum),
            func.sum(RollupRow.latency_n),
            func.sum(RollupRow.loss_sum),
            func.sum(RollupRow.loss_n),
        )
        .join(VpsRow, col(VpsRow.id) == RollupRow.vps_id)
        .where(
            col(RollupRow.resolution) == 300,
            col(RollupRow.bucket) >= now - window,
            col(VpsRow.status) == "active",
            not_trashed(session),
        )
        .group_by(col(RollupRow.vps_id), col(RollupRow.ip), col(RollupRow.source))
    )
    rows = session.execute(q).all()
    roles = probes.roles(session, {r[2] for r in rows})
    sums: dict[tuple[Any, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for vps_id, ip, source, lat_sum, lat_n, loss_sum, loss_n in rows:
        role = roles[source]
        if not role.healthy:
            continue
        acc = sums[(vps_id, ip, role.carrier or source)]
        acc[0] += float(lat_sum or 0)
        acc[1] += float(lat_n or 0)
        acc[2] += float(loss_sum or 0)
        acc[3] += float(loss_n or 0)
    out: dict[tuple[Any, str, str], dict[str, float]] = {}
    for key, (latency_total, latency_count, loss_total, loss_count) in sums.items():
        values: dict[str, float] = {}
        if latency_count:
            values["latency"] = round(latency_total / latency_count, 1)
        if loss_count:
            values["loss"] = round(loss_total / loss_count, 1)
        out[key] = values
    return out


def evaluate(session: Session, now: datetime | None = None) -> tuple[int, int]:
    """Fire and recover alerts from the window's averages; (fired, recovered)."""
    now = now or utcnow()
    window = timedelta(minutes=int(session.info.get("alert_window_minutes") or 15))
    averages = _averages(session, now, window)
    settings = {m: _setting(session, m) for m in METRICS}
    own = {
        r.vps_id: r
        for r in session.scalars(
            select(ThresholdRow).where(col(ThresholdRow.vps_id).in_({k[0] for k in averages}))
        )
    }
    firing = {
        (a.vps_id, a.ip, a.carrier, a.metric): a
        for a in session.scalars(select(AlertRow).with_for_update())
    }
    hostnames: dict[Any, str] = {}
    ids = {k[0] for k in averages} | {k[0] for k in firing}
    if ids:
        hostnames = dict(
            session.execute(
                select(col(VpsRow.id), col(VpsRow.hostname)).where(col(VpsRow.id).in_(ids))
            ).all()
        )
    fired = recovered = 0
    for (vps_id, ip, carrier), values in averages.items():
        mine = own.get(vps_id)
        for metric, value in values.items():
            key = (vps_id, ip, carrier, metric)
            limit = _threshold(
                settings[metric],
                (mine.latency_ms if metric == "latency" else mine.loss_pct) if mine else None,
                carrier,
            )
            alert = firing.get(key)
            if limit is not None and value > limit:
                if alert is None:
                    session.add(
                        AlertRow(
                            vps_id=vps_id,
                            ip=ip,
                            carrier=carrier,
                            metric=metric,
                            value=value,
                            threshold=limit,
                            since=now,
                            updated_at=now,
                        )
                    )
                    _event(
                        session,
                        "reach-alert",
                        vps_id,
                        hostnames,
                        ip,
                        carrier,
                        metric,
                        value,
                        limit,
                        now,
                    )
                    fired += 1
                else:
                    alert.value, alert.threshold, alert.updated_at = value, limit, now
            elif alert is not None:
                session.delete(alert)
                _event(
                    session,
                    "reach-recovered",
                    vps_id,
                    hostnames,
                    ip,
                    carrier,
                    metric,
                    value,
                    limit,
                    now,
                    since=alert.since,
                )
                recovered += 1
    # an alert whose sources went silent (or whose VPS left service) stays as it is: silence
    # is the verdict's business (unknown), not a recovery
    session.flush()
    return fired, recovered


def _event(
    session: Session,
    kind: str,
    vps_id: Any,
    hostnames: dict[Any, str],
    ip: str,
    carrier: str,
    metric: str,
    value: float,
    threshold: float | None,
    now: datetime,
    since: datetime | None = None,
) -> None:
    hostname = hostnames.get(vps_id, "")
    details: dict[str, Any] = {
        "hostname": hostname,
        "ip": ip,
        "carrier": carrier,
        "metric": metric,
        "value": value,
        "threshold": threshold,
        **({"since": since.isoformat()} if since else {}),
    }
    record_event(session, vps_id, kind, details)
    history.record(session, vps_id, kind, "probe", None, details, hostname=hostname, at=now)


def list_alerts(session: Session, actor: Actor) -> list[ReachAlertOut]:
    """The alerts firing now, the oldest first."""
    actor.require(READERS)
    q = (
        select(AlertRow, col(VpsRow.hostname))
        .join(VpsRow, col(VpsRow.id) == AlertRow.vps_id)
        .order_by(col(AlertRow.since), col(VpsRow.hostname), col(AlertRow.ip))
    )
    return [
        ReachAlertOut(
            vps_id=a.vps_id,
            hostname=hostname,
            ip=a.ip,
            carrier=a.carrier,
            metric=a.metric,
            value=a.value,
            threshold=a.threshold,
            since=a.since,
        )
        for a, hostname in session.execute(q)
    ]


def job(sessions: sessionmaker[Session], settings: Any) -> None:
    with unit_of_work(sessions) as session:
        fired, recovered = evaluate(session)
    if fired or recovered:
        log.info("reachability alerts: %d fired, %d recovered", fired, recovered)
