"""SQLAlchemy tables.

Plain SQLAlchemy 2 typed declarative rather than SQLModel: the I/O schemas live in
`sigma.schemas` anyway, and SQLModel costs ~150 ms more to import on every local command.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    event,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sigma.db.types import ExactDecimal, JsonDoc, UtcDateTime, utcnow
from sigma.lazy_names import lazy_names
from sigma.vocab import VPS_PURPOSES, VPS_STATUSES


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class _Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JsonDoc}


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


class Provider(Timestamps, _Base):
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


class Vps(Timestamps, _Base):
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
        # the filtered list's count (status + country + tag) reads only this index on SQLite
        # (it carries the tags' JSON text); GIN with btree_gin on PostgreSQL (migration 0006,
        # which skips it where the extension cannot be created)
        Index("idx_vps_status_country_tags", "status", "country", "tags"),
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
    # status and country through btree_gin's operator classes (the extension is created by
    # migration 0006)
    "idx_vps_status_country_tags": {
        "postgresql_using": "gin",
        "postgresql_ops": {"tags": "jsonb_path_ops"},
    },
}


def postgresql_index_options() -> None:
    """Put the PostgreSQL-only options on the model's Index objects (idempotent)."""
    for index in Vps.__table__.indexes:
        for key, value in POSTGRESQL_INDEX_OPTIONS.get(index.name or "", {}).items():
            index.dialect_kwargs[key] = value


# agents find their VPS by host name without case (services.agents.match)
Index("idx_vps_hostname_lower", func.lower(Vps.hostname))


def _before_create(_table, connection, **_kw) -> None:
    if connection.dialect.name == "postgresql":
        postgresql_index_options()


event.listen(Vps.__table__, "before_create", _before_create)


class AuditLog(_Base):
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


# ---- constants of the issue-5 tables (sigma.db._models.monitoring)

CHECK_TYPES = ("icmp", "tcp", "http")
VERDICTS = ("ok", "degraded", "blocked", "down", "unknown")


# ---------------------------------------------------------------- the other areas, on first use
# A command maps a handful of these tables: the others are defined in sigma.db._models.* and
# imported when first asked for (`from sigma.db.models import Ticket` works as before), which
# keeps ~15 ms of declarative mapping out of every local command (bench/README.md). `Base`
# itself is resolved the same way and loads every area first, so that whoever looks at
# `Base.metadata` (the migrations, the autogenerate check, the tests' cleanup) sees every table.
_AREAS: dict[str, tuple[str, ...]] = {
    "sigma.db._models.identity": ("ApiKey", "User",),
    "sigma.db._models.derived": ("ExchangeRate", "NotificationLog",),
    "sigma.db._models.tickets": ("Ticket", "TicketComment",),
    "sigma.db._models.monitoring": ("IpCheck", "Reachability", "VpsEvent",),
}


def _all_tables() -> type[_Base]:
    """Base, with every area's tables mapped: what metadata-wide users (migrations, the
    autogenerate check, tests' cleanup, bench/fleet.py) ask for."""
    import importlib

    for module in _AREAS:
        importlib.import_module(module)
    return _Base


if TYPE_CHECKING:
    Base = _Base

__getattr__, __dir__ = lazy_names(globals(), _AREAS, {"Base": _all_tables})
