"""Billing cycles and renewals (issue 16, part B).

- A VPS's `billing_cycle` is a number of calendar months (monthly 1, quarterly 3,
  semi-annual 6, yearly 12) or of days ("45d"; vocab.parse_billing_cycle refuses anything
  under one day). `renew` moves expire_date forward by whole cycles: months land on the same
  day of the month, clamped to the month's end (Jan 31 + 1 month = Feb 28, or 29 in a leap
  year); a date that was clamped goes back to the purchase day when a later month has it
  (purchased on the 31st: Feb 28 -> Mar 31), so monthly renewals do not drift to the 28th.
- Each renewal is a row of vps_renewals with its amount: cost_monthly x the months it paid
  for, exact (a day cycle counts N/30 months, rounded once to the cent, half to even), none
  without a monthly cost. It is audited (`renew`) and is a `renewed` event of the VPS's
  timeline, in the same transaction.
- With `auto_renew`, an expiry that has passed rolls forward by itself: the `auto-renew`
  job (server/jobs.py, under its lease) renews each such VPS by one cycle at a time until
  its expiry is today or later, one renewal per cycle, paid on the day each cycle began.
  Each VPS moves by one conditional UPDATE (`WHERE expire_date = <the date read>`): a
  second run, or a second process at the same moment, finds the date moved and renews
  nothing, so a cycle is renewed once.

A retired VPS is never renewed (Conflict); one without an expiry date yet renews from today.
"""

from __future__ import annotations

import calendar
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.lifecycle import VpsRenewal
from sigma.db.types import utcnow
from sigma.errors import Conflict, InvalidInput
from sigma.schemas.common import validate
from sigma.schemas.lifecycle import (
    MAX_RENEWAL_WINDOW_DAYS,
    Renewal,
    RenewalTotal,
    RenewRequest,
    RenewResult,
    UpcomingRenewal,
    UpcomingRenewals,
)
from sigma.services import audit, history
from sigma.services.actor import READERS, SYSTEM, WRITERS, Actor
from sigma.services.vps import LIVE_STATUSES, not_trashed
from sigma.vocab import CYCLE_MONTHS, cycle_length

log = logging.getLogger("sigma.jobs")

JOB_NAME = "auto-renew"
JOB_INTERVAL = 3600.0  # seconds: expiry dates are days, an hour late at most is fine
# cycles one run renews per VPS at most (a "1d" cycle years overdue): the next run goes on
MAX_CATCH_UP = 120
CENT = Decimal("0.01")
DAYS_PER_MONTH = 30  # a day cycle's months, for its amount: N/30


# ---------------------------------------------------------------- cycle arithmetic


def add_months(start: date, months: int, anchor_day: int | None = None) -> date:
    """`start` moved by `months` calendar months, on `anchor_day` (default: start's day),
    clamped to the last day of the month it lands in."""
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor_day or start.day, last))


def anchor_day(expire: date, purchase: date | None) -> int:
    """The day of the month monthly cycles fall on: the expiry's day, or the purchase day
    when the expiry sits on a month's last day because a shorter month clamped it."""
    last = calendar.monthrange(expire.year, expire.month)[1]
    if purchase is not None and expire.day == last and purchase.day > expire.day:
        return purchase.day
    return expire.day


def advance(expire: date, cycle: str, cycles: int = 1, purchase: date | None = None) -> date:
    """The expiry `cycles` cycles after `expire` (months from the same anchor, in one step:
    no drift within a renewal). InvalidInput when the date leaves the calendar."""
    months, days = cycle_length(cycle)
    try:
        if months:
            return add_months(expire, months * cycles, anchor_day(expire, purchase))
        return date.fromordinal(expire.toordinal() + days * cycles)
    except (OverflowError, ValueError):
        raise InvalidInput(
            f"cycles: {cycles} x {cycle} from {expire} is beyond the year 9999", field="cycles"
        ) from None


def cycle_months(cycle: str) -> Decimal:
    """The months one cycle pays for: 1, 3, 6, 12, or N/30 for "Nd" (exact as a fraction
    only when N is a multiple of 30; renewal_amount rounds the product once)."""
    if cycle in CYCLE_MONTHS:
        return Decimal(CYCLE_MONTHS[cycle])
    return Decimal(cycle_length(cycle)[1]) / DAYS_PER_MONTH


