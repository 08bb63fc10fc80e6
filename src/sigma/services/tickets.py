"""Tickets and their comments: open, list, show, edit, the status workflow, delete (admin).

Beyond the original: status and priority must be known values, a status change must follow
the workflow (open -> in-progress -> resolved -> closed, reopen), linked VPS, provider and
assignee must exist (422 naming the field, not a 500 from the foreign key), links and the
assignee can be cleared with null, and empty titles and comments are refused.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.identity import User as UserRow
from sigma.db.models.tickets import Ticket as TicketRow
from sigma.db.models.tickets import TicketComment as CommentRow
from sigma.db.types import utcnow
from sigma.errors import Conflict, InvalidInput, NotFound
from sigma.schemas.common import Page, validate
from sigma.schemas.tickets import (
    TICKET_TRANSITIONS,
    CommentCreate,
    Ticket,
    TicketComment,
    TicketCreate,
    TicketFilter,
    TicketUpdate,
)
from sigma.services import audit, history
from sigma.services.actor import ADMINS, READERS, WRITERS, Actor
from sigma.services.refs import resolve

NIL = uuid.UUID(int=0)
# a ticket in one of these is no longer open: reaching one is `ticket-closed` in the linked
# VPS's timeline, leaving them (reopen) `ticket-opened`
DONE = ("resolved", "closed")


def named(session: Session, rows: list[TicketRow]) -> list[Ticket]:
    """Tickets with the names behind their ids (VPS hostname, provider, creator and assignee
    emails), in one query per kind for the whole page."""

    def lookup(column: Any, key: Any, ids: set[Any]) -> dict[Any, str]:
        ids.discard(None)
        if not ids:
            return {}
        return dict(session.execute(select(key, column).where(key.in_(ids))).tuples().all())

    hosts = lookup(col(VpsRow.hostname), col(VpsRow.id), {r.vps_id for r in rows})
    names = lookup(col(ProviderRow.name), col(ProviderRow.id), {r.provider_id for r in rows})
    people = {r.created_by for r in rows} | {r.assigned_to for r in rows}
    emails = lookup(col(UserRow.email), col(UserRow.id), people)
    return [
        Ticket.model_validate(r).model_copy(
            update={
                "vps_hostname": hosts.get(r.vps_id),
                "provider_name": names.get(r.provider_id),
                "created_by_email": emails.get(r.created_by),
                "assigned_to_email": emails.get(r.assigned_to),
            }
        )
        for r in rows
    ]


def find(session: Session, ref: Any) -> TicketRow:
    return resolve(
        session,
        TicketRow,
        ref,
        kind="ticket",
        name_column=TicketRow.title,
        describe=lambda t: f"{str(t.id)[:8]} {t.title!r} ({t.status})",
    )


def _link(session: Session, model: Any, value: Any, field: str, kind: str) -> Any:
    if value is None:
        return None
    row = session.get(model, value)
    if row is None or getattr(row, "deleted_at", None) is not None:  # a VPS in the trash
        raise InvalidInput(f"{field}: {kind} {value} does not exist", field=field)
    return value


def _vps_event(session: Session, actor: Actor, row: TicketRow, kind: str, **more: Any) -> None:
    """`ticket-opened` / `ticket-closed` in the timeline of the ticket's VPS, if it has one."""
    if row.vps_id is None:
        return
    details = {"ticket_id": str(row.id), "title": row.title, "status": row.status, **more}
    history.record(session, row.vps_id, kind, "user", actor, details)


def _assignee(session: Session, ref: str | None) -> uuid.UUID | None:
    if ref is None:
        return None
    from sigma.services.users import find as find_user

    try:
        user = find_user(session, ref)
    except NotFound:
        raise InvalidInput(
            f"assigned_to: user '{ref}' does not exist", field="assigned_to"
        ) from None
    except InvalidInput as exc:  # ambiguous prefix
        raise InvalidInput(f"assigned_to: {exc.message}", field="assigned_to") from None
    if not user.active:
        raise InvalidInput(f"assigned_to: user {user.email} is disabled", field="assigned_to")
    return user.id


def list_tickets(
    session: Session, actor: Actor, f: TicketFilter | dict | None = None
) -> Page[Ticket]:
    actor.require(READERS)
    f = f if isinstance(f, TicketFilter) else validate(TicketFilter, f or {})
    q = select(TicketRow)
    if f.status:
        q = q.where(col(TicketRow.status) == f.status)
    if f.priority:
        q = q.where(col(TicketRow.priority) == f.priority)
    if f.assigned_to:
        assignee: uuid.UUID | None
        try:
            assignee = uuid.UUID(f.assigned_to)
        except ValueError:
            assignee = _assignee(session, f.assigned_to)
        q = q.where(col(TicketRow.assigned_to) == assignee)
    if f.vps_id:
        q = q.where(col(TicketRow.vps_id) == f.vps_id)
    if f.provider_id:
        q = q.where(col(TicketRow.provider_id) == f.provider_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(col(TicketRow.created_at).desc(), col(TicketRow.id))
        .offset((f.page - 1) * f.per_page)
        .limit(f.per_page)
    )
    return Page[Ticket](
        data=named(session, list(rows)), total=total, page=f.page, per_page=f.per_page
    )


