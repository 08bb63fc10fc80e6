"""The inventory's tables: providers and VPS, and the base every table shares.

SQLModel tables (the user's design card): each column says its SQL type explicitly, so the
tables stay exactly what the migrations create on SQLite and PostgreSQL (JSONB through
JsonDoc, exact money through ExactDecimal, UTC timestamps through UtcDateTime; the autogenerate
check compares them). The I/O schemas are sigma.schemas: plain pydantic, which the remote CLI
loads without SQLAlchemy.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    event,
    false,
    func,
)
from sqlmodel import Field, SQLModel, col

from sigma.db.types import ExactDecimal, JsonDoc, UtcDateTime, utcnow
from sigma.vocab import (
    DEFAULT_BILLING_CYCLE,
    DEFAULT_TRAFFIC_DIRECTION,
    TRAFFIC_DIRECTIONS,
    VPS_PURPOSES,
    VPS_STATUSES,
)

if TYPE_CHECKING:
    import sqlalchemy


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text: `column` holds one of `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Table(SQLModel):
    """Base of every table: SQLModel builds a table's pydantic validator on first use, not at
    import (a command maps a few tables and validates none of them)."""

    model_config = {"defer_build": True}

    if TYPE_CHECKING:
        # set by SQLModel on every table=True class; SQLModel's types do not declare it
        __table__: ClassVar[sqlalchemy.Table]


class Timestamps(Table):
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow,
        sa_type=UtcDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


class Provider(Timestamps, table=True):
    __tablename__ = "providers"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="ck_providers_rating"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    name: str = Field(sa_type=Text, unique=True, nullable=False)
    country: str = Field(default="", sa_type=Text, nullable=False)
    website: str = Field(default="", sa_type=Text, nullable=False)
    panel_url: str = Field(default="", sa_type=Text, nullable=False)
    api_supported: bool = Field(default=False, sa_type=Boolean, nullable=False)
    rating: int | None = Field(default=None, sa_type=SmallInteger)
    notes: str = Field(default="", sa_type=Text, nullable=False)


# optimistic concurrency: bumped by every ORM update (the ETag); heartbeats do not bump it
_vps_version = Column("version", Integer, default=1, nullable=False)


class Vps(Timestamps, table=True):
    __tablename__ = "vps"
    __table_args__ = (
        CheckConstraint(one_of("status", VPS_STATUSES), name="ck_vps_status"),
        CheckConstraint(one_of("purpose", VPS_PURPOSES), name="ck_vps_purpose"),
        Index("idx_vps_provider", "provider_id"),
        # the list order (status, expire_date NULLS LAST, hostname, id) as an index: a filtered
        # page of a long history reads only the matching status, already sorted
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
        Index("idx_vps_deleted_at", "deleted_at"),
        CheckConstraint(
            one_of("traffic_direction", TRAFFIC_DIRECTIONS), name="ck_vps_traffic_direction"
        ),
        CheckConstraint("traffic_reset_day BETWEEN 1 AND 28", name="ck_vps_traffic_reset_day"),
        CheckConstraint("traffic_quota_gb >= 0", name="ck_vps_traffic_quota"),
    )
    __mapper_args__ = {"version_id_col": _vps_version}

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    hostname: str = Field(sa_type=Text, nullable=False)
    alias: str = Field(default="", sa_type=Text, nullable=False)
    provider_id: uuid.UUID | None = Field(
        default=None, sa_type=Uuid, foreign_key="providers.id", ondelete="RESTRICT"
    )
    ip_addresses: list[dict[str, str]] = Field(
        default_factory=list, sa_type=JsonDoc, nullable=False
    )
    ssh_port: int = Field(default=22, sa_type=Integer, nullable=False)
    country: str = Field(default="", sa_type=Text, nullable=False)
    city: str = Field(default="", sa_type=Text, nullable=False)
    dc_name: str = Field(default="", sa_type=Text, nullable=False)
    cpu_cores: int | None = Field(default=None, sa_type=SmallInteger)
    ram_mb: int | None = Field(default=None, sa_type=Integer)
    disk_gb: int | None = Field(default=None, sa_type=Integer)
    bandwidth_tb: Decimal | None = Field(default=None, sa_type=ExactDecimal(10, 2))
    cost_monthly: Decimal | None = Field(default=None, sa_type=ExactDecimal(10, 2))
    currency: str = Field(default="USD", sa_type=String(3), nullable=False)
    status: str = Field(default="provisioning", sa_type=Text, nullable=False)
    purchase_date: date | None = Field(default=None, sa_type=Date)
    expire_date: date | None = Field(default=None, sa_type=Date)
    purpose: str = Field(default="", sa_type=Text, nullable=False)
    vpn_protocol: str = Field(default="", sa_type=Text, nullable=False)
    tags: list[str] = Field(default_factory=list, sa_type=JsonDoc, nullable=False)
    monitoring_enabled: bool = Field(default=True, sa_type=Boolean, nullable=False)
    node_exporter_port: int = Field(default=9100, sa_type=Integer, nullable=False)
    extra: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    notes: str = Field(default="", sa_type=Text, nullable=False)
    # set when the VPS goes to the trash (services.vps.delete): hidden from every listing,
    # export and derived output until restored or purged
    deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # billing and traffic (migration 0011): the cycle expire_date moves by when renewed
    # (services.billing), whether it renews by itself, and the traffic quota of each period
    # from the reset day (services.traffic)
    billing_cycle: str = Field(
        default=DEFAULT_BILLING_CYCLE,
        sa_type=Text,
        nullable=False,
        sa_column_kwargs={"server_default": DEFAULT_BILLING_CYCLE},
    )
    auto_renew: bool = Field(
        default=False, sa_type=Boolean, nullable=False, sa_column_kwargs={"server_default": false()}
    )
    traffic_quota_gb: int | None = Field(default=None, sa_type=BigInteger)
    traffic_direction: str = Field(
        default=DEFAULT_TRAFFIC_DIRECTION,
        sa_type=Text,
        nullable=False,
        sa_column_kwargs={"server_default": DEFAULT_TRAFFIC_DIRECTION},
    )
    traffic_reset_day: int = Field(
        default=1, sa_type=SmallInteger, nullable=False, sa_column_kwargs={"server_default": "1"}
    )
    version: int = Field(default=1, sa_column=_vps_version)


# agents find their VPS by host name without case (services.agents.match)
Index("idx_vps_hostname_lower", func.lower(col(Vps.hostname)))

# PostgreSQL-only index options (GIN over the JSONB arrays), kept off the Index objects until
# a PostgreSQL connection needs them: SQLAlchemy validates `postgresql_*` keyword arguments by
# importing its whole PostgreSQL dialect package, on every SQLite command too. The migrations
# create these indexes with the same options (0001, 0006); Alembic's autogenerate does not
# compare index methods or operator classes. Applied by postgresql_index_options(): before
# `create_all`/`create` of the table on PostgreSQL, and by the migrations' env.py.
POSTGRESQL_INDEX_OPTIONS: dict[str, dict[str, Any]] = {
    "idx_vps_tags": {"postgresql_using": "gin"},
    "idx_vps_ip_addresses": {
        "postgresql_using": "gin",
        "postgresql_ops": {"ip_addresses": "jsonb_path_ops"},
    },
    # status and country through btree_gin's operator classes (migration 0006 creates the
    # extension)
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


def _before_create(_table: Any, connection: Any, **_kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        postgresql_index_options()


event.listen(Vps.__table__, "before_create", _before_create)
