"""Dashboard numbers (contract 2.5): totals, counts by status / country / provider, and the
VPS expiring within 14 days (overdue included)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.schemas.stats import CountBy, Stats
from sigma.services.actor import READERS, Actor
from sigma.services.vps import LIVE_STATUSES
from sigma.services.vps import out as vps_out
from sigma.vocab import ACTIVE_STATUSES

EXPIRING_DAYS = 14
UNASSIGNED = "(unassigned)"


def _counts(session: Session, q: Select) -> list[CountBy]:
    rows = [
        CountBy(label=label if label is not None else UNASSIGNED, count=n)
        for label, n in session.execute(q)
    ]
    return sorted(rows, key=lambda c: (-c.count, c.label))


def stats(
    session: Session, actor: Actor, today: date | None = None, expiring_limit: int | None = None
) -> Stats:
    """`expiring_limit`: only the first VPS of `expiring_soon` (the dashboard shows a few;
    at fleet scale thousands expire within 14 days)."""
    actor.require(READERS)
    today = today or date.today()
    n = func.count(col(VpsRow.id))
    shown = col(VpsRow.deleted_at).is_(None)  # the trash is left out of every number
    # "not retired" as the IN list the (status, ...) indexes serve: the running fleet is read,
    # not the whole history (bench/web_pages.py)
    live = col(VpsRow.status).in_(LIVE_STATUSES) & shown
    order = (col(VpsRow.expire_date), col(VpsRow.hostname), col(VpsRow.id))
    expiring: list[VpsRow] = []
    # one query per status, each reading its (status, expire_date) index in order: one query
    # for both walks the expiry index from the oldest retired VPS
    for status in ACTIVE_STATUSES if expiring_limit is not None else (None,):
        expiring += session.scalars(
            select(VpsRow)
            .where(
                shown,
                col(VpsRow.status).in_(ACTIVE_STATUSES if status is None else (status,)),
                col(VpsRow.expire_date).is_not(None),
                col(VpsRow.expire_date) <= today + timedelta(days=EXPIRING_DAYS),
            )
            .order_by(*order)
            .limit(expiring_limit)
        )
    expiring.sort(key=lambda r: (r.expire_date, r.hostname, str(r.id)))
    by_status = _counts(session, select(col(VpsRow.status), n).where(shown).group_by(VpsRow.status))
    return Stats(
        total_vps=sum(c.count for c in by_status),
        active_vps=next((c.count for c in by_status if c.label == "active"), 0),
        total_providers=session.scalar(select(func.count()).select_from(ProviderRow)) or 0,
        by_country=_counts(
            session, select(col(VpsRow.country), n).where(live).group_by(VpsRow.country)
        ),
        by_provider=_counts(
            session,
            select(col(ProviderRow.name), n)
            .select_from(VpsRow)
            .outerjoin(ProviderRow, col(ProviderRow.id) == VpsRow.provider_id)
            .where(live)
            .group_by(ProviderRow.name),
        ),
        by_status=by_status,
        expiring_soon=[vps_out(session, r) for r in expiring[:expiring_limit]],
    )
