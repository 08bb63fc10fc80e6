"""Acknowledged and snoozed attention items (issue 18, services.attention): one row per item
key, holding while the item's fingerprint is the one acknowledged (and, for a snooze, until
its end)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Text
from sqlmodel import Field

from sigma.db.models.core import Table, one_of
from sigma.db.types import UtcDateTime, utcnow

ACK_STATES = ("acknowledged", "snoozed")


class AttentionAck(Table, table=True):
    __tablename__ = "attention_acks"
    __table_args__ = (CheckConstraint(one_of("state", ACK_STATES), name="ck_attention_acks_state"),)

    key: str = Field(sa_type=Text, primary_key=True)
    fingerprint: str = Field(sa_type=Text, nullable=False)
    state: str = Field(sa_type=Text, nullable=False)
    until: datetime | None = Field(default=None, sa_type=UtcDateTime)  # a snooze's end
    note: str = Field(default="", sa_type=Text, nullable=False)
    by: str = Field(sa_type=Text, nullable=False)  # the actor's email
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