def get(session: Session, actor: Actor, ref: Any) -> Ticket:
    actor.require(READERS)
    return named(session, [find(session, ref)])[0]


def create(session: Session, actor: Actor, data: TicketCreate | dict) -> Ticket:
    actor.require(WRITERS)
    data = validate(TicketCreate, data) if isinstance(data, dict) else data
    now = utcnow()
    row = TicketRow(
        title=data.title,
        description=data.description,
        status="open",
        priority=data.priority,
        vps_id=_link(session, VpsRow, data.vps_id, "vps_id", "vps"),
        provider_id=_link(session, ProviderRow, data.provider_id, "provider_id", "provider"),
        assigned_to=_assignee(session, data.assigned_to),
        created_by=actor.user_id or NIL,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "ticket", row.id, {"title": row.title})
    _vps_event(session, actor, row, "ticket-opened", priority=row.priority)
    return named(session, [row])[0]


def check_transition(current: str, new: str) -> None:
    if new != current and new not in TICKET_TRANSITIONS[current]:
        allowed = ", ".join(TICKET_TRANSITIONS[current])
        raise Conflict(
            f"status: a {current} ticket cannot become {new}; it can become: {allowed}",
            field="status",
        )


def update(session: Session, actor: Actor, ref: Any, data: TicketUpdate | dict) -> Ticket:
    actor.require(WRITERS)
    data = validate(TicketUpdate, data) if isinstance(data, dict) else data
    row = find(session, ref)
    before = Ticket.model_validate(row)
    changes = data.changes()
    if "status" in changes:
        check_transition(row.status, changes["status"])
    if "vps_id" in changes:
        changes["vps_id"] = _link(session, VpsRow, changes["vps_id"], "vps_id", "vps")
    if "provider_id" in changes:
        changes["provider_id"] = _link(
            session, ProviderRow, changes["provider_id"], "provider_id", "provider"
        )
    if "assigned_to" in changes:
        changes["assigned_to"] = _assignee(session, changes["assigned_to"])
    for key, value in changes.items():
        setattr(row, key, value)
    after = Ticket.model_validate(row)
    delta = audit.diff(before, after, skip={"created_by"})
    if delta:
        row.updated_at = utcnow()
        session.flush()
        after = Ticket.model_validate(row)
        audit.record(
            session, actor, "update", "ticket", row.id, {"title": row.title, "changes": delta}
        )
        was_done, done = before.status in DONE, after.status in DONE
        if after.vps_id != before.vps_id and not done:
            _vps_event(session, actor, row, "ticket-opened", linked=True)
        elif done and not was_done:
            _vps_event(session, actor, row, "ticket-closed")
        elif was_done and not done:
            _vps_event(session, actor, row, "ticket-opened", reopened=True)
    return named(session, [row])[0]


def set_status(session: Session, actor: Actor, ref: Any, status: str) -> Ticket:
    """start / resolve / close / reopen: an update of the status alone."""
    return update(session, actor, ref, {"status": status})


def assign(session: Session, actor: Actor, ref: Any, user_ref: str | None) -> Ticket:
    return update(session, actor, ref, {"assigned_to": user_ref})


def delete(session: Session, actor: Actor, ref: Any) -> Ticket:
    actor.require(ADMINS)
    row = find(session, ref)
    gone = Ticket.model_validate(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "delete", "ticket", gone.id, {"title": gone.title})
    return gone


def list_comments(session: Session, actor: Actor, ref: Any) -> list[TicketComment]:
    """Comments oldest first. The contract answers [] for an unknown ticket id; a reference
    that is not a valid id at all is resolved like everywhere else."""
    actor.require(READERS)
    try:
        ticket_id = ref if isinstance(ref, uuid.UUID) else uuid.UUID(str(ref))
    except ValueError:
        ticket_id = find(session, ref).id
    rows = session.scalars(
        select(CommentRow)
        .where(col(CommentRow.ticket_id) == ticket_id)
        .order_by(col(CommentRow.created_at), col(CommentRow.id))
    )
    return [TicketComment.model_validate(r) for r in rows]


def add_comment(
    session: Session, actor: Actor, ref: Any, data: CommentCreate | dict | str
) -> TicketComment:
    actor.require(WRITERS)
    if isinstance(data, str):
        data = {"body": data}
    data = validate(CommentCreate, data) if isinstance(data, dict) else data
    ticket = find(session, ref)
    row = CommentRow(
        ticket_id=ticket.id,
        user_id=actor.user_id or NIL,
        user_email=actor.email,
        body=data.body,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "comment",
        "ticket",
        ticket.id,
        {"comment_id": str(row.id), "title": ticket.title},
    )
    return TicketComment.model_validate(row)


def user_emails(session: Session, ids: set[Any]) -> dict[uuid.UUID, str]:
    """Emails of the given user ids (for displaying creators and assignees)."""
    ids = {i for i in ids if i is not None and i != NIL}
    if not ids:
        return {}
    rows = session.execute(
        select(col(UserRow.id), col(UserRow.email)).where(col(UserRow.id).in_(ids))
    )
    return {user_id: email for user_id, email in rows}
