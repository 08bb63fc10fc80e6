"""Dashboard numbers (contract 2.5): totals, counts by status / country / provider, and the
VPS expiring within 14 days (overdue included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
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


def _sorted(counts: dict[Any, int]) -> list[CountBy]:
    """{label: count} as CountBy, the biggest first; no label is UNASSIGNED, zeros left out."""
    return sorted(
        (
            CountBy(label=label if label is not None else UNASSIGNED, count=count)
            for label, count in counts.items()
            if count > 0
        ),
        key=lambda c: (-c.count, c.label),
    )


def stats(
    session: Session, actor: Actor, today: date | None = None, expiring_limit: int | None = None
) -> Stats:
    """`expiring_limit`: only the first VPS of `expiring_soon` (the dashboard shows a few;
    at fleet scale thousands expire within 14 days)."""
    actor.require(READERS)
    today = today or date.today()
    n = func.count(col(VpsRow.id))
    shown = col(VpsRow.deleted_at).is_(None)  # the trash is left out of every number
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
    if expiring_limit is not None:
        del expiring[expiring_limit:]
    # their providers' names in one query, not one per VPS
    names: dict[Any, str | None] = {
        provider_id: name
        for provider_id, name in session.execute(
            select(col(ProviderRow.id), col(ProviderRow.name)).where(
                col(ProviderRow.id).in_({r.provider_id for r in expiring if r.provider_id})
            )
        )
    }
    # The counts read the (status, ...) indexes alone, over the whole history (by status) or
    # the running fleet (by country, by provider), and the VPS in the trash are taken off
    # afterwards: a `deleted_at IS NULL` in these queries would make them read every row of
    # the table (SQLite without statistics even reads it through idx_vps_deleted_at). The
    # trash is a few rows, read as a range of that index (a deletion is after 1970).
    trashed = session.execute(
        select(col(VpsRow.status), col(VpsRow.country), col(VpsRow.provider_id)).where(
            col(VpsRow.deleted_at) > datetime(1970, 1, 1, tzinfo=UTC)
        )
    ).all()
    by_status_n: dict[Any, int] = dict(
        session.execute(select(col(VpsRow.status), n).group_by(VpsRow.status)).all()
    )
    # "not retired" as the IN list the (status, ...) indexes serve: the running fleet is read,
    # not the whole history (bench/web_pages.py)
    running = col(VpsRow.status).in_(LIVE_STATUSES)
    by_country_n: dict[Any, int] = dict(
        session.execute(
            select(col(VpsRow.country), n).where(running).group_by(VpsRow.country)
        ).all()
    )
    by_provider_n: dict[Any, int] = dict(
        session.execute(
            select(col(VpsRow.provider_id), n).where(running).group_by(col(VpsRow.provider_id))
        ).all()
    )
    for status, country, provider_id in trashed:
        by_status_n[status] = by_status_n.get(status, 0) - 1
        if status in LIVE_STATUSES:
            by_country_n[country] = by_country_n.get(country, 0) - 1
            by_provider_n[provider_id] = by_provider_n.get(provider_id, 0) - 1
    provider_names = dict(session.execute(select(col(ProviderRow.id), col(ProviderRow.name))).all())
    by_status = _sorted(by_status_n)
    return Stats(
        total_vps=sum(c.count for c in by_status),
        active_vps=max(by_status_n.get("active", 0), 0),
        total_providers=len(provider_names),
        by_country=_sorted(by_country_n),
        by_provider=_sorted({provider_names.get(k): v for k, v in by_provider_n.items()}),
        by_status=by_status,
        expiring_soon=[vps_out(session, r, names.get(r.provider_id)) for r in expiring],
    )
