"""The leases of the jobs that must run once across every process (sigma.db.leases)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field

from sigma.db.models.core import Table
from sigma.db.types import UtcDateTime


class JobLease(Table, table=True):
    __tablename__ = "job_leases"

    name: str = Field(sa_type=Text, primary_key=True)
    holder: str | None = Field(
        default=None, sa_type=Text
    )  # host:pid:nonce of the process running it
    lease_until: datetime | None = Field(
        default=None, sa_type=UtcDateTime
    )  # a crashed holder's lease ends
    last_started: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_finished: datetime | None = Field(default=None, sa_type=UtcDateTime)