def renewal_amount(cost_monthly: Decimal | None, cycle: str, cycles: int = 1) -> Decimal | None:
    """What `cycles` cycles cost: cost_monthly x months, exact for month cycles; for day
    cycles cost_monthly x N x cycles / 30, rounded once to the cent (half to even). None
    without a monthly cost."""
    if cost_monthly is None:
        return None
    if cycle in CYCLE_MONTHS:
        return (cost_monthly * CYCLE_MONTHS[cycle] * cycles).quantize(CENT)
    days = cycle_length(cycle)[1] * cycles
    return (cost_monthly * days / DAYS_PER_MONTH).quantize(CENT, rounding=ROUND_HALF_EVEN)


# ---------------------------------------------------------------- what is due


def upcoming(
    session: Session,
    actor: Actor,
    within_days: int = 7,
    today: date | None = None,
    first: int | None = None,
) -> UpcomingRenewals:
    """The VPS in service (not retired, not in the trash) expiring within `within_days`
    days, overdue ones included, soonest first, each with one cycle's amount; the totals
    per currency: "what do I renew this week, and for how much". With `first`, only the
    first ones are listed (the totals and `count` are of them all)."""
    actor.require(READERS)
    if not 0 <= within_days <= MAX_RENEWAL_WINDOW_DAYS:
        raise InvalidInput(
            f"within: a number of days from 0 to {MAX_RENEWAL_WINDOW_DAYS}", field="within"
        )
    today = today or utcnow().date()
    until = today + timedelta(days=within_days)
    due = (
        col(VpsRow.expire_date).is_not(None),
        col(VpsRow.expire_date) <= until,
        # the statuses in service, not "!= retired": a status index then reads the few in
        # service, not every retired VPS's old expiry date
        col(VpsRow.status).in_(LIVE_STATUSES),
        not_trashed(session),
    )
    listed = (
        select(
            col(VpsRow.id),
            col(VpsRow.hostname),
            col(VpsRow.status),
            col(VpsRow.expire_date),
            col(VpsRow.billing_cycle),
            col(VpsRow.auto_renew),
            col(VpsRow.cost_monthly),
            col(VpsRow.currency),
        )
        .where(*due)
        .order_by(col(VpsRow.expire_date), col(VpsRow.hostname), col(VpsRow.id))
    )
    if first is None:
        rows = list(session.execute(listed))
    else:
        # the first ones of each status in service in (status, expire_date, hostname, id)
        # order (idx_vps_status_expire), then merged: one ordered walk of the expiry index
        # would pass every retired VPS's old date first (PostgreSQL: 87,000 of them, 65 ms)
        rows = []
        for status in LIVE_STATUSES:
            rows += session.execute(
                listed.where(col(VpsRow.status) == status)
                .order_by(None)
                .order_by(col(VpsRow.expire_date), col(VpsRow.hostname), col(VpsRow.id))
                .limit(first)
            )
        rows = sorted(rows, key=lambda r: (r.expire_date, r.hostname, str(r.id)))[:first]
    items = [
        UpcomingRenewal(
            vps_id=vid,
            hostname=host,
            status=status,
            expire_date=expire,
            days_left=(expire - today).days,  # type: ignore[operator]  # not None: `due`
            billing_cycle=cycle,
            auto_renew=auto,
            amount=renewal_amount(cost, cycle),
            currency=currency,
        )
        for vid, host, status, expire, cycle, auto, cost, currency in rows
    ]
    # the totals of every renewal due, summed by the database per currency and cycle: a
    # cycle of months costs its months' exact amount whatever the grouping (cents); a cycle
    # of days is rounded per VPS (renewal_amount), so its costs are read one by one
    totals: dict[str, list[Any]] = {}  # currency: [VPS, amount, without a cost]
    count = 0
    grouped = (
        select(
            col(VpsRow.currency),
            col(VpsRow.billing_cycle),
            func.count(),
            func.count(col(VpsRow.cost_monthly)),
            func.sum(col(VpsRow.cost_monthly)),
        )
        .where(*due)
        .group_by(col(VpsRow.currency), col(VpsRow.billing_cycle))
    )
    for currency, cycle, n, with_cost, summed in session.execute(grouped):
        total = totals.setdefault(currency, [0, Decimal(0), 0])
        count += n
        total[0] += n
        total[2] += n - with_cost
        if not with_cost:
            continue
        if cycle in CYCLE_MONTHS:
            total[1] += renewal_amount(summed, cycle) or 0
            continue
        costs_of_cycle = select(col(VpsRow.cost_monthly)).where(
            *due,
            col(VpsRow.currency) == currency,
            col(VpsRow.billing_cycle) == cycle,
            col(VpsRow.cost_monthly).is_not(None),
        )
        total[1] += sum(
            (renewal_amount(c, cycle) or Decimal(0) for c in session.scalars(costs_of_cycle)),
            Decimal(0),
        )
    return UpcomingRenewals(
        within_days=within_days,
        until=until,
        items=items,
        totals=[
            RenewalTotal(currency=c, vps_count=n, amount=amount, without_cost=missing)
            for c, (n, amount, missing) in sorted(totals.items())
        ],
        count=count,
    )


