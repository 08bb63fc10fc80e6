"""Users and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, Text, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table, Timestamps
from sigma.db.types import UtcDateTime, utcnow


class User(Timestamps, table=True):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'operator', 'readonly', 'agent', 'probe')", name="ck_users_role"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    email: str = Field(sa_type=Text, unique=True, nullable=False)
    password_hash: str = Field(sa_type=Text, nullable=False)
    name: str = Field(default="", sa_type=Text, nullable=False)
    role: str = Field(default="readonly", sa_type=Text, nullable=False)
    active: bool = Field(default=True, sa_type=Boolean, nullable=False)
    force_password_change: bool = Field(default=False, sa_type=Boolean, nullable=False)
    totp_secret: str | None = Field(default=None, sa_type=Text)
    totp_enabled: bool = Field(default=False, sa_type=Boolean, nullable=False)
    # the last accepted TOTP time step: a code is never accepted twice
    totp_last_step: int | None = Field(default=None, sa_type=BigInteger)
    # carried by every access token as `ep`: bumping it (password change or reset, disable,
    # `sigma logout --all`) makes every earlier token of this user invalid
    session_epoch: int = Field(
        default=0, sa_type=Integer, nullable=False, sa_column_kwargs={"server_default": "0"}
    )


class ApiKey(Table, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (Index("idx_api_keys_user", "user_id"), Index("idx_api_keys_vps", "vps_id"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    user_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="users.id", ondelete="CASCADE", nullable=False
    )
    name: str = Field(sa_type=Text, nullable=False)
    prefix: str = Field(sa_type=Text, nullable=False)  # shown in listings
    key_hash: str = Field(sa_type=Text, unique=True, nullable=False)  # sha256 hex
    read_only: bool = Field(default=False, sa_type=Boolean, nullable=False)
    # an agent's key is bound to the one VPS it may speak for: set by `sigma agent provision`
    # or by the key's first registration (a claim); unbound when the VPS is deleted
    vps_id: uuid.UUID | None = Field(
        default=None,
        sa_type=Uuid,
        sa_column_args=[ForeignKey("vps.id", ondelete="SET NULL", name="fk_api_keys_vps")],
    )
    # a probe's key is bound to the one probe source it may speak for: set by `sigma probe
    # provision --source` or by the key's first round report (a claim)
    probe_source: str | None = Field(default=None, sa_type=Text)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
