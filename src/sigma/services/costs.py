"""Exchange rates (contract 2.9) and cost reports with exact decimals.

Conversion to a target currency uses the stored rate FROM -> TARGET; when only TARGET -> FROM
is stored, its inverse; failing both, two steps through one pivot currency (CAD -> USD -> EUR
with CAD-USD and the inverse of EUR-USD). Arithmetic is Decimal throughout: each currency's
converted amount is rounded once, to 8 places (ROUND_HALF_EVEN, the scale of a direct
conversion: 2 money + 6 rate places), and the total is their exact sum; 2 decimals
(ROUND_HALF_EVEN, schemas.costs.display_amount) only for what people read. A currency without
a path is an error naming every such pair to add, never a partial total.

A report asked to `convert` without a `convert_to` converts to the `base_currency` setting.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
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
    Conversion,
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
    display_amount,
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

DEFAULT_BASE_CURRENCY = "USD"
# a division (an inverse rate) is carried to this many significant digits before the one
# rounding of each converted amount to CONVERTED_SCALE
_DIVISION_PRECISION = 60


def base_currency(session: Session) -> str:
    """The `base_currency` setting: it travels with the session (db.engine.session_factory)."""
    return str(session.info.get("base_currency") or DEFAULT_BASE_CURRENCY)


def rate_table(session: Session) -> dict[tuple[str, str], Decimal]:
    return {(r.from_currency, r.to_currency): r.rate for r in session.scalars(select(RateRow))}


Step = tuple[str, str, Decimal, bool]  # (stored from, stored to, rate, applied as inverse)


def find_path(source: str, target: str, rates: dict[tuple[str, str], Decimal]) -> list[Step] | None:
    """The rates that take `source` to `target`: the stored rate source -> target; else the
    inverse of target -> source; else two steps through one pivot currency, each step direct
    or inverse (CAD -> USD -> EUR with CAD-USD and the inverse of EUR-USD). Among pivots, the
    path with the fewest inverse steps (fewest divisions), then the pivot first in
    alphabetical order. [] when source is target, None when no such path exists."""
    if source == target:
        return []
    if (source, target) in rates:
        return [(source, target, rates[(source, target)], False)]
    if (target, source) in rates:
        return [(target, source, rates[(target, source)], True)]

    def step(a: str, b: str) -> Step | None:
        if (a, b) in rates:
            return (a, b, rates[(a, b)], False)
        if (b, a) in rates:
            return (b, a, rates[(b, a)], True)
        return None

    pivots = {c for pair in rates for c in pair} - {source, target}
    candidates: list[tuple[int, str, list[Step]]] = []
    for pivot in pivots:
        first, second = step(source, pivot), step(pivot, target)
        if first is not None and second is not None:
            candidates.append((int(first[3]) + int(second[3]), pivot, [first, second]))
    return min(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None


def apply_path(value: Decimal, path: list[Step]) -> Decimal:
    """`value` converted along `path`, exactly: the direct rates multiplied (exact in
    Decimal), the inverse ones divided once at 60 significant digits, the result rounded
    once to 8 places, ROUND_HALF_EVEN. An empty path returns `value` unchanged."""
    if not path:
        return value
    numerator, denominator = value, Decimal(1)
    for _, _, rate, inverse in path:
        if inverse:
            denominator *= rate
        else:
            numerator *= rate
    with localcontext() as ctx:
        ctx.prec = _DIVISION_PRECISION
        exact = numerator / denominator if denominator != 1 else numerator
        return exact.quantize(CONVERTED_SCALE, rounding=ROUND_HALF_EVEN)


def _via(path: list[Step]) -> str | None:
    """The pivot currency of a two-step path (the far end of its first step)."""
    if len(path) != 2:
        return None
    src, dst, _, inverse = path[0]
    return src if inverse else dst


def missing_error(missing: list[str], target: str) -> InvalidInput:
    """The error of a conversion without a path: it names each currency that cannot be
    converted and the pair that would fix it."""
    pairs = ", ".join(f"{c} -> {target}" for c in missing)
    fixes = " and ".join(f"`sigma cost rate set {c} {target} RATE`" for c in missing)
    names = ", ".join(missing)
    return InvalidInput(
        f"No exchange rate found for {pairs} (nor a path through one other currency): "
        f"{names} cannot be converted to {target}; add {'one' if len(missing) == 1 else 'them'} "
        f"with {fixes}",
        field="convert_to",
        details={
            "missing": [{"from_currency": c, "to_currency": target} for c in missing],
        },
    )


class Converter:
    """Conversion of one report to `target`: each currency's path found once, and every
    currency without a path named in one error."""

    def __init__(self, target: str, rates: dict[tuple[str, str], Decimal]):
        self.target = target
        self.rates = rates
        self.paths: dict[str, list[Step]] = {}

    def check(self, currencies: Any) -> None:
        missing: list[str] = []
        for currency in sorted(set(currencies) - set(self.paths)):
            path = find_path(currency, self.target, self.rates)
            if path is None:
                missing.append(currency)
            else:
                self.paths[currency] = path
        if missing:
            raise missing_error(missing, self.target)

    def __call__(self, totals: dict[str, Decimal]) -> ConvertedTotal:
        self.check(totals)
        amount = Decimal(0)
        used: dict[tuple[str, str], RateUsed] = {}
        conversions: list[Conversion] = []
        for currency in sorted(totals):
            value, path = totals[currency], self.paths[currency]
            converted = apply_path(value, path)
            amount += converted
            for src, dst, rate, inverse in path:
                used.setdefault(
                    (src, dst),
                    RateUsed(from_currency=src, to_currency=dst, rate=rate, inverse=inverse),
                )
            if path:
                conversions.append(
                    Conversion(
                        from_currency=currency, amount=value, converted=converted, via=_via(path)
                    )
                )
        if used:
            amount = amount.quantize(CONVERTED_SCALE)
        return ConvertedTotal(
            currency=self.target,
            amount=amount,
            rates=list(used.values()),
            rounded_amount=display_amount(amount),
            conversions=conversions,
        )


def convert(
    totals: dict[str, Decimal], target: str, rates: dict[tuple[str, str], Decimal]
) -> ConvertedTotal:
    """`totals` (currency -> amount) as one amount in `target`; each currency goes along
    find_path, an error names every currency without a path."""
    return Converter(target, rates)(totals)


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
        .where(col(VpsRow.cost_monthly).is_not(None), col(VpsRow.deleted_at).is_(None))
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
    by: str | None, grouped: dict[str, dict[str, list]], converter: Converter | None
) -> list[CostGroup] | None:
    if by is None:
        return None
    return [
        CostGroup(
            key=key,
            per_currency=_per_currency(acc),
            converted_total=converter(_totals(acc)) if converter else None,
        )
        for key, acc in sorted(grouped.items())
    ]


def _converter(session: Session, q: CostQuery, currencies: Any) -> Converter | None:
    """The report's converter: to convert_to, or to the base currency when asked to
    `convert`; every currency of the report checked at once (one error names them all)."""
    target = q.convert_to or (base_currency(session) if q.convert else None)
    if target is None:
        return None
    converter = Converter(target, rate_table(session))
    converter.check(currencies)
    return converter


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
    converter = _converter(session, q, total)
    return CostSummary(
        per_currency=_per_currency(total),
        converted_total=converter(_totals(total)) if converter else None,
        by=q.by,
        groups=_groups(q.by, grouped, converter),
        base_currency=base_currency(session),
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
    scan = _monthly_scan(session, q, today)
    return _monthly_out(session, q, scan, _converter(session, q, scan.currencies()))


class _MonthlyScan:
    """What the monthly report read: per month, per currency [VPS, amount] (and per group),
    and the renewals paid."""

    def __init__(self, months: list[tuple[date, date]]):
        self.months = months
        self.per_month: list[dict[str, list]] = [
            defaultdict(lambda: [0, Decimal(0)]) for _ in months
        ]
        self.per_group: list[dict[str, dict[str, list]]] = [
            defaultdict(lambda: defaultdict(lambda: [0, Decimal(0)])) for _ in months
        ]
        self.paid: list[dict[str, list]] = []
        # every VPS read, whatever its dates: the running summary (services.costs.overview)
        self.total: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
        self.grouped: dict[str, dict[str, list]] = defaultdict(
            lambda: defaultdict(lambda: [0, Decimal(0)])
        )

    def currencies(self) -> set[str]:
        return {c for acc in self.per_month for c in acc} | {c for acc in self.paid for c in acc}


def _month_key(column: Any) -> Any:
    """'YYYY-MM' of a date column, on both databases (a date's text starts with it)."""
    from sqlalchemy import String, cast

    return func.substr(cast(column, String), 1, 7)


def _monthly_scan(session: Session, q: CostQuery, today: date | None) -> _MonthlyScan:
    """The database sums the costs per currency, month bought and month expiring (a few
    thousand buckets for a fleet of 100,000); each bucket is then added to the months it
    is live in. A VPS is live in a month when bought before the month ends and not expired
    before it starts, which only depends on those two months."""
    gcol = _group_column(q.by)
    bought, expires = _month_key(VpsRow.purchase_date), _month_key(VpsRow.expire_date)
    keys = [col(VpsRow.currency), bought, expires, *([gcol] if gcol is not None else [])]
    stmt = _base(q, *keys, func.count(), func.sum(VpsRow.cost_monthly))
    if not q.include_retired:
        stmt = stmt.where(col(VpsRow.status) != "retired")
    stmt = stmt.group_by(*keys)
    scan = _MonthlyScan([(s, _month_end(s)) for s in month_starts(today or date.today(), q.months)])
    labels = [start.strftime("%Y-%m") for start, _ in scan.months]
    for row in session.execute(stmt):
        currency, bought_in, expires_in = row[0], row[1], row[2]
        key = (row[3] or NONE_LABEL[q.by]) if gcol is not None and q.by is not None else None
        count, amount = row[-2], Decimal(row[-1])
        scan.total[currency][0] += count
        scan.total[currency][1] += amount
        if key is not None:
            scan.grouped[key][currency][0] += count
            scan.grouped[key][currency][1] += amount
        for i, month in enumerate(labels):
            if (bought_in is None or bought_in <= month) and (
                expires_in is None or expires_in >= month
            ):
                acc = scan.per_month[i][currency]
                acc[0] += count
                acc[1] += amount
                if key is not None:
                    g = scan.per_group[i][key][currency]
                    g[0] += count
                    g[1] += amount
    scan.paid = _renewals_per_month(session, q, scan.months)
    return scan


def _monthly_out(
    session: Session, q: CostQuery, scan: _MonthlyScan, converter: Converter | None
) -> MonthlyCosts:
    per_month, paid = scan.per_month, scan.paid
    out = [
        CostMonth(
            month=start,
            per_currency=_per_currency(per_month[i]),
            converted_total=converter(_totals(per_month[i])) if converter else None,
            groups=_groups(q.by, scan.per_group[i], converter),
            renewals=_per_currency(paid[i]),
            renewals_converted_total=converter(_totals(paid[i])) if converter and paid[i] else None,
        )
        for i, (start, _end) in enumerate(scan.months)
        if per_month[i] or paid[i]
    ]
    return MonthlyCosts(months=out, by=q.by, base_currency=base_currency(session))


@dataclass
class Overview:
    """The costs page: the running summary, the monthly report, the currencies a report can
    be asked in, and why the totals could not be converted (None: they were)."""

    summary: CostSummary
    monthly: MonthlyCosts
    currencies: list[str]
    error: InvalidInput | None


def overview(
    session: Session, actor: Actor, q: CostQuery | dict | None = None, today: date | None = None
) -> Overview:
    """summary() and monthly() of one query from one read of the fleet (the summary is the
    sum of the monthly report's buckets: the same VPS, whatever their dates), converted when
    every currency has a path, else unconverted with the error naming the missing rates."""
    actor.require(READERS)
    q = _query(q)
    scan = _monthly_scan(session, q, today)
    error: InvalidInput | None = None
    try:
        converter = _converter(session, q, scan.currencies() | set(scan.total))
    except InvalidInput as exc:
        converter, error = None, exc
    base = base_currency(session)
    summary = CostSummary(
        per_currency=_per_currency(scan.total),
        converted_total=converter(_totals(scan.total)) if converter else None,
        by=q.by,
        groups=_groups(q.by, scan.grouped, converter),
        base_currency=base,
    )
    found = set(scan.total) | scan.currencies() | {q.convert_to or base}
    for src, dst in session.execute(select(col(RateRow.from_currency), col(RateRow.to_currency))):
        found |= {src, dst}
    return Overview(summary, _monthly_out(session, q, scan, converter), sorted(found), error)


def _renewals_per_month(
    session: Session, q: CostQuery, months: list[tuple[date, date]]
) -> list[dict[str, list]]:
    """The renewals paid in each month (services.billing), per currency: [VPS renewed,
    amount]. Payments made are history: counted whatever the VPS's status or monthly cost
    is now (a VPS in the trash aside); the report's provider and country filters apply."""
    from sigma.db.models.lifecycle import VpsRenewal

    per_month: list[dict[str, list]] = [defaultdict(lambda: [0, Decimal(0)]) for _ in months]
    if not months:
        return per_month
    first, last = months[-1][0], months[0][1]
    stmt = (
        select(
            col(VpsRenewal.paid_on),
            col(VpsRenewal.currency),
            col(VpsRenewal.amount),
            col(VpsRenewal.vps_id),
        )
        .join(VpsRow, col(VpsRow.id) == VpsRenewal.vps_id)
        .where(
            col(VpsRenewal.amount).is_not(None),
            col(VpsRenewal.paid_on) >= first,
            col(VpsRenewal.paid_on) <= last,
            col(VpsRow.deleted_at).is_(None),
        )
    )
    if q.provider_id:
        stmt = stmt.where(col(VpsRow.provider_id) == q.provider_id)
    if q.country:
        stmt = stmt.where(col(VpsRow.country) == q.country)
    renewed: list[dict[str, set]] = [defaultdict(set) for _ in months]
    for paid_on, currency, amount, vps_id in session.execute(stmt):
        for i, (start, end) in enumerate(months):
            if start <= paid_on <= end:
                per_month[i][currency][1] += amount
                renewed[i][currency].add(vps_id)
                per_month[i][currency][0] = len(renewed[i][currency])
                break
    return per_month


def currencies(session: Session, actor: Actor) -> list[str]:
    """The currencies a report can be asked in: those of the fleet's costs, those of the
    exchange rates, and the base currency, sorted."""
    actor.require(READERS)
    found = set(
        session.scalars(
            select(col(VpsRow.currency))
            .where(col(VpsRow.cost_monthly).is_not(None), col(VpsRow.deleted_at).is_(None))
            .distinct()
        )
    )
    for src, dst in session.execute(select(col(RateRow.from_currency), col(RateRow.to_currency))):
        found |= {src, dst}
    found.add(base_currency(session))
    return sorted(found)
