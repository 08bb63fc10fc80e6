"""Tickets and their comments."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, ValidationInfo, field_validator

from sigma.schemas.common import (
    Input,
    Output,
    PageParams,
    Text,
    Timestamp,
    multiline_text,
    one_of,
    short_text,
)

TICKET_STATUSES = ("open", "in-progress", "resolved", "closed")
TICKET_PRIORITIES = ("low", "medium", "high", "critical")
# the workflow: start work, resolve, close, reopen (and stop work back to open)
TICKET_TRANSITIONS = {
    "open": ("in-progress", "resolved", "closed"),
    "in-progress": ("open", "resolved", "closed"),
    "resolved": ("open", "in-progress", "closed"),
    "closed": ("open",),
}


def _ticket_status(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in ("in_progress", "inprogress"):
        value = "in-progress"
    return one_of(value, TICKET_STATUSES, "status")


def _title(value: Any) -> str:
    v = short_text(value)
    if not v:
        raise ValueError("title is required")
    return v


def _user_ref(value: Any) -> str | None:
    """An assignee: a user's UUID, id prefix or email (resolved by the service)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, UUID):
        return str(value)
    if not isinstance(value, str) or len(value) > 320:
        raise ValueError("must be a user id or email")
    return value.strip()


def _comment_body(value: Any) -> str:
    v = multiline_text(value)
    if not v.strip():
        raise ValueError("comment must not be empty")
    return v


TicketStatus = Annotated[str, BeforeValidator(_ticket_status)]
TicketPriority = Annotated[str, BeforeValidator(lambda v: one_of(v, TICKET_PRIORITIES, "priority"))]
TicketTitle = Annotated[str, BeforeValidator(_title)]
UserRef = Annotated[str | None, BeforeValidator(_user_ref)]
OptUuid = Annotated[UUID | None, BeforeValidator(lambda v: None if v == "" else v)]


class TicketCreate(Input):
    title: TicketTitle
    description: Text = ""
    priority: TicketPriority = "medium"
    vps_id: OptUuid = None
    provider_id: OptUuid = None
    assigned_to: UserRef = None


class TicketUpdate(Input):
    """Partial update: absent fields are kept; `null` clears a link or the assignee."""

    title: TicketTitle | None = None
    description: Text | None = None
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    vps_id: OptUuid = None
    provider_id: OptUuid = None
    assigned_to: UserRef = None

    @field_validator("title", "description", "status", "priority", mode="before")
    @classmethod
    def _not_null(cls, v: Any, info: ValidationInfo) -> Any:
        # a field validator (not a model one) so that the error names the field
        if v is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return v

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class Ticket(Output):
    id: UUID
    title: str
    description: str
    status: str
    priority: str
    vps_id: UUID | None
    provider_id: UUID | None
    created_by: UUID
    assigned_to: UUID | None
    created_at: Timestamp
    updated_at: Timestamp
    # the names behind the ids, for people (additions to the original's shape)
    vps_hostname: str | None = None
    provider_name: str | None = None
    created_by_email: str | None = None
    assigned_to_email: str | None = None


class TicketFilter(PageParams):
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assigned_to: UserRef = None
    vps_id: OptUuid = None
    provider_id: OptUuid = None
    page: int = 1
    per_page: int = 25

    @field_validator("status", "priority", mode="before")
    @classmethod
    def _empty(cls, v: Any) -> Any:
        return None if v == "" else v


class CommentCreate(Input):
    body: Annotated[str, BeforeValidator(_comment_body)]


class TicketComment(Output):
    id: UUID
    ticket_id: UUID
    user_id: UUID
    user_email: str
    body: str
    created_at: Timestamp
