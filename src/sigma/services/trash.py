"""The trash: VPS deleted by services.vps.delete, hidden from every listing, export and
derived output, kept for `trash_retention_days` (default 30), then purged by the `trash-purge`
job of `sigma serve`; until then `restore` brings one back and `purge` (admins) deletes one
for good. The timeline and the IP history of a purged VPS stay (services.history)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Vps as VpsRow
from sigma.db.types import utcnow
from sigma.errors import NotFound, SigmaError
from sigma.schemas.common import Page, clamp_page
from sigma.schemas.history import PurgedVps, TrashedVps
from sigma.schemas.inventory import Vps
from sigma.services import audit, history
from sigma.services.actor import ADMINS, READERS, SYSTEM, WRITERS, Actor
from sigma.services.vps import _shared, find, out

DEFAULT_RETENTION_DAYS = 30
JOB_NAME = "trash-purge"
log = logging.getLogger("sigma.jobs")


def list_trash(
    session: Session,
    actor: Actor,
    page: int = 1,
    per_page: int = 25,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> Page[TrashedVps]:
    """The VPS in the trash, most recently deleted first, with when each is purged."""
    actor.require(READERS)
    try:
        page, per_page = clamp_page(page, per_page)
    except ValueError as exc:
        from sigma.errors import InvalidInput

        raise InvalidInput(f"page: {exc}", field="page") from None
    trashed = col(VpsRow.deleted_at).is_not(None)
    total = session.scalar(select(func.count()).select_from(VpsRow).where(trashed)) or 0
    rows = session.scalars(
        select(VpsRow)
        .where(trashed)
        .order_by(col(VpsRow.deleted_at).desc(), col(VpsRow.id))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    keep = timedelta(days=retention_days)
    data = [
        TrashedVps(
            id=r.id,
            hostname=r.hostname,
            alias=r.alias,
            status=r.status,
            ip_addresses=[dict(e) for e in r.ip_addresses or [] if isinstance(e, dict)],
            deleted_at=r.deleted_at,
            purge_after=r.deleted_at + keep,
        )
        for r in rows
        if r.deleted_at is not None
    ]
    return Page[TrashedVps](data=data, total=total, page=page, per_page=per_page)


def restore(session: Session, actor: Actor, ref: Any) -> Vps:
    """Bring a VPS back from the trash: listed again, its addresses held again, and the agent
    keys the deletion unbound bound again (those still unbound, not revoked, while no other
    live key holds the VPS). A VPS not in the trash is NotFound; a hostname that now differs
    only in case from a VPS in service is a Conflict (history.record: `restored`)."""
    from sigma.db.models.history import VpsHistory
    from sigma.db.models.identity import ApiKey as ApiKeyRow

    actor.require(WRITERS)
    try:
        row = find(session, ref, trashed=True)
    except NotFound:
        live = None
        with contextlib.suppress(SigmaError):
            live = find(session, ref)
        if live is None:
            raise
        raise NotFound(
            f"vps {live.hostname} ({live.id}) is not in the trash: nothing to restore",
            field="vps",
        ) from None
    warnings = _shared(session, row.id, row.hostname, list(row.ip_addresses or []))
    now = utcnow()
    deleted = session.scalars(
        select(VpsHistory)
        .where(col(VpsHistory.vps_id) == row.id, col(VpsHistory.kind) == "deleted")
        .order_by(col(VpsHistory.at).desc())
        .limit(1)
    ).first()
    rebound: list[str] = []
    if deleted is not None:
        wanted = [
            uuid.UUID(k) for k in deleted.details.get("unbound_keys", []) if isinstance(k, str)
        ]
        for key in session.scalars(
            select(ApiKeyRow).where(col(ApiKeyRow.id).in_(wanted)).order_by(col(ApiKeyRow.id))
        ):
            usable = key.revoked_at is None and (key.expires_at is None or key.expires_at > now)
            if key.vps_id is None and usable:
                key.vps_id = row.id
                rebound.append(str(key.id))
    trashed_at = row.deleted_at
    row.deleted_at = None
    session.flush()
    history.record(
        session,
        row.id,
        "restored",
        "user",
        actor,
        {"deleted_at": trashed_at.isoformat() if trashed_at else None, "rebound_keys": rebound},
        hostname=row.hostname,
        at=now,
    )
    history.sync_row(session, row, now)
    audit.record(session, actor, "restore", "vps", row.id, {"hostname": row.hostname})
    v = out(session, row)
    v._warnings = tuple(warnings)
    return v


def _purge_row(session: Session, actor: Actor, row: VpsRow, source: str, now: datetime) -> None:
    history.record(
        session,
        row.id,
        "purged",
        source,
        actor,
        {"deleted_at": row.deleted_at.isoformat() if row.deleted_at else None},
        hostname=row.hostname,
        at=now,
    )
    history.sync_ips(session, [(row.id, row.hostname, [], False)], now)
    session.delete(row)


def purge(session: Session, actor: Actor, ref: Any) -> PurgedVps:
    """Delete a VPS for good (admins): one in the trash, or one in service at once. Its
    checks, verdicts and events go with it; its timeline and IP history stay."""
    actor.require(ADMINS)
    row = find(session, ref, trashed=None)
    gone = PurgedVps(id=row.id, hostname=row.hostname)
    _purge_row(session, actor, row, "user", utcnow())
    session.flush()
    audit.record(session, actor, "purge", "vps", gone.id, {"hostname": gone.hostname})
    return gone


def purge_expired(
    session: Session, retention_days: int, now: datetime | None = None, limit: int = 1000
) -> list[PurgedVps]:
    """Purge the VPS in the trash for longer than `retention_days` (at most `limit` per
    run, the oldest first): the body of the trash job."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(VpsRow)
            .where(col(VpsRow.deleted_at) < now - timedelta(days=retention_days))
            .order_by(col(VpsRow.deleted_at), col(VpsRow.id))
            .limit(limit)
        )
    )
    gone = [PurgedVps(id=r.id, hostname=r.hostname) for r in rows]
    for row in rows:
        _purge_row(session, SYSTEM, row, "system", now)
    session.flush()
    if gone:
        audit.record(
            session,
            SYSTEM,
            "purge",
            "vps",
            None,
            {"retention_days": retention_days, "purged": [g.hostname for g in gone]},
        )
    return gone


def job(sessions: Any, settings: Any) -> None:
    """Body of the `trash-purge` job in `sigma serve` (registered in server/jobs.py)."""
    from sigma.db.engine import unit_of_work

    with unit_of_work(sessions) as session:
        gone = purge_expired(session, settings.trash_retention_days)
    for g in gone:
        log.info("VPS %s (%s) purged from the trash", g.hostname, g.id)
