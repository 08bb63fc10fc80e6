"""Users and their API keys: mapped on first use through sigma.db.models."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from sigma.db.models import Timestamps
from sigma.db.models import _Base as Base
from sigma.db.types import UtcDateTime, utcnow


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'operator', 'readonly', 'agent', 'probe')", name="ck_users_role"),
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
    # carried by every access token as `ep`: bumping it (password change or reset, disable,
    # `sigma logout --all`) makes every earlier token of this user invalid
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("idx_api_keys_user", "user_id"), Index("idx_api_keys_vps", "vps_id"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    prefix: Mapped[str] = mapped_column(Text, nullable=False)  # shown in listings
    key_hash: Mapped[str] = mapped_column(Text, unique=True, nullable=False)  # sha256 hex
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # an agent's key is bound to the one VPS it may speak for: set by `sigma agent provision`
    # or by the key's first registration (a claim); unbound when the VPS is deleted
    vps_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("vps.id", ondelete="SET NULL", name="fk_api_keys_vps")
    )
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
