"""Tickets and their comments."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Text, Uuid
from sqlmodel import Field

from sigma.db.models.core import Table
from sigma.db.types import UtcDateTime, utcnow


class Ticket(Table, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("idx_tickets_status", "status"),
        Index("idx_tickets_assigned", "assigned_to"),
        Index("idx_tickets_vps", "vps_id"),
        Index("idx_tickets_created", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    title: str = Field(sa_type=Text, nullable=False)
    description: str = Field(default="", sa_type=Text, nullable=False)
    status: str = Field(default="open", sa_type=Text, nullable=False)
    priority: str = Field(default="medium", sa_type=Text, nullable=False)
    vps_id: uuid.UUID | None = Field(
        default=None, sa_type=Uuid, foreign_key="vps.id", ondelete="SET NULL"
    )
    provider_id: uuid.UUID | None = Field(
        default=None, sa_type=Uuid, foreign_key="providers.id", ondelete="SET NULL"
    )
    created_by: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    assigned_to: uuid.UUID | None = Field(default=None, sa_type=Uuid)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


class TicketComment(Table, table=True):
    __tablename__ = "ticket_comments"
    __table_args__ = (Index("idx_ticket_comments_ticket", "ticket_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True, sa_type=Uuid)
    ticket_id: uuid.UUID = Field(
        sa_type=Uuid, foreign_key="tickets.id", ondelete="CASCADE", nullable=False
    )
    user_id: uuid.UUID = Field(sa_type=Uuid, nullable=False)
    user_email: str = Field(sa_type=Text, nullable=False)
    body: str = Field(sa_type=Text, nullable=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
