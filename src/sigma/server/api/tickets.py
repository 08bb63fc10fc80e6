"""/api/tickets and their comments: parse -> service -> schema."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from sigma.schemas.common import Deleted, Page, validate
from sigma.schemas.tickets import (
    CommentCreate,
    Ticket,
    TicketComment,
    TicketCreate,
    TicketFilter,
    TicketUpdate,
)
from sigma.server.deps import ActorDep, rule, run
from sigma.services import tickets

router = APIRouter(prefix="/api/tickets", tags=["tickets"])


@router.get("", response_model=Page[Ticket], openapi_extra=rule("any"))
def list_tickets(
    request: Request,
    actor: ActorDep,
    status: str | None = Query(None, description="open, in-progress, resolved or closed"),
    priority: str | None = Query(None, description="low, medium, high or critical"),
    assigned_to: str | None = Query(None, description="user id or email"),
    vps_id: str | None = Query(None),
    provider_id: str | None = Query(None),
    page: int = Query(1),
    per_page: int = Query(25),
):
    raw = dict(
        status=status,
        priority=priority,
        assigned_to=assigned_to,
        vps_id=vps_id,
        provider_id=provider_id,
        page=page,
        per_page=per_page,
    )
    f = validate(TicketFilter, {k: v for k, v in raw.items() if v is not None})
    return run(request, tickets.list_tickets, actor, f)


@router.post("", response_model=Ticket, openapi_extra=rule("op"))
def create_ticket(request: Request, actor: ActorDep, data: TicketCreate):
    return run(request, tickets.create, actor, data)


@router.get("/{ref}", response_model=Ticket, openapi_extra=rule("any"))
def get_ticket(request: Request, actor: ActorDep, ref: str):
    """`ref`: the ticket's UUID, a unique id prefix (4+ chars) or its exact title."""
    return run(request, tickets.get, actor, ref)


@router.put("/{ref}", response_model=Ticket, openapi_extra=rule("op"))
def update_ticket(request: Request, actor: ActorDep, ref: str, data: TicketUpdate):
    """Partial update. A status change must follow the workflow
    (open -> in-progress -> resolved -> closed; resolved/closed -> open reopens)."""
    return run(request, tickets.update, actor, ref, data)


@router.delete("/{ref}", response_model=Deleted, openapi_extra=rule("admin"))
def delete_ticket(request: Request, actor: ActorDep, ref: str):
    run(request, tickets.delete, actor, ref)
    return Deleted()


@router.get("/{ref}/comments", response_model=list[TicketComment], openapi_extra=rule("any"))
def list_comments(request: Request, actor: ActorDep, ref: str):
    return run(request, tickets.list_comments, actor, ref)


@router.post("/{ref}/comments", response_model=TicketComment, openapi_extra=rule("op"))
def add_comment(request: Request, actor: ActorDep, ref: str, data: CommentCreate):
    return run(request, tickets.add_comment, actor, ref, data)