# ---------------------------------------------------------------- renewing


def _renewal_row(
    vps_id: Any,
    paid_on: date,
    cycle: str,
    cycles: int,
    before: date,
    after: date,
    cost: Decimal | None,
    currency: str,
    automatic: bool,
    actor: Actor,
) -> VpsRenewal:
    return VpsRenewal(
        id=uuid.uuid4(),
        vps_id=vps_id,
        paid_on=paid_on,
        cycles=cycles,
        billing_cycle=cycle,
        expire_before=before,
        expire_after=after,
        amount=renewal_amount(cost, cycle, cycles),
        currency=currency,
        automatic=automatic,
        actor=actor.email,
        created_at=utcnow(),
    )


def _event(renewal: VpsRenewal) -> dict[str, Any]:
    """The details of a `renewed` event (and of its audit row)."""
    return {
        "from": renewal.expire_before.isoformat(),
        "to": renewal.expire_after.isoformat(),
        "cycles": renewal.cycles,
        "billing_cycle": renewal.billing_cycle,
        "amount": None if renewal.amount is None else f"{renewal.amount:.2f}",
        "currency": renewal.currency,
        "automatic": renewal.automatic,
    }


def renew(
    session: Session,
    actor: Actor,
    ref: Any,
    data: RenewRequest | dict | int | None = None,
    today: date | None = None,
) -> RenewResult:
    """Move a VPS's expire_date forward by `cycles` cycles of its billing cycle (from today
    when it has none yet), and record the renewal (paid `today`) with its amount: audit
    row, vps_renewals, timeline."""
    from sigma.services.vps import _lock, find, out

    actor.require(WRITERS)
    if isinstance(data, int) and not isinstance(data, bool):
        data = {"cycles": data}
    req = data if isinstance(data, RenewRequest) else validate(RenewRequest, data or {})
    row = find(session, ref)
    _lock(session, row)
    if row.status == "retired":
        raise Conflict(
            f"status: vps {row.hostname} is retired; a retired VPS is not renewed (give it "
            "another status first)",
            field="status",
        )
    paid_on = today or utcnow().date()
    # without an expiry date yet, the cycles paid for start today
    before = row.expire_date or paid_on
    after = advance(before, row.billing_cycle, req.cycles, row.purchase_date)
    renewal = _renewal_row(
        row.id,
        paid_on,
        row.billing_cycle,
        req.cycles,
        before,
        after,
        row.cost_monthly,
        row.currency,
        False,
        actor,
    )
    row.expire_date = after
    session.add(renewal)
    session.flush()
    details = _event(renewal)
    audit.record(session, actor, "renew", "vps", row.id, {"hostname": row.hostname, **details})
    history.record(session, row.id, "renewed", "user", actor, details, hostname=row.hostname)
    return RenewResult(vps=out(session, row), renewal=Renewal.model_validate(renewal))


@dataclass(frozen=True)
class Due:
    """A VPS whose automatic renewal is due, as read (the UPDATE checks it still is)."""

    id: uuid.UUID
    hostname: str
    expire_date: date
    billing_cycle: str
    purchase_date: date | None
    cost_monthly: Decimal | None
    currency: str


