"""Tickets and comments (issue 6): mapped on first use through sigma.db.models."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from sigma.db.models import _Base as Base
from sigma.db.types import UtcDateTime, utcnow


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("idx_tickets_status", "status"),
        Index("idx_tickets_assigned", "assigned_to"),
        Index("idx_tickets_vps", "vps_id"),
        Index("idx_tickets_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    status: Mapped[str] = mapped_column(Text, default="open", nullable=False)
    priority: Mapped[str] = mapped_column(Text, default="medium", nullable=False)
    vps_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("vps.id", ondelete="SET NULL"))
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("providers.id", ondelete="SET NULL")
    )
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


class TicketComment(Base):
    __tablename__ = "ticket_comments"
    __table_args__ = (Index("idx_ticket_comments_ticket", "ticket_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    user_email: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


