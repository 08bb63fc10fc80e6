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
    Uuid,
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
        Index("idx_vps_status", "status"),
        Index("idx_vps_country", "country"),
        Index("idx_vps_expire", "expire_date"),
        Index("idx_vps_hostname", "hostname"),
        Index("idx_vps_tags", "tags", postgresql_using="gin"),
        Index(
            "idx_vps_ip_addresses",
            "ip_addresses",
            postgresql_using="gin",
            postgresql_ops={"ip_addresses": "jsonb_path_ops"},
        ),
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
