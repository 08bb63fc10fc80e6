"""IP checks from the probes, the reachability verdict per (VPS, IP), and VPS events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, Text, Uuid
from sqlmodel import Field, col

from sigma.db.models.core import Table, one_of
from sigma.db.types import JsonDoc, UtcDateTime, utcnow
from sigma.vocab import CHECK_TYPES, VERDICTS


class IpCheck(Table, table=True):
    """One reachability measurement of one IP from one probe source. The id may be chosen by
    the probe (idempotency key): a batch delivered twice inserts its checks once."""

    __tablename__ = "ip_checks"
    __table_args__ = (
        CheckConstraint(one_of("check_type", CHECK_TYPES), name="ck_ip_checks_type"),
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
