"""IP checks from the probes, the reachability verdict per (VPS, IP), and VPS events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Float, Index, Integer, Text, Uuid
from sqlmodel import Field, SQLModel, col

from sigma.db.models.core import Table, one_of
from sigma.db.types import JsonDoc, UtcDateTime, utcnow
from sigma.vocab import CHECK_OUTCOMES, CHECK_TYPES, PROBE_CARRIERS, PROBE_HEALTH, VERDICTS


class IpCheck(Table, table=True):
    """One reachability measurement of one IP from one probe source. The id may be chosen by
    the probe (idempotency key): a batch delivered twice inserts its checks once."""

    __tablename__ = "ip_checks"
    __table_args__ = (
        CheckConstraint(one_of("check_type", CHECK_TYPES), name="ck_ip_checks_type"),
        CheckConstraint(
            "outcome IS NULL OR " + one_of("outcome", CHECK_OUTCOMES), name="ck_ip_checks_outcome"
        ),
        Index("idx_ip_checks_vps", "vps_id"),
        Index("idx_ip_checks_ip", "ip", "checked_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", nullable=False
    )
    ip: str = Field(sa_type=Text, nullable=False)  # canonical text form
    check_type: str = Field(default="icmp", sa_type=Text, nullable=False)
    source: str = Field(default="", sa_type=Text, nullable=False)
    success: bool = Field(sa_type=Boolean, nullable=False)
    latency_ms: int | None = Field(default=None, sa_type=Integer)
    checked_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    outcome: str | None = Field(default=None, sa_type=Text)  # vocab.CHECK_OUTCOMES
    port: int | None = Field(default=None, sa_type=Integer)
    loss_pct: float | None = Field(default=None, sa_type=Float)
    jitter_ms: int | None = Field(default=None, sa_type=Integer)


Index("idx_ip_checks_time", col(IpCheck.checked_at).desc())


class Reachability(Table, table=True):
    """The current verdict per (VPS, IP) and the per-source streaks it is computed from."""

    __tablename__ = "reachability"
    __table_args__ = (
        CheckConstraint(one_of("verdict", VERDICTS), name="ck_reachability_verdict"),
        # the counts per verdict of the running fleet (the reachability page's, the
        # dashboard's) and the page's one-verdict-at-a-time reads find each VPS's verdicts in
        # this index, not in the rows with their per-source state (bench/web_pages.py)
        Index("idx_reachability_verdict", "vps_id", "verdict"),
        # the attention list's worst items of one verdict, the oldest first (issue 18)
        Index("idx_reachability_verdict_since", "verdict", "since"),
    )

    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", primary_key=True
    )
    ip: str = Field(sa_type=Text, primary_key=True)
    label: str = Field(default="", sa_type=Text, nullable=False)
    verdict: str = Field(default="unknown", sa_type=Text, nullable=False)
    since: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    # {source: {check_type: {"ok": bool, "fails": int, "at": iso, "latency_ms": int | None}}}
    state: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class CheckSums(SQLModel):
    """The sums of a bucket of checks (sigma.db.rollups.SUMS and the extremes), the columns of
    both bucket tables: how many checks, the latency's sum, count and extremes, the ICMP
    loss's sum and count, and how many checks had each outcome (vocab.CHECK_OUTCOMES;
    `unclassified`: the failures of a probe that sends only `success`, whose successes count
    as ok)."""

    checks: int = Field(default=0, sa_type=Integer, nullable=False)
    latency_sum: int = Field(default=0, sa_type=BigInteger, nullable=False)
    latency_n: int = Field(default=0, sa_type=Integer, nullable=False)
    latency_min: int | None = Field(default=None, sa_type=Integer)
    latency_max: int | None = Field(default=None, sa_type=Integer)
    loss_sum: float = Field(default=0.0, sa_type=Float, nullable=False)
    loss_n: int = Field(default=0, sa_type=Integer, nullable=False)
    n_ok: int = Field(default=0, sa_type=Integer, nullable=False)
    n_refused: int = Field(default=0, sa_type=Integer, nullable=False)
    n_timeout: int = Field(default=0, sa_type=Integer, nullable=False)
    n_reset: int = Field(default=0, sa_type=Integer, nullable=False)
    n_tls_failed: int = Field(default=0, sa_type=Integer, nullable=False)
    n_http_error: int = Field(default=0, sa_type=Integer, nullable=False)
    n_unreachable: int = Field(default=0, sa_type=Integer, nullable=False)
    n_unclassified: int = Field(default=0, sa_type=Integer, nullable=False)


class IpCheckRollup(Table, CheckSums, table=True):
    """IP checks summed per bucket of time (issue 17): per (IP, source, check key) and
    5-minute (resolution 300), hourly (3600) or 6-hour (21600) bucket, written as the results
    arrive (sigma.db.rollups), so that a late result from a spool lands in its own bucket. The
    raw checks are kept for days, the 5-minute buckets for weeks, the hourly and 6-hour ones
    for a year (settings ip_check_*_days)."""

    __tablename__ = "ip_check_rollups"
    __table_args__ = (Index("idx_ip_check_rollups_age", "resolution", "bucket"),)

    ip: str = Field(sa_type=Text, primary_key=True)
    resolution: int = Field(sa_type=Integer, primary_key=True)
    bucket: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    source: str = Field(sa_type=Text, primary_key=True)
    check_key: str = Field(sa_type=Text, primary_key=True)
    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", nullable=False
    )


class IpCheckFleetRollup(Table, CheckSums, table=True):
    """The same sums over every IP: per (source, check key) and bucket, one row where the
    per-IP table has one per address (20,000 IPs: 20,000 times fewer), so that the fleet's
    latency, loss and outcomes per carrier over a month are read in milliseconds."""

    __tablename__ = "ip_check_fleet_rollups"

    resolution: int = Field(sa_type=Integer, primary_key=True)
    bucket: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    source: str = Field(sa_type=Text, primary_key=True)
    check_key: str = Field(sa_type=Text, primary_key=True)


class ReachThreshold(Table, table=True):
    """A VPS's own latency and loss alert thresholds (issue 17), over the settings'."""

    __tablename__ = "reach_thresholds"

    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", primary_key=True
    )
    latency_ms: int | None = Field(default=None, sa_type=Integer)
    loss_pct: float | None = Field(default=None, sa_type=Float)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class ReachAlert(Table, table=True):
    """A latency or loss alert that is firing: the average over the alert window of the
    sources of one carrier to one IP is above its threshold (services.reach_alerts). The row
    goes when it recovers; both moments are events of the VPS's timeline."""

    __tablename__ = "reach_alerts"

    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", primary_key=True
    )
    ip: str = Field(sa_type=Text, primary_key=True)
    carrier: str = Field(sa_type=Text, primary_key=True)
    metric: str = Field(sa_type=Text, primary_key=True)  # latency or loss
    value: float = Field(sa_type=Float, nullable=False)
    threshold: float = Field(sa_type=Float, nullable=False)
    since: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class Probe(Table, table=True):
    """The registry of probe sources (issue 17): what each declared (carrier, region,
    control), when it was last heard from, and its health from its reference targets. A
    source first heard from in a batch is registered with nothing declared."""

    __tablename__ = "probes"
    __table_args__ = (
        CheckConstraint(
            "carrier IS NULL OR " + one_of("carrier", PROBE_CARRIERS), name="ck_probes_carrier"
        ),
        CheckConstraint(one_of("health", PROBE_HEALTH), name="ck_probes_health"),
    )

    source: str = Field(sa_type=Text, primary_key=True)
    carrier: str | None = Field(default=None, sa_type=Text)
    region: str = Field(default="", sa_type=Text, nullable=False)
    control: bool | None = Field(default=None, sa_type=Boolean)  # None: from the name
    version: str = Field(default="", sa_type=Text, nullable=False)
    first_seen: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    reported_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    health: str = Field(default="unknown", sa_type=Text, nullable=False)
    health_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    health_reason: str = Field(default="", sa_type=Text, nullable=False)
    # the last round: {"checks": n, "seconds": s, "references": [{name, expect, outcome, ...}]}
    last_round: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)


class VpsEvent(Table, table=True):
    """Things that happened to a VPS without anyone doing them: its agent went offline or came
    back, an IP's reachability verdict changed. Written once per change; `notified_at` is for
    the notification channels."""

    __tablename__ = "vps_events"
    __table_args__ = (
        Index("idx_vps_events_vps", "vps_id", "kind", "created_at"),
        Index("idx_vps_events_time", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    vps_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="vps.id", ondelete="CASCADE", nullable=False
    )
    kind: str = Field(sa_type=Text, nullable=False)  # agent-offline, agent-online, reachability
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    notified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
