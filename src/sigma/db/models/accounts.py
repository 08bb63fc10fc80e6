"""Provider and DNS accounts (issue 19): what sigma syncs from, and what each sync saw.

An account's credentials are one Fernet token (services.secrets): encrypted with a key that
is never in the database. `account_instances` links each instance an account's API listed to
the VPS it fills, with the values the last sync wrote (so a value the operator changed since
is known to be theirs). `dns_zones` and `dns_records` are a read-only copy of a DNS account,
each record linked to the VPS holding its address, with the certificate its name serves.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, Text, UniqueConstraint, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table, Timestamps, one_of
from sigma.db.types import JsonDoc, UtcDateTime, utcnow
from sigma.vocab import ACCOUNT_KINDS, SYNC_STATES


class Account(Timestamps, table=True):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(one_of("kind", ACCOUNT_KINDS), name="ck_accounts_kind"),
        CheckConstraint(one_of("last_status", SYNC_STATES), name="ck_accounts_last_status"),
        CheckConstraint("interval_minutes BETWEEN 5 AND 10080", name="ck_accounts_interval"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    name: str = Field(sa_type=Text, unique=True, nullable=False)
    kind: str = Field(sa_type=Text, nullable=False)
    provider_id: uuid.UUID | None = Field(
        default=None, sa_type=Uuid, foreign_key="providers.id", ondelete="SET NULL"
    )
    api_base: str = Field(default="", sa_type=Text, nullable=False)
    # the credentials, a Fernet token of their JSON (services.secrets); never shown
    secret: str = Field(sa_type=Text, nullable=False)
    # the kind's non-secret options (Alibaba's regions, ...)
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    interval_minutes: int = Field(default=60, sa_type=Integer, nullable=False)
    # the API's values overwrite the ones an operator changed by hand
    api_wins: bool = Field(default=False, sa_type=Boolean, nullable=False)
    enabled: bool = Field(default=True, sa_type=Boolean, nullable=False)
    last_sync_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_status: str = Field(default="never", sa_type=Text, nullable=False)
    last_error: str = Field(default="", sa_type=Text, nullable=False)
    # what the last run did (created, updated, gone, unchanged, skipped, warnings)
    last_report: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    # the scheduled job's next run: interval, or later after failures (backoff, Retry-After)
    next_sync_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    failures: int = Field(default=0, sa_type=Integer, nullable=False)


class AccountInstance(Table, table=True):
    __tablename__ = "account_instances"
    __table_args__ = (
        UniqueConstraint("account_id", "instance_id", name="uq_account_instances_key"),
        Index("idx_account_instances_vps", "vps_id"),
        Index("idx_account_instances_kind", "kind", "instance_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    account_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="accounts.id", ondelete="CASCADE", nullable=False
    )
    # the account's kind, copied: an instance id is unique per provider, not per account
    kind: str = Field(sa_type=Text, nullable=False)
    instance_id: str = Field(sa_type=Text, nullable=False)
    # no foreign key: the link outlives a purged VPS (then it is stale and re-created)
    vps_id: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    # the values the last sync wrote to the VPS, per field
    synced: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    # the instance as the API last described it (normalised), for `account show`
    seen: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    gone_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DnsZone(Table, table=True):
    __tablename__ = "dns_zones"
    __table_args__ = (UniqueConstraint("account_id", "zone_id", name="uq_dns_zones_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    account_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="accounts.id", ondelete="CASCADE", nullable=False
    )
    zone_id: str = Field(sa_type=Text, nullable=False)
    name: str = Field(sa_type=Text, nullable=False)
    status: str = Field(default="", sa_type=Text, nullable=False)
    # the domain's registration ends (when the API tells)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    synced_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class DnsRecord(Table, table=True):
    __tablename__ = "dns_records"
    __table_args__ = (
        UniqueConstraint("zone_ref", "record_id", name="uq_dns_records_key"),
        Index("idx_dns_records_vps", "vps_id"),
        Index("idx_dns_records_name", "name"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    zone_ref: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="dns_zones.id", ondelete="CASCADE", nullable=False
    )
    record_id: str = Field(sa_type=Text, nullable=False)
    name: str = Field(sa_type=Text, nullable=False)
    type: str = Field(sa_type=Text, nullable=False)
    content: str = Field(sa_type=Text, nullable=False)
    ttl: int | None = Field(default=None, sa_type=Integer)
    proxied: bool = Field(default=False, sa_type=Boolean, nullable=False)
    # the VPS that held the record's address when it was synced (A/AAAA only)
    vps_id: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    # the certificate served for the name at the record's address (a TLS handshake)
    cert_not_after: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cert_error: str = Field(default="", sa_type=Text, nullable=False)
    cert_checked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
