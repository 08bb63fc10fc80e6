"""IP checks, agent events and reachability (issue 5): mapped on first use through sigma.db.models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from sigma.db.models import CHECK_TYPES, VERDICTS, _in
from sigma.db.models import _Base as Base
from sigma.db.types import JsonDoc, UtcDateTime, utcnow


class IpCheck(Base):
    """One reachability measurement of one IP from one probe source. The id may be chosen by
    the probe (idempotency key): a batch delivered twice inserts its checks once."""

    __tablename__ = "ip_checks"
    __table_args__ = (
        CheckConstraint(_in("check_type", CHECK_TYPES), name="ck_ip_checks_type"),
        Index("idx_ip_checks_vps", "vps_id"),
        Index("idx_ip_checks_ip", "ip", "checked_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vps_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("vps.id", ondelete="CASCADE"), nullable=False
    )
    ip: Mapped[str] = mapped_column(Text, nullable=False)  # canonical text form
    check_type: Mapped[str] = mapped_column(Text, default="icmp", nullable=False)
    source: Mapped[str] = mapped_column(Text, default="", nullable=False)
    success: Mapped[bool] = mapped_column(Boolean, nullable=False)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


Index("idx_ip_checks_time", IpCheck.checked_at.desc())


class Reachability(Base):
    """The current verdict per (VPS, IP) and the per-source streaks it is computed from."""

    __tablename__ = "reachability"
    __table_args__ = (CheckConstraint(_in("verdict", VERDICTS), name="ck_reachability_verdict"),)

    vps_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("vps.id", ondelete="CASCADE"), primary_key=True
    )
    ip: Mapped[str] = mapped_column(Text, primary_key=True)
    label: Mapped[str] = mapped_column(Text, default="", nullable=False)
    verdict: Mapped[str] = mapped_column(Text, default="unknown", nullable=False)
    since: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    # {source: {check_type: {"ok": bool, "fails": int, "at": iso, "latency_ms": int | None}}}
    state: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


class VpsEvent(Base):
    """Things that happened to a VPS without anyone doing them: its agent went offline or came
    back, an IP's reachability verdict changed. Written once per change; `notified_at` is for
    the notification channels."""

    __tablename__ = "vps_events"
    __table_args__ = (
        Index("idx_vps_events_vps", "vps_id", "kind", "created_at"),
        Index("idx_vps_events_time", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vps_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("vps.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # agent-offline, agent-online, reachability
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
