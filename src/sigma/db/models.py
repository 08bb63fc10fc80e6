"""SQLAlchemy tables.

Plain SQLAlchemy 2 typed declarative rather than SQLModel: the I/O schemas live in
`sigma.schemas` anyway, and SQLModel costs ~150 ms more to import on every local command.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sigma.db.types import ExactDecimal, JsonDoc, UtcDateTime, utcnow
from sigma.schemas import VPS_PURPOSES, VPS_STATUSES


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JsonDoc}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class Provider(Timestamps, Base):
    __tablename__ = "providers"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="ck_providers_rating"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    country: Mapped[str] = mapped_column(Text, default="", nullable=False)
    website: Mapped[str] = mapped_column(Text, default="", nullable=False)
    panel_url: Mapped[str] = mapped_column(Text, default="", nullable=False)
    api_supported: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str] = mapped_column(Text, default="", nullable=False)


class Vps(Timestamps, Base):
    __tablename__ = "vps"
    __table_args__ = (
        CheckConstraint(_in("status", VPS_STATUSES), name="ck_vps_status"),
        CheckConstraint(_in("purpose", VPS_PURPOSES), name="ck_vps_purpose"),
        Index("idx_vps_provider", "provider_id"),
        # the list order (status, expire_date NULLS LAST, hostname, id) as an index: a filtered
        # page of a 100k-row history reads only the matching status, already sorted
        Index("idx_vps_status_expire", "status", "expire_date", "hostname", "id"),
        Index("idx_vps_status_country", "status", "country", "expire_date", "hostname", "id"),
        Index("idx_vps_country", "country"),
        Index("idx_vps_expire", "expire_date"),
        Index("idx_vps_hostname", "hostname"),
        # GIN on PostgreSQL: the options are in POSTGRESQL_INDEX_OPTIONS below
        Index("idx_vps_tags", "tags"),
        Index("idx_vps_ip_addresses", "ip_addresses"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    hostname: Mapped[str] = mapped_column(Text, nullable=False)
    alias: Mapped[str] = mapped_column(Text, default="", nullable=False)
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("providers.id", ondelete="RESTRICT")
    )
    ip_addresses: Mapped[list[dict[str, str]]] = mapped_column(JsonDoc, default=list, nullable=False)
    ssh_port: Mapped[int] = mapped_column(Integer, default=22, nullable=False)
    country: Mapped[str] = mapped_column(Text, default="", nullable=False)
    city: Mapped[str] = mapped_column(Text, default="", nullable=False)
    dc_name: Mapped[str] = mapped_column(Text, default="", nullable=False)
    cpu_cores: Mapped[int | None] = mapped_column(SmallInteger)
    ram_mb: Mapped[int | None] = mapped_column(Integer)
    disk_gb: Mapped[int | None] = mapped_column(Integer)
    bandwidth_tb: Mapped[Decimal | None] = mapped_column(ExactDecimal(10, 2))
    cost_monthly: Mapped[Decimal | None] = mapped_column(ExactDecimal(10, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", nullable=False)
    status: Mapped[str] = mapped_column(Text, default="provisioning", nullable=False)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    expire_date: Mapped[date | None] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(Text, default="", nullable=False)
    vpn_protocol: Mapped[str] = mapped_column(Text, default="", nullable=False)
    tags: Mapped[list[str]] = mapped_column(JsonDoc, default=list, nullable=False)
    monitoring_enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    node_exporter_port: Mapped[int] = mapped_column(Integer, default=9100, nullable=False)
    extra: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict, nullable=False)
    notes: Mapped[str] = mapped_column(Text, default="", nullable=False)
    # optimistic concurrency: bumped by every ORM update (the ETag); heartbeats do not bump it
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)

    __mapper_args__ = {"version_id_col": version}


# PostgreSQL-only index options (GIN over the JSONB arrays), kept off the Index objects until
# a PostgreSQL connection needs them: SQLAlchemy validates `postgresql_*` keyword arguments by
# importing its whole PostgreSQL dialect package (~25 ms), on every SQLite command too. The
# migrations create these indexes with the same options (0001); Alembic's autogenerate does
# not compare index methods or operator classes. Applied by `postgresql_index_options()`:
# before `create_all`/`create` of the table on PostgreSQL, and by the migrations' env.py.
POSTGRESQL_INDEX_OPTIONS: dict[str, dict[str, Any]] = {
    "idx_vps_tags": {"postgresql_using": "gin"},
    "idx_vps_ip_addresses": {
        "postgresql_using": "gin",
        "postgresql_ops": {"ip_addresses": "jsonb_path_ops"},
    },
}


def postgresql_index_options() -> None:
    """Put the PostgreSQL-only options on the model's Index objects (idempotent)."""
    for index in Vps.__table__.indexes:
        for key, value in POSTGRESQL_INDEX_OPTIONS.get(index.name or "", {}).items():
            index.dialect_kwargs[key] = value


def _before_create(_table, connection, **_kw) -> None:
    if connection.dialect.name == "postgresql":
        postgresql_index_options()


event.listen(Vps.__table__, "before_create", _before_create)


class AuditLog(Base):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("idx_audit_created", "created_at"),
        Index("idx_audit_resource", "resource", "resource_id"),
        Index("idx_audit_user", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_email: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    resource: Mapped[str] = mapped_column(Text, nullable=False)
    resource_id: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict, nullable=False)
    client_ip: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'operator', 'readonly', 'agent')", name="ck_users_role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, default="", nullable=False)
    role: Mapped[str] = mapped_column(Text, default="readonly", nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    force_password_change: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # the last accepted TOTP time step: a code is never accepted twice
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("idx_api_keys_user", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)  # shown in listings
    key_hash: Mapped[str] = mapped_column(Text, unique=True, nullable=False)  # sha256 hex
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


# ---- exchange rates and the notification log (issue 4)


class ExchangeRate(Base):
    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("from_currency", "to_currency", name="uq_exchange_rates_pair"),
        CheckConstraint("rate > 0", name="ck_exchange_rates_rate"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    from_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    to_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal(12, 6), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class NotificationLog(Base):
    """One row per expiry notice per channel: (vps, threshold, expire date, channel) is sent
    at most once. A row is claimed (sent_at NULL) before sending and confirmed after; a failed
    send deletes its claim, so the next run retries. threshold -1 means "overdue"."""

    __tablename__ = "notification_log"
    __table_args__ = (
        UniqueConstraint(
            "vps_id", "threshold", "expire_date", "channel", name="uq_notification_log_key"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    vps_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("vps.id", ondelete="CASCADE"), nullable=False
    )
    threshold: Mapped[int] = mapped_column(Integer, nullable=False)
    expire_date: Mapped[date] = mapped_column(Date, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# ---- tickets and comments (issue 6)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("idx_tickets_status", "status"),
        Index("idx_tickets_assigned", "assigned_to"),
        Index("idx_tickets_vps", "vps_id"),
        Index("idx_tickets_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    status: Mapped[str] = mapped_column(Text, default="open", nullable=False)
    priority: Mapped[str] = mapped_column(Text, default="medium", nullable=False)
    vps_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("vps.id", ondelete="SET NULL"))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("providers.id", ondelete="SET NULL")
    )
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


class TicketComment(Base):
    __tablename__ = "ticket_comments"
    __table_args__ = (Index("idx_ticket_comments_ticket", "ticket_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    user_email: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


# ---- ip checks, agents and reachability (issue 5) ---------------------------------------

CHECK_TYPES = ("icmp", "tcp", "http")
VERDICTS = ("ok", "degraded", "blocked", "down", "unknown")


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
