"""Replacing a VPS by another (issue 16, part B): `sigma vps replace OLD --with NEW`.

In one transaction, audited once (`replace`):

- NEW is an existing VPS (not OLD, not retired) or one created from the given fields
  (services.vps.create: its own `created` event and audit row);
- NEW inherits, as asked (each on by default): OLD's purpose (when OLD has one), its tags
  (added to NEW's own), its monitoring settings (monitoring_enabled, node_exporter_port),
  and the links of OLD's open tickets (open, in-progress: they now name NEW); a field given
  explicitly for a new VPS is kept instead of inherited;
- OLD becomes `retiring` (a retiring one stays so) and the pair is linked in `extra`:
  `extra.replaced_by` on OLD is NEW's id, `extra.replaces` on NEW the list of the ids it
  replaced (a VPS may take over from several);
- both timelines show the pair: `replaced` on OLD (replaced_by, its status change, the
  tickets moved), `replaces` on NEW (replaces, what it inherited, the tickets moved).

A retired OLD is not replaced (Conflict); a VPS does not replace itself (InvalidInput,
field `with`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.tickets import Ticket as TicketRow
from sigma.db.types import utcnow
from sigma.errors import Conflict, InvalidInput, NotFound
from sigma.schemas.common import validate
from sigma.schemas.inventory import VpsUpdate
from sigma.schemas.lifecycle import ReplaceRequest, ReplaceResult
from sigma.services import audit, history
from sigma.services.actor import WRITERS, Actor

OPEN_TICKETS = ("open", "in-progress")


def replace(
    session: Session, actor: Actor, old_ref: Any, data: ReplaceRequest | dict
) -> ReplaceResult:
    from sigma.services import vps

    actor.require(WRITERS)
    req = data if isinstance(data, ReplaceRequest) else validate(ReplaceRequest, data)
    old = vps.find(session, old_ref)
    if old.status == "retired":
        raise Conflict(
            f"vps {old.hostname} is retired: there is nothing left to replace", field="status"
        )
    created = False
    if req.with_vps is not None:
        try:
            new = vps.find(session, req.with_vps)
        except NotFound as exc:
            raise NotFound(f"with: {exc.message}", field="with") from None
        if new.id == old.id:
            raise InvalidInput(
                f"with: vps {old.hostname} cannot replace itself; name another VPS",
                field="with",
            )
        if new.status == "retired":
            raise Conflict(
                f"with: vps {new.hostname} is retired and cannot take over from {old.hostname}",
                field="with",
            )
    else:
        assert req.new is not None  # ReplaceRequest: one of the two
        made = vps.create(session, actor, req.new)
        new = vps.find(session, made.id)
        created = True
    # both rows locked, in a fixed order (two replacements crossing cannot deadlock)
    for row in sorted((old, new), key=lambda r: str(r.id)):
        vps._lock(session, row)

    # a new VPS's fields given explicitly win over what it would inherit
    explicit = req.new.model_fields_set if created and req.new is not None else set()
    inherited: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    if (
        req.inherit_purpose
        and "purpose" not in explicit
        and old.purpose
        and old.purpose != new.purpose
    ):
        changes["purpose"] = old.purpose
    if req.inherit_tags:
        tags = list(dict.fromkeys([*(new.tags or []), *(old.tags or [])]))
        if tags != list(new.tags or []):
            changes["tags"] = tags
    if req.inherit_monitoring:
        for name in ("monitoring_enabled", "node_exporter_port"):
            if name not in explicit and getattr(new, name) != getattr(old, name):
                changes[name] = getattr(old, name)
    if changes:
        checked = validate(VpsUpdate, changes).changes()  # the rules of an edit (64 tags...)
        for key, value in checked.items():
            inherited[key] = {"from": getattr(new, key), "to": value}
            setattr(new, key, value)

    moved: list[Any] = []
    if req.inherit_tickets:
        tickets = list(
            session.scalars(
                select(TicketRow)
                .where(col(TicketRow.vps_id) == old.id, col(TicketRow.status).in_(OPEN_TICKETS))
                .order_by(col(TicketRow.created_at))
            )
        )
        now = utcnow()
        for ticket in tickets:
            ticket.vps_id = new.id
            ticket.updated_at = now
            moved.append(ticket.id)

    status_before = old.status
    if old.status != "retiring":
        old.status = "retiring"
    old.extra = {**(old.extra or {}), "replaced_by": str(new.id)}
    replaces = [r for r in (new.extra or {}).get("replaces") or [] if isinstance(r, str)]
    new.extra = {
        **(new.extra or {}),
        "replaces": [*(r for r in replaces if r != str(old.id)), str(old.id)],
    }
    session.flush()

    ticket_ids = [str(t) for t in moved]
    asked = [
        name
        for name, on in (
            ("purpose", req.inherit_purpose),
            ("tags", req.inherit_tags),
            ("monitoring", req.inherit_monitoring),
            ("tickets", req.inherit_tickets),
        )
        if on
    ]
    history.record(
        session,
        old.id,
        "replaced",
        "user",
        actor,
        {
            "replaced_by": str(new.id),
            "replaced_by_hostname": new.hostname,
            "status": {"from": status_before, "to": old.status},
            "tickets_moved": ticket_ids,
        },
        hostname=old.hostname,
    )
    history.record(
        session,
        new.id,
        "replaces",
        "user",
        actor,
        {
            "replaces": str(old.id),
            "replaces_hostname": old.hostname,
            "created": created,
            "inherited": inherited,
            "tickets_moved": ticket_ids,
        },
        hostname=new.hostname,
    )
    audit.record(
        session,
        actor,
        "replace",
        "vps",
        old.id,
        {
            "hostname": old.hostname,
            "replaced_by": str(new.id),
            "replaced_by_hostname": new.hostname,
            "created": created,
            "inherit": asked,
            "inherited": inherited,
            "tickets_moved": ticket_ids,
            "status": {"from": status_before, "to": old.status},
        },
    )
    return ReplaceResult(
        old=vps.out(session, old),
        new=vps.out(session, new),
        created=created,
        inherited=sorted(inherited),
        tickets_moved=moved,
    )