def due(session: Session, today: date, ids: Iterable[uuid.UUID] | None = None) -> list[Due]:
    """The VPS with auto_renew whose expiry has passed (before `today`), not retired, not in
    the trash."""
    q = select(
        col(VpsRow.id),
        col(VpsRow.hostname),
        col(VpsRow.expire_date),
        col(VpsRow.billing_cycle),
        col(VpsRow.purchase_date),
        col(VpsRow.cost_monthly),
        col(VpsRow.currency),
    ).where(
        col(VpsRow.auto_renew).is_(True),
        col(VpsRow.expire_date) < today,
        col(VpsRow.status) != "retired",
        col(VpsRow.deleted_at).is_(None),
    )
    if ids is not None:
        q = q.where(col(VpsRow.id).in_(list(ids)))
    out = []
    for i, h, e, c, p, m, cur in session.execute(
        q.order_by(col(VpsRow.expire_date), col(VpsRow.id))
    ):
        if e is not None:
            out.append(Due(i, h, e, c, p, m, cur))
    return out


def renew_due(session: Session, item: Due, today: date, actor: Actor = SYSTEM) -> list[VpsRenewal]:
    """Renew one due VPS by as many cycles as bring its expiry to `today` or later (at most
    MAX_CATCH_UP), one renewal per cycle, paid on the day each cycle began. Nothing when
    another run moved the date first (the conditional UPDATE matched no row)."""
    renewals: list[VpsRenewal] = []
    current = item.expire_date
    while current < today and len(renewals) < MAX_CATCH_UP:
        nxt = advance(current, item.billing_cycle, 1, item.purchase_date)
        renewals.append(
            _renewal_row(
                item.id,
                current,
                item.billing_cycle,
                1,
                current,
                nxt,
                item.cost_monthly,
                item.currency,
                True,
                actor,
            )
        )
        current = nxt
    if not renewals:
        return []
    table = VpsRow.__table__
    moved = cast(
        CursorResult[Any],
        session.execute(
            update(table)
            .where(
                table.c.id == item.id,
                table.c.expire_date == item.expire_date,
                table.c.auto_renew.is_(True),
                table.c.status != "retired",
                table.c.deleted_at.is_(None),
            )
            .values(expire_date=current, version=table.c.version + 1)
        ),
    ).rowcount
    if moved != 1:
        return []
    session.add_all(renewals)
    session.flush()
    for renewal in renewals:
        history.record(
            session,
            item.id,
            "renewed",
            "system",
            actor,
            _event(renewal),
            hostname=item.hostname,
        )
    total = [r.amount for r in renewals if r.amount is not None]
    audit.record(
        session,
        actor,
        "auto-renew",
        "vps",
        item.id,
        {
            "hostname": item.hostname,
            "from": item.expire_date.isoformat(),
            "to": current.isoformat(),
            "cycles": len(renewals),
            "billing_cycle": item.billing_cycle,
            "amount": f"{sum(total, Decimal(0)):.2f}" if total else None,
            "currency": item.currency,
        },
    )
    return renewals


def auto_renew(session: Session, today: date | None = None) -> list[Renewal]:
    """Renew every due VPS (the job's work in one transaction; the job itself gives each
    VPS a transaction of its own)."""
    today = today or utcnow().date()
    out: list[Renewal] = []
    for item in due(session, today):
        out.extend(Renewal.model_validate(r) for r in renew_due(session, item, today))
    return out


def job(sessions: Any, settings: Any, today: date | None = None) -> int:
    """Body of the `auto-renew` job in `sigma serve` (registered in server/jobs.py): each due
    VPS renewed in a transaction of its own, so that one failure holds back no other. The
    number of cycles renewed."""
    from sigma.db.engine import unit_of_work

    today = today or utcnow().date()
    with unit_of_work(sessions, read_only=True) as session:
        items = due(session, today)
    renewed = 0
    for item in items:
        try:
            with unit_of_work(sessions) as session:
                done = renew_due(session, item, today)
        except Exception:  # noqa: BLE001 - logged; the next run tries again
            log.exception("auto-renew of VPS %s failed", item.hostname)
            continue
        if done:
            renewed += len(done)
            log.info(
                "VPS %s renewed automatically: %s -> %s (%d cycle%s)",
                item.hostname,
                item.expire_date,
                done[-1].expire_after,
                len(done),
                "" if len(done) == 1 else "s",
            )
    return renewed


def renewals(session: Session, vps_id: Any, limit: int = 100) -> list[Renewal]:
    """A VPS's renewals, newest first."""
    rows = session.scalars(
        select(VpsRenewal)
        .where(col(VpsRenewal.vps_id) == vps_id)
        .order_by(col(VpsRenewal.paid_on).desc(), col(VpsRenewal.created_at).desc())
        .limit(limit)
    )
    return [Renewal.model_validate(r) for r in rows]
