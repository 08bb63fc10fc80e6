"""Exchange rates (contract 2.9) and cost reports with exact decimals.

Conversion to a target currency uses the stored rate FROM -> TARGET; when only TARGET -> FROM
is stored, its inverse (quantized to 8 places, the scale of a direct conversion). A missing
rate is an error naming the pair to add.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Mapped, Session
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.costs import ExchangeRate as RateRow
from sigma.db.types import utcnow
from sigma.errors import InvalidInput, NotFound
from sigma.schemas.common import Page, validate
from sigma.schemas.costs import (
    ConvertedTotal,
    CostGroup,
    CostMonth,
    CostQuery,
    CostSummary,
    CurrencyTotal,
    ExchangeRate,
    ExchangeRateCreate,
    ExchangeRateUpdate,
    MonthlyCosts,
    RateUsed,
)
from sigma.services import audit
from sigma.services.actor import READERS, WRITERS, Actor

CONVERTED_SCALE = Decimal("0.00000001")  # 2 (money) + 6 (rate) places
NONE_LABEL = {"provider": "(unassigned)", "country": "(none)", "purpose": "(none)"}

# ---------------------------------------------------------------- exchange rates

_PAIR = re.compile(r"^\s*([A-Za-z]{3})\s*[-/:> ]+\s*([A-Za-z]{3})\s*$")


def find_rate(session: Session, ref: Any) -> RateRow:
    """A rate by id, or by its pair written 'EUR-USD', 'EUR/USD' or 'EUR USD'."""
    text = str(ref or "").strip()
    try:
        row = session.get(RateRow, ref if isinstance(ref, uuid.UUID) else uuid.UUID(text))
    except ValueError:
        m = _PAIR.match(text)
        if not m:
            raise InvalidInput(
                f"exchange_rate: '{text}' is neither a rate id nor a currency pair such as EUR-USD",
                field="exchange_rate",
            ) from None
        src, dst = m.group(1).upper(), m.group(2).upper()
        row = session.scalar(
            select(RateRow).where(
                col(RateRow.from_currency) == src, col(RateRow.to_currency) == dst
            )
        )
        if row is None:
            raise NotFound(f"no exchange rate {src} -> {dst}", field="exchange_rate") from None
    if row is None:
        raise NotFound(f"exchange rate {text} not found", field="exchange_rate")
    return row


def list_rates(
    session: Session,
    actor: Actor,
    from_currency: str | None = None,
    to_currency: str | None = None,
    page: int = 1,
    per_page: int = 25,
) -> Page[ExchangeRate]:
    actor.require(READERS)
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    q = select(RateRow)
    if from_currency:
        q = q.where(col(RateRow.from_currency) == from_currency.strip().upper())
    if to_currency:
        q = q.where(col(RateRow.to_currency) == to_currency.strip().upper())
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(RateRow.from_currency, RateRow.to_currency)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return Page[ExchangeRate](
        data=[ExchangeRate.model_validate(r) for r in rows],
        total=total,
        page=page,
        per_page=per_page,
    )


def get_rate(session: Session, actor: Actor, ref: Any) -> ExchangeRate:
    actor.require(READERS)
    return ExchangeRate.model_validate(find_rate(session, ref))


def set_rate(session: Session, actor: Actor, data: ExchangeRateCreate | dict) -> ExchangeRate:
    """Upsert on the (from, to) pair: an existing pair keeps its id."""
    actor.require(WRITERS)
    data = validate(ExchangeRateCreate, data) if isinstance(data, dict) else data
    row = session.scalar(
        select(RateRow).where(
            col(RateRow.from_currency) == data.from_currency,
            col(RateRow.to_currency) == data.to_currency,
        )
    )
    pair = f"{data.from_currency}-{data.to_currency}"
    if row is None:
        row = RateRow(
            from_currency=data.from_currency, to_currency=data.to_currency, rate=data.rate
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "create",
            "exchange_rate",
            row.id,
            {"pair": pair, "rate": f"{data.rate:.6f}"},
        )
    elif row.rate != data.rate:
        old = row.rate
        row.rate = data.rate
        row.updated_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor,
            "update",
            "exchange_rate",
            row.id,
            {"pair": pair, "changes": {"rate": {"from": f"{old:.6f}", "to": f"{data.rate:.6f}"}}},
        )
    return ExchangeRate.model_validate(row)


def update_rate(
    session: Session, actor: Actor, ref: Any, data: ExchangeRateUpdate | dict
) -> ExchangeRate:
    actor.require(WRITERS)
    data = validate(ExchangeRateUpdate, data) if isinstance(data, dict) else data
    row = find_rate(session, ref)
    return set_rate(
        session,
        actor,
        ExchangeRateCreate(
            from_currency=row.from_currency, to_currency=row.to_currency, rate=data.rate
        ),
    )


def delete_rate(session: Session, actor: Actor, ref: Any) -> ExchangeRate:
    actor.require(WRITERS)
    row = find_rate(session, ref)
    gone = ExchangeRate.model_validate(row)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor,
        "delete",
        "exchange_rate",
        gone.id,
        {"pair": f"{gone.from_currency}-{gone.to_currency}"},
    )
    return gone


# ---------------------------------------------------------------- conversion


def rate_table(session: Session) -> dict[tuple[str, str], Decimal]:
    return {(r.from_currency, r.to_currency): r.rate for r in session.scalars(select(RateRow))}


def convert(
    totals: dict[str, Decimal], target: str, rates: dict[tuple[str, str], Decimal]
) -> ConvertedTotal:
    amount = Decimal(0)
    used: list[RateUsed] = []
    for currency in sorted(totals):
        value = totals[currency]
        if currency == target:
            amount += value
        elif (currency, target) in rates:
            rate = rates[(currency, target)]
            amount += value * rate
            used.append(
                RateUsed(from_currency=currency, to_currency=target, rate=rate, inverse=False)
            )
        elif (target, currency) in rates:
            rate = rates[(target, currency)]
            amount += (value / rate).quantize(CONVERTED_SCALE, rounding=ROUND_HALF_EVEN)
            used.append(
                RateUsed(from_currency=target, to_currency=currency, rate=rate, inverse=True)
            )
        else:
            raise InvalidInput(
                f"No exchange rate found for {currency} -> {target}: add one with "
                f"`sigma cost rate set {currency} {target} RATE`",
                field="convert_to",
            )
    if used:
        amount = amount.quantize(CONVERTED_SCALE)
    return ConvertedTotal(currency=target, amount=amount, rates=used)


# ---------------------------------------------------------------- reports


def _query(q: CostQuery | dict | None) -> CostQuery:
    if isinstance(q, CostQuery):
        return q
    return validate(CostQuery, {k: v for k, v in (q or {}).items() if v is not None})


def _group_column(by: str | None) -> Mapped[Any] | None:
    columns: dict[str, Mapped[Any]] = {
        "provider": col(ProviderRow.name),
        "country": col(VpsRow.country),
        "purpose": col(VpsRow.purpose),
    }
    return columns.get(by or "")


def _base(q: CostQuery, *columns: Any) -> Select:
    stmt = (
        select(*columns)
        .select_from(VpsRow)
        .outerjoin(ProviderRow, col(ProviderRow.id) == VpsRow.provider_id)
        .where(col(VpsRow.cost_monthly).is_not(None))
    )
    if q.provider_id:
        stmt = stmt.where(col(VpsRow.provider_id) == q.provider_id)
    if q.country:
        stmt = stmt.where(col(VpsRow.country) == q.country)
    return stmt


def _per_currency(acc: dict[str, list]) -> list[CurrencyTotal]:
    return [
        CurrencyTotal(currency=c, vps_count=acc[c][0], total_cost=acc[c][1]) for c in sorted(acc)
    ]


def _totals(acc: dict[str, list]) -> dict[str, Decimal]:
    return {c: v[1] for c, v in acc.items()}


def _groups(
    by: str | None,
    grouped: dict[str, dict[str, list]],
    target: str | None,
    rates: dict[tuple[str, str], Decimal],
) -> list[CostGroup] | None:
    if by is None:
        return None
    return [
        CostGroup(
            key=key,
            per_currency=_per_currency(acc),
            converted_total=convert(_totals(acc), target, rates) if target else None,
        )
        for key, acc in sorted(grouped.items())
    ]


def summary(session: Session, actor: Actor, q: CostQuery | dict | None = None) -> CostSummary:
    """Monthly running cost by currency; retired VPS are left out unless `status` asks."""
    actor.require(READERS)
    q = _query(q)
    gcol = _group_column(q.by)
    cols = [col(VpsRow.currency), func.count(col(VpsRow.id)), func.sum(VpsRow.cost_monthly)]
    stmt = _base(q, *(cols + ([gcol] if gcol is not None else [])))
    if q.status:
        stmt = stmt.where(col(VpsRow.status) == q.status)
    elif not q.include_retired:
        stmt = stmt.where(col(VpsRow.status) != "retired")
    stmt = stmt.group_by(VpsRow.currency, *([gcol] if gcol is not None else []))
    total: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    grouped: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [0, Decimal(0)]))
    for row in session.execute(stmt):
        currency, count, amount = row[0], row[1], Decimal(row[2])
        total[currency][0] += count
        total[currency][1] += amount
        if gcol is not None and q.by is not None:  # a grouping column implies q.by
            key = row[3] or NONE_LABEL[q.by]
            grouped[key][currency][0] += count
            grouped[key][currency][1] += amount
    rates = rate_table(session) if q.convert_to else {}
    return CostSummary(
        per_currency=_per_currency(total),
        converted_total=convert(_totals(total), q.convert_to, rates) if q.convert_to else None,
        by=q.by,
        groups=_groups(q.by, grouped, q.convert_to, rates),
    )


def month_starts(today: date, months: int) -> list[date]:
    """First days of this month and the months before it, newest first."""
    out, y, m = [], today.year, today.month
    for _ in range(months):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def _month_end(start: date) -> date:
    nxt = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def monthly(
    session: Session, actor: Actor, q: CostQuery | dict | None = None, today: date | None = None
) -> MonthlyCosts:
    """For each of the last N months, what the VPS live in that month cost (a VPS counts in a
    month when bought before its end and not expired before its start). Months without any
    cost are left out, newest month first."""
    actor.require(READERS)
    q = _query(q)
    gcol = _group_column(q.by)
    cols = [VpsRow.currency, VpsRow.cost_monthly, VpsRow.purchase_date, VpsRow.expire_date]
    stmt = _base(q, *(cols + ([gcol] if gcol is not None else [])))
    if not q.include_retired:
        stmt = stmt.where(col(VpsRow.status) != "retired")
    months = [(s, _month_end(s)) for s in month_starts(today or date.today(), q.months)]
    per_month: list[dict[str, list]] = [defaultdict(lambda: [0, Decimal(0)]) for _ in months]
    per_group: list[dict[str, dict[str, list]]] = [
        defaultdict(lambda: defaultdict(lambda: [0, Decimal(0)])) for _ in months
    ]
    for row in session.execute(stmt):
        currency, cost, bought, expires = row[0], row[1], row[2], row[3]
        key = (row[4] or NONE_LABEL[q.by]) if gcol is not None and q.by is not None else None
        for i, (start, end) in enumerate(months):
            if (bought is None or bought <= end) and (expires is None or expires >= start):
                acc = per_month[i][currency]
                acc[0] += 1
                acc[1] += cost
                if key is not None:
                    g = per_group[i][key][currency]
                    g[0] += 1
                    g[1] += cost
    rates = rate_table(session) if q.convert_to else {}
    out = [
        CostMonth(
            month=start,
            per_currency=_per_currency(per_month[i]),
            converted_total=convert(_totals(per_month[i]), q.convert_to, rates)
            if q.convert_to
            else None,
            groups=_groups(q.by, per_group[i], q.convert_to, rates),
        )
        for i, (start, _end) in enumerate(months)
        if per_month[i]
    ]
    return MonthlyCosts(months=out, by=q.by)
