"""The fleet's memory: a timeline of events per VPS (vps_history) and which VPS held which
IP address when (ip_assignments).

Neither table has a foreign key to vps: a VPS's history outlives the VPS (the trash, a purge,
a merge), and each row keeps the hostname of its time. Both are written by
sigma.services.history only, in the transaction of the change they record.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table, one_of
from sigma.db.types import JsonDoc, UtcDateTime, utcnow
from sigma.vocab import HISTORY_SOURCES


class VpsHistory(Table, table=True):
    """One event of one VPS's timeline: what (kind), who (source, actor), when (at), the
    hostname it had then, and the before/after or other facts (details)."""

    __tablename__ = "vps_history"
    __table_args__ = (
        CheckConstraint(one_of("source", HISTORY_SOURCES), name="ck_vps_history_source"),
        # the timeline, newest first, page by page (and since a date)
        Index("idx_vps_history_vps", "vps_id", "at", "id"),
        Index("idx_vps_history_vps_kind", "vps_id", "kind", "at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    vps_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    kind: str = Field(sa_type=Text, nullable=False)
    source: str = Field(default="system", sa_type=Text, nullable=False)
    actor: str = Field(default="", sa_type=Text, nullable=False)  # the user's email, if any
    hostname: str = Field(default="", sa_type=Text, nullable=False)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, nullable=False)


class IpAssignment(Table, table=True):
    """One address held by one VPS under one label, from `since` until `until` (None: still
    held). `ip_key` orders addresses numerically as text (vocab.ip_key), so a CIDR or an octet
    prefix is one range scan of idx_ip_assignments_key on both databases."""

    __tablename__ = "ip_assignments"
    __table_args__ = (
        Index("idx_ip_assignments_key", "ip_key", "since"),
        Index("idx_ip_assignments_vps", "vps_id", "until"),
        # the addresses held now, grouped by address: the duplicates' shared IPs (issue 18)
        Index("idx_ip_assignments_held", "until", "ip", "vps_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    ip: str = Field(sa_type=Text, nullable=False)  # canonical text form
    ip_key: str = Field(sa_type=Text, nullable=False)
    vps_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    hostname: str = Field(default="", sa_type=Text, nullable=False)
    label: str = Field(default="", sa_type=Text, nullable=False)
    since: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    until: datetime | None = Field(default=None, sa_type=UtcDateTime)
