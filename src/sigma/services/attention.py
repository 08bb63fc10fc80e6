"""What needs an operator now (issue 18): one list of items, the same on every face (`sigma
status`, GET /api/attention, the web dashboard, /metrics) and the source of the notices.

Each kind is one function `(session, ctx) -> list[Item]` in KINDS, computed from the database
in one query (or a very few), with each rule asked of the service that owns it:

- `overdue`, `expiring`: the VPS listing's filters (`services.vps.filtered`: `expiry=overdue`,
  `expiring_within_days`), the window being the widest of the setting notify_before_days
  (carried by the session); critical when overdue or due within a day, else a warning;
- `blocked`, `port-blocked`, `tls-blocked`, `down`, `degraded`: the reachability verdicts of
  the active VPS (`services.ip_checks.selection`, as the reachability page counts them);
- `agent-offline`: the active VPS whose agent is offline (the listing's `agent=offline`, i.e.
  `services.vps.agent_condition` with the session's offline_after);
- `probe-unhealthy`: the probes whose reference targets say so (`services.probes.status_of`);
- `reach-alert`: the latency and loss alerts firing (`services.reach_alerts.list_alerts`);
- `ticket`: open tickets of priority critical or high, or open and unassigned for a day;
- `duplicate`: the pairs of VPS in service that look like one machine (`services.merge.pairs`);
- `quota`: active VPS whose traffic reached a threshold of their quota (the listing's
  `over_quota`, the level by `services.traffic.level`);
- `missing-data`: active VPS without an expiry date, a cost or an IP address.

An item's key names what it is about (`overdue:vps:<id>`, `blocked:ip:<vps id>/<ip>`); its
fingerprint is a digest of the facts that made it. An acknowledgement or a snooze (table
attention_acks, written by operators and admins, audited) holds while the fingerprint is the
one acknowledged and, for a snooze, until its end: the item comes back when its facts change.
Stale rows are pruned when an item of their kind is acknowledged, and by the hourly job.

The dashboard's counts strip (`attention()`, schemas.stats.Attention) counts with the very
filters of the listings it links to; the kinds above use the same filters (VPS_QUERIES).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.monitoring import Probe as ProbeRow
from sigma.db.models.monitoring import ReachAlert as ReachAlertRow
from sigma.db.models.tickets import Ticket as TicketRow
from sigma.db.types import utcnow
from sigma.errors import InvalidInput, NotFound
from sigma.schemas.attention import (
    KEY_LIMIT,
    NOTE_LIMIT,
    SEVERITIES,
    AttentionAck,
    AttentionCount,
    AttentionPage,
    Item,
    parse_until,
)
from sigma.schemas.common import clamp_page, validate
from sigma.schemas.inventory import VpsFilter
from sigma.schemas.stats import Attention, AttentionItem
from sigma.services import audit, ip_checks
from sigma.services.actor import READERS, WRITERS, Actor
from sigma.services.vps import filtered
from sigma.text import check_text
from sigma.vocab import BYTES_PER_GB, DUE_SOON_DAYS, TRAFFIC_THRESHOLDS

# who reads the items when no user asks (notices, /metrics, the prune job): a reader
SYSTEM_READER = Actor(email="system:attention", role="readonly")

# the VPS listing's filters each VPS kind (and the strip's counts) select with
VPS_QUERIES: dict[str, dict[str, str]] = {
    "overdue": {"expiry": "overdue"},
    "due-soon": {"expiry": "soon"},
    "agent-offline": {"status": "active", "agent": "offline"},
    "quota": {"status": "active", "over_quota": str(TRAFFIC_THRESHOLDS[0])},
}
# the verdicts that are items, and their severity
VERDICT_SEVERITY = {
    "blocked": "critical",
    "port-blocked": "critical",
    "tls-blocked": "critical",
    "down": "critical",
    "degraded": "warning",
}
TICKET_PRIORITY_SEVERITY = {"critical": "critical", "high": "warning"}
UNASSIGNED_AFTER = timedelta(days=1)  # an open ticket nobody took for this long is an item
DEFAULT_NOTIFY_DAYS = (7, 3, 1)
CRITICAL_WITHIN_DAYS = 1  # an expiry this close is critical
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


# ---------------------------------------------------------------- the registry


@dataclass
class Ctx:
    """What every kind computes against: one clock, the settings the session carries, and a
    memo for queries several kinds share (the reachability verdicts)."""

    session: Session
    now: datetime
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.date()

    def once(self, name: str, fn: Callable[[], Any]) -> Any:
        if name not in self.memo:
            self.memo[name] = fn()
        return self.memo[name]


KindFn = Callable[[Session, Ctx], list[Item]]
KINDS: dict[str, KindFn] = {}


def kind(name: str) -> Callable[[KindFn], KindFn]:
    """Register a kind: one function computing its items."""

    def register(fn: KindFn) -> KindFn:
        KINDS[name] = fn
        return fn

    return register


def _fingerprint(*facts: Any) -> str:
    text = "\x1f".join("" if f is None else str(f) for f in facts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _item(
    kind_: str,
    severity: str,
    subject: tuple[str, Any, str],
    summary: str,
    since: datetime | None,
    link: str,
    facts: Iterable[Any],
    vps_id: Any = None,
    key: str | None = None,
) -> Item:
    """An item (validated from a dict: faster than model_construct in pydantic 2)."""
    stype, sid, name = subject
    return Item.model_validate(
        {
            "key": key or f"{kind_}:{stype}:{sid}",
            "kind": kind_,
            "severity": severity,
            "subject": {"type": stype, "id": str(sid), "name": name},
            "vps_id": None if vps_id is None else str(vps_id),
            "summary": summary,
            "since": since,
            "link": link,
            "fingerprint": _fingerprint(kind_, severity, *facts),
        }
    )


def _aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=UTC)


def _day(d: date) -> datetime:
    return datetime.combine(d, time.min, UTC)


def _vps_select(session: Session, query: dict[str, Any], *columns: Any) -> Any:
    """The VPS listing's filter `query` (services.vps.filtered), reading only `columns`."""
    q = filtered(session, validate(VpsFilter, query))
    return q.with_only_columns(*columns, maintain_column_froms=True)


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


# ---------------------------------------------------------------- the kinds


@kind("overdue")
def _overdue(session: Session, ctx: Ctx) -> list[Item]:
    q = _vps_select(
        session,
        VPS_QUERIES["overdue"],
        col(VpsRow.id),
        col(VpsRow.hostname),
        col(VpsRow.expire_date),
        col(VpsRow.status),
    )
    return [
        _item(
            "overdue",
            "critical",
            ("vps", r.id, r.hostname),
            f"{r.hostname}: expired on {r.expire_date} ({_days((ctx.today - r.expire_date).days)}"
            f" ago), still {r.status}",
            _day(r.expire_date),
            f"/vps/{r.id}",
            [r.expire_date],
            r.id,
        )
        for r in session.execute(q)
    ]


def notify_days(session: Session) -> list[int]:
    """The setting notify_before_days as the session carries it (Settings.session_info)."""
    days = session.info.get("notify_before_days") or DEFAULT_NOTIFY_DAYS
    return sorted({int(d) for d in days if int(d) >= 0}) or list(DEFAULT_NOTIFY_DAYS)


@kind("expiring")
def _expiring(session: Session, ctx: Ctx) -> list[Item]:
    window = max(notify_days(session))
    q = _vps_select(
        session,
        {"expiring_within_days": window},
        col(VpsRow.id),
        col(VpsRow.hostname),
        col(VpsRow.expire_date),
        col(VpsRow.auto_renew),
    ).where(col(VpsRow.expire_date) >= ctx.today)  # the overdue ones are `overdue`
    out = []
    for r in session.execute(q):
        left = (r.expire_date - ctx.today).days
        when = "today" if left == 0 else f"in {_days(left)}"
        renew = " (renews automatically)" if r.auto_renew else ""
        out.append(
            _item(
                "expiring",
                "critical" if left <= CRITICAL_WITHIN_DAYS else "warning",
                ("vps", r.id, r.hostname),
                f"{r.hostname}: expires {when}, on {r.expire_date}{renew}",
                _day(r.expire_date),
                f"/vps/{r.id}",
                [r.expire_date],
                r.id,
            )
        )
    return out


def _verdict_rows(session: Session) -> list[Any]:
    """The (VPS, IP) pairs of the active VPS whose verdict is an item: the VPS as a set of ids
    (as ip_checks.verdict_counts selects them), the pairs read from the verdict index (never
    the per-source state), then the hostnames of the few VPS concerned."""
    from sigma.db.models.monitoring import Reachability as ReachRow

    selected = select(col(VpsRow.id)).where(*ip_checks.selection(session, None, False))
    rows = session.execute(
        select(
            col(ReachRow.vps_id),
            col(ReachRow.ip),
            col(ReachRow.label),
            col(ReachRow.verdict),
            col(ReachRow.since),
        ).where(
            col(ReachRow.vps_id).in_(selected),
            col(ReachRow.verdict).in_(list(VERDICT_SEVERITY)),
        )
    ).all()
    ids = list({r.vps_id for r in rows})
    names: dict[Any, str] = {}
    for i in range(0, len(ids), 1000):
        q = select(col(VpsRow.id), col(VpsRow.hostname)).where(
            col(VpsRow.id).in_(ids[i : i + 1000])
        )
        names.update((vid, host) for vid, host in session.execute(q))
    return [(r, names.get(r.vps_id, "")) for r in rows]


def _verdict_kind(verdict: str) -> KindFn:
    def items(session: Session, ctx: Ctx) -> list[Item]:
        rows = ctx.once("verdicts", lambda: _verdict_rows(session))
        out = []
        for r, hostname in rows:
            if r.verdict != verdict:
                continue
            since = _aware(r.since)
            label = f" ({r.label})" if r.label else ""
            out.append(
                _item(
                    verdict,
                    VERDICT_SEVERITY[verdict],
                    ("ip", f"{r.vps_id}/{r.ip}", f"{hostname} {r.ip}"),
                    f"{hostname} {r.ip}{label}: {verdict} since "
                    f"{since.isoformat(timespec='minutes') if since else '?'}",
                    since,
                    f"/vps/{r.vps_id}",
                    [verdict, since.isoformat() if since else ""],
                    r.vps_id,
                )
            )
        return out

    return items


for _verdict in VERDICT_SEVERITY:
    KINDS[_verdict] = _verdict_kind(_verdict)


@kind("agent-offline")
def _agent_offline(session: Session, ctx: Ctx) -> list[Item]:
    from sigma.services.vps import heartbeat_text
    from sigma.vocab import parse_timestamp

    q = _vps_select(
        session,
        VPS_QUERIES["agent-offline"],
        col(VpsRow.id),
        col(VpsRow.hostname),
        heartbeat_text().label("beat"),
    )
    out = []
    for r in session.execute(q):
        try:
            beat = parse_timestamp(r.beat)
        except ValueError:
            beat = None
        seen = beat.isoformat(timespec="minutes") if beat else "?"
        out.append(
            _item(
                "agent-offline",
                "warning",
                ("vps", r.id, r.hostname),
                f"{r.hostname}: agent silent since {seen}",
                beat,
                f"/vps/{r.id}",
                [r.beat],
                r.id,
            )
        )
    return out


@kind("probe-unhealthy")
def _probe_unhealthy(session: Session, ctx: Ctx) -> list[Item]:
    from sigma.services.probes import status_of

    rows = session.scalars(select(ProbeRow).where(col(ProbeRow.health) == "unhealthy"))
    out = []
    for row in rows:
        p = status_of(row, ctx.now)
        since = _aware(p.health_since)
        reason = f": {p.health_reason}" if p.health_reason else ""
        out.append(
            _item(
                "probe-unhealthy",
                "warning",
                ("probe", p.source, p.source),
                f"probe {p.source} is unhealthy{reason}",
                since,
                "/reachability#probes",
                [since.isoformat() if since else ""],
            )
        )
    return out


@kind("reach-alert")
def _reach_alert(session: Session, ctx: Ctx) -> list[Item]:
    from sigma.services.reach_alerts import list_alerts

    out = []
    for a in list_alerts(session, SYSTEM_READER):
        unit = " ms" if a.metric == "latency" else " %"
        since = _aware(a.since)
        out.append(
            _item(
                "reach-alert",
                "warning",
                ("ip", f"{a.vps_id}/{a.ip}", f"{a.hostname} {a.ip}"),
                f"{a.hostname} {a.ip}: {a.metric} from {a.carrier or 'a probe'} "
                f"{a.value:g}{unit} (threshold {a.threshold:g}{unit})",
                since,
                f"/vps/{a.vps_id}",
                [since.isoformat() if since else ""],
                a.vps_id,
                key=f"reach-alert:ip:{a.vps_id}/{a.ip}/{a.carrier}/{a.metric}",
            )
        )
    return out


@kind("ticket")
def _ticket(session: Session, ctx: Ctx) -> list[Item]:
    open_ = col(TicketRow.status) == "open"
    stale = ctx.now - UNASSIGNED_AFTER
    q = (
        select(
            col(TicketRow.id),
            col(TicketRow.title),
            col(TicketRow.priority),
            col(TicketRow.assigned_to),
            col(TicketRow.created_at),
            col(TicketRow.vps_id),
        )
        .where(open_)
        .where(
            or_(
                col(TicketRow.priority).in_(list(TICKET_PRIORITY_SEVERITY)),
                col(TicketRow.assigned_to).is_(None) & (col(TicketRow.created_at) <= stale),
            )
        )
    )
    out = []
    for r in session.execute(q):
        severity = TICKET_PRIORITY_SEVERITY.get(r.priority, "info")
        who = "unassigned" if r.assigned_to is None else "assigned"
        out.append(
            _item(
                "ticket",
                severity,
                ("ticket", r.id, r.title),
                f"ticket {str(r.id)[:8]} ({r.priority}, {who}): {r.title}",
                _aware(r.created_at),
                f"/tickets/{r.id}",
                [r.priority, r.assigned_to],
                r.vps_id,
            )
        )
    return out


@kind("duplicate")
def _duplicate(session: Session, ctx: Ctx) -> list[Item]:
    from sigma.services.merge import pairs

    out = []
    for a, b, reasons in pairs(session):
        why = ", ".join(f"{r.reason} {r.value}" for r in reasons)
        out.append(
            _item(
                "duplicate",
                "warning",
                ("vps", f"{a[0]}/{b[0]}", f"{a[1]} & {b[1]}"),
                f"{a[1]} and {b[1]} look like one machine (same {why})",
                _aware(max(a[3], b[3])),
                f"/vps/{a[0]}",
                [why],
                a[0],
            )
        )
    return out


@kind("quota")
def _quota(session: Session, ctx: Ctx) -> list[Item]:
    from sigma.db.models.lifecycle import VpsTraffic
    from sigma.services import traffic

    # the VPS over the first threshold by the listing's rule, then their periods' figures
    vps = {
        r.id: r
        for r in session.execute(
            _vps_select(
                session,
                VPS_QUERIES["quota"],
                col(VpsRow.id),
                col(VpsRow.hostname),
                col(VpsRow.traffic_quota_gb),
                col(VpsRow.traffic_direction),
                col(VpsRow.traffic_reset_day),
            )
        )
    }
    if not vps:
        return []
    q = select(
        col(VpsTraffic.vps_id),
        col(VpsTraffic.period_start),
        col(VpsTraffic.bytes_in),
        col(VpsTraffic.bytes_out),
    ).where(
        col(VpsTraffic.vps_id).in_(list(vps)),
        col(VpsTraffic.period_start) >= ctx.today - timedelta(days=31),
    )
    out = []
    for t in session.execute(q):
        r = vps[t.vps_id]
        if t.period_start != traffic.period_start(ctx.today, r.traffic_reset_day):
            continue
        used = traffic.used_bytes(t.bytes_in, t.bytes_out, r.traffic_direction)
        reached = traffic.level(used, r.traffic_quota_gb)
        if not reached:
            continue
        share = used / (r.traffic_quota_gb * BYTES_PER_GB) * 100
        out.append(
            _item(
                "quota",
                "critical" if reached >= 100 else "warning",
                ("vps", r.id, r.hostname),
                f"{r.hostname}: {share:.0f} % of its {r.traffic_quota_gb} GB traffic quota "
                f"used this period (since {t.period_start})",
                _day(t.period_start),
                f"/vps/{r.id}",
                [t.period_start, reached],
                r.id,
            )
        )
    return out


@kind("missing-data")
def _missing_data(session: Session, ctx: Ctx) -> list[Item]:
    from sigma.services.json_sql import json_array_length

    no_ips = json_array_length(session, VpsRow.ip_addresses) == 0
    missing = (
        col(VpsRow.expire_date).is_(None)
        | col(VpsRow.cost_monthly).is_(None)
        | col(VpsRow.ip_addresses).is_(None)
        | no_ips
    )
    q = _vps_select(
        session,
        {"status": "active"},
        col(VpsRow.id),
        col(VpsRow.hostname),
        col(VpsRow.expire_date),
        col(VpsRow.cost_monthly),
        col(VpsRow.ip_addresses),
        col(VpsRow.created_at),
    ).where(missing)
    out = []
    for r in session.execute(q):
        lacks = [
            name
            for name, absent in (
                ("expiry date", r.expire_date is None),
                ("cost", r.cost_monthly is None),
                ("IP address", not r.ip_addresses),
            )
            if absent
        ]
        if not lacks:
            continue
        out.append(
            _item(
                "missing-data",
                "info",
                ("vps", r.id, r.hostname),
                f"{r.hostname}: no {', no '.join(lacks)}",
                _aware(r.created_at),
                f"/vps/{r.id}/edit",
                lacks,
                r.id,
            )
        )
    return out


# ---------------------------------------------------------------- reading


def _check_kinds(kinds: Iterable[str] | None) -> list[str]:
    if not kinds:
        return list(KINDS)
    wanted = []
    for k in kinds:
        k = str(k).strip().lower()
        if k not in KINDS:
            raise InvalidInput(
                f"kind: unknown kind '{k[:40]}'; expected one of: {', '.join(KINDS)}",
                field="kind",
            )
        if k not in wanted:
            wanted.append(k)
    return wanted


def _check_severities(severities: Iterable[str] | None) -> set[str]:
    if not severities:
        return set(SEVERITIES)
    out = set()
    for s in severities:
        s = str(s).strip().lower()
        if s not in SEVERITIES:
            raise InvalidInput(
                f"severity: unknown severity '{s[:40]}'; expected one of: {', '.join(SEVERITIES)}",
                field="severity",
            )
        out.add(s)
    return out


def _sort_key(i: Item) -> tuple[Any, ...]:
    since = i.since.timestamp() if i.since else float("inf")
    return (SEVERITY_RANK.get(i.severity, 9), since, i.key)


def _apply_acks(session: Session, found: list[Item], now: datetime) -> None:
    """Each item's state from its acknowledgement or snooze, when that still holds."""
    from sigma.db.models.attention import AttentionAck as AckRow

    if not found:
        return
    acks = {a.key: a for a in session.scalars(select(AckRow))}
    if not acks:
        return
    for i in found:
        a = acks.get(i.key)
        if a is None or a.fingerprint != i.fingerprint:
            continue
        until = _aware(a.until)
        if a.state == "snoozed" and (until is None or until <= now):
            continue
        i.state = a.state  # type: ignore[assignment]
        i.note, i.until, i.by = a.note or None, until, a.by


def _compute(session: Session, kinds: list[str], now: datetime) -> list[Item]:
    ctx = Ctx(session, now)
    found: list[Item] = []
    for k in kinds:
        found += KINDS[k](session, ctx)
    _apply_acks(session, found, now)
    found.sort(key=_sort_key)
    return found


def items(
    session: Session,
    actor: Actor,
    *,
    kinds: Iterable[str] | None = None,
    severities: Iterable[str] | None = None,
    vps: Any = None,
    include_handled: bool = False,
    now: datetime | None = None,
) -> list[Item]:
    """The items, worst first (severity, then the oldest), of these kinds and severities,
    about one VPS when `vps` names one; the acknowledged and snoozed ones only with
    `include_handled`."""
    actor.require(READERS)
    return _select(session, kinds, severities, vps, include_handled, now)[0]


def _select(
    session: Session,
    kinds: Iterable[str] | None,
    severities: Iterable[str] | None,
    vps: Any,
    include_handled: bool,
    now: datetime | None,
) -> tuple[list[Item], list[Item]]:
    """(the items shown, every item matching the filters, handled ones included)."""
    wanted = _check_kinds(kinds)
    levels = _check_severities(severities)
    vps_id = None
    if vps:
        from sigma.services.vps import find

        vps_id = str(find(session, vps).id)
    matching = [
        i
        for i in _compute(session, wanted, now or utcnow())
        if i.severity in levels and (vps_id is None or i.vps_id == vps_id)
    ]
    shown = matching if include_handled else [i for i in matching if i.state == "open"]
    return shown, matching


def current(session: Session, now: datetime | None = None) -> list[Item]:
    """Every item of every kind, worst first, acknowledged and snoozed ones included with
    their state: what the notices and /metrics read (no actor: the system asks)."""
    return _compute(session, list(KINDS), now or utcnow())


def list_page(
    session: Session,
    actor: Actor,
    kinds: Iterable[str] | None = None,
    severities: Iterable[str] | None = None,
    vps: Any = None,
    include_handled: bool = False,
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
) -> AttentionPage:
    """GET /api/attention and `sigma status`: one page of `items`, with the counts per kind
    and severity of the whole selection, how many are handled, how many critical are open."""
    actor.require(READERS)
    try:
        page, per_page = clamp_page(int(page), int(per_page))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"page: {exc}", field="page") from None
    shown, matching = _select(session, kinds, severities, vps, include_handled, now)
    counts: dict[tuple[str, str], int] = {}
    for i in shown:
        counts[(i.kind, i.severity)] = counts.get((i.kind, i.severity), 0) + 1
    order = {k: n for n, k in enumerate(KINDS)}
    start = (page - 1) * per_page
    return AttentionPage(
        data=shown[start : start + per_page],
        total=len(shown),
        page=page,
        per_page=per_page,
        counts=[
            AttentionCount.model_validate({"kind": k, "severity": s, "count": n})
            for (k, s), n in sorted(
                counts.items(), key=lambda kv: (SEVERITY_RANK[kv[0][1]], order[kv[0][0]])
            )
        ],
        handled=sum(1 for i in matching if i.state != "open"),
        critical=sum(1 for i in matching if i.state == "open" and i.severity == "critical"),
    )


def counts(items_: Iterable[Item]) -> dict[tuple[str, str], int]:
    """{(kind, severity): n} of the open items, every kind and severity present (/metrics)."""
    out = {(k, s): 0 for k in KINDS for s in SEVERITIES}
    for i in items_:
        if i.state == "open":
            out[(i.kind, i.severity)] = out.get((i.kind, i.severity), 0) + 1
    return out


# ---------------------------------------------------------------- acknowledge and snooze


def _check_key(key: Any) -> str:
    text = str(key if key is not None else "").strip()
    if not text:
        raise InvalidInput("key: the item's key is required (see `sigma status`)", field="key")
    if len(text) > KEY_LIMIT:
        raise InvalidInput(f"key: must be at most {KEY_LIMIT} characters", field="key")
    try:
        return check_text(text)
    except ValueError as exc:
        raise InvalidInput(f"key: {exc}", field="key") from None


def _check_note(note: Any) -> str:
    text = "" if note is None else str(note).strip()
    if len(text) > NOTE_LIMIT:
        raise InvalidInput(f"note: must be at most {NOTE_LIMIT} characters", field="note")
    try:
        return check_text(text)
    except ValueError as exc:
        raise InvalidInput(f"note: {exc}", field="note") from None


def _find_item(session: Session, key: str, now: datetime) -> tuple[Item, list[Item]]:
    """The item `key` names as it is now, and every item of its kind (NotFound when none)."""
    name = key.split(":", 1)[0]
    if name not in KINDS:
        raise NotFound(
            f"attention item not found: {key} (unknown kind '{name[:40]}'; kinds: "
            f"{', '.join(KINDS)})",
            field="key",
        )
    found = KINDS[name](session, Ctx(session, now))
    for i in found:
        if i.key == key:
            return i, found
    raise NotFound(
        f"attention item not found: {key}; it no longer needs attention (or never did): "
        "`sigma status` lists the current items",
        field="key",
    )


def _prune(session: Session, name: str, current_: list[Item], now: datetime) -> int:
    """Delete the acknowledgements of kind `name` that no longer hold (their item is gone or
    its facts changed), and every snooze that ended; how many."""
    from sigma.db.models.attention import AttentionAck as AckRow

    live = {i.key: i.fingerprint for i in current_}
    gone = 0
    rows = session.scalars(select(AckRow).where(col(AckRow.key).startswith(f"{name}:")))
    for row in rows:
        if live.get(row.key) != row.fingerprint:
            session.delete(row)
            gone += 1
    ended = session.execute(
        delete(AckRow).where(col(AckRow.state) == "snoozed", col(AckRow.until) <= now)
    )
    session.flush()
    return gone + (getattr(ended, "rowcount", 0) or 0)


def _out(row: Any) -> AttentionAck:
    return AttentionAck(
        key=row.key,
        state=row.state,
        fingerprint=row.fingerprint,
        until=_aware(row.until),
        note=row.note,
        by=row.by,
        at=_aware(row.at) or row.at,
    )


def _hold(
    session: Session,
    actor: Actor,
    key: Any,
    state: str,
    note: Any,
    until: datetime | None,
    now: datetime,
) -> AttentionAck:
    from sigma.db.models.attention import AttentionAck as AckRow

    key = _check_key(key)
    text = _check_note(note)
    item, of_kind = _find_item(session, key, now)
    _prune(session, item.kind, of_kind, now)
    row = session.get(AckRow, key)
    if row is None:
        row = AckRow(key=key, fingerprint=item.fingerprint, state=state, by=actor.email)
        session.add(row)
    row.fingerprint, row.state, row.until, row.note = item.fingerprint, state, until, text
    row.by, row.at = actor.email, now
    session.flush()
    details: dict[str, Any] = {"key": key, "kind": item.kind, "summary": item.summary}
    if text:
        details["note"] = text
    if until is not None:
        details["until"] = until.isoformat()
    audit.record(
        session,
        actor,
        "acknowledge" if state == "acknowledged" else "snooze",
        "attention",
        key,
        details,
    )
    return _out(row)


def ack(
    session: Session, actor: Actor, key: Any, note: Any = None, now: datetime | None = None
) -> AttentionAck:
    """Acknowledge an item: it leaves the open list until its facts change (operators and
    admins; audited). An item that does not exist (any more) is NotFound."""
    actor.require(WRITERS)
    return _hold(session, actor, key, "acknowledged", note, None, now or utcnow())


def snooze(
    session: Session,
    actor: Actor,
    key: Any,
    until: Any,
    note: Any = None,
    now: datetime | None = None,
) -> AttentionAck:
    """Snooze an item until a time (RFC 3339) or for a duration (30m, 4h, 2d, 1w): it leaves
    the open list until then, or until its facts change (operators and admins; audited)."""
    actor.require(WRITERS)
    now = now or utcnow()
    try:
        end = parse_until(until, now)
    except ValueError as exc:
        raise InvalidInput(f"until: {exc}", field="until") from None
    return _hold(session, actor, key, "snoozed", note, end, now)


def unack(session: Session, actor: Actor, key: Any) -> AttentionAck:
    """Put an acknowledged or snoozed item back on the open list (audited)."""
    from sigma.db.models.attention import AttentionAck as AckRow

    actor.require(WRITERS)
    key = _check_key(key)
    row = session.get(AckRow, key)
    if row is None:
        raise NotFound(f"attention item {key} is not acknowledged or snoozed", field="key")
    gone = _out(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "unacknowledge", "attention", key, {"key": key})
    return gone


def prune(session: Session, now: datetime | None = None) -> int:
    """Delete every acknowledgement that no longer holds; how many."""
    now = now or utcnow()
    found = current(session, now)
    by_kind: dict[str, list[Item]] = {k: [] for k in KINDS}
    for i in found:
        by_kind[i.kind].append(i)
    return sum(_prune(session, name, of_kind, now) for name, of_kind in by_kind.items())


JOB_NAME = "attention-prune"
JOB_INTERVAL = 3600.0


def job(sessions: sessionmaker[Session], settings: Any) -> None:
    """The hourly job of `sigma serve`: acknowledgements that no longer hold are deleted."""
    from sigma.db.engine import unit_of_work

    with unit_of_work(sessions) as session:
        prune(session)


# ---------------------------------------------------------------- the dashboard's strip

# (kind, label, the VPS listing's filter)
VPS_ITEMS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("overdue", "Overdue", VPS_QUERIES["overdue"]),
    ("due-soon", f"Due within {DUE_SOON_DAYS} days", VPS_QUERIES["due-soon"]),
    ("agents-offline", "Agents offline", VPS_QUERIES["agent-offline"]),
    (
        "over-quota",
        f"Traffic over {TRAFFIC_THRESHOLDS[0]} % of quota",
        VPS_QUERIES["quota"],
    ),
)
# (kind, label, verdict): of the active VPS, as the reachability page lists them
IP_ITEMS = (
    ("blocked", "Blocked IPs", "blocked"),
    ("port-blocked", "Port-blocked IPs", "port-blocked"),
    ("tls-blocked", "TLS-blocked IPs", "tls-blocked"),
    ("down", "Down IPs", "down"),
    ("degraded", "Degraded IPs", "degraded"),
)
# (kind, label, priority): open tickets
TICKET_ITEMS = (
    ("tickets-critical", "Critical tickets", "critical"),
    ("tickets-high", "High-priority tickets", "high"),
)


def _vps_count(session: Session, query: dict[str, Any]) -> int:
    q = filtered(session, validate(VpsFilter, query))
    return session.scalar(q.with_only_columns(func.count(), maintain_column_froms=True)) or 0


def attention(session: Session, actor: Actor) -> Attention:
    """The counts of what needs action, in the order the strip shows them. Each count is
    taken with the very filter of the listing it links to (`AttentionItem.query`), so that
    following the link shows exactly the VPS, IPs or tickets counted."""
    actor.require(READERS)
    items_ = [
        AttentionItem(
            kind=k, label=label, count=_vps_count(session, query), listing="vps", query=query
        )
        for k, label, query in VPS_ITEMS
    ]
    verdicts = ip_checks.verdict_counts(session)
    items_ += [
        AttentionItem(
            kind=k,
            label=label,
            count=verdicts.get(verdict, 0),
            listing="reachability",
            query={"verdict": verdict},
        )
        for k, label, verdict in IP_ITEMS
    ]
    priorities: dict[str, int] = {
        priority: n
        for priority, n in session.execute(
            select(col(TicketRow.priority), func.count())
            .where(
                col(TicketRow.status) == "open",
                col(TicketRow.priority).in_([p for _, _, p in TICKET_ITEMS]),
            )
            .group_by(col(TicketRow.priority))
        )
    }
    items_ += [
        AttentionItem(
            kind=k,
            label=label,
            count=priorities.get(priority, 0),
            listing="tickets",
            query={"status": "open", "priority": priority},
        )
        for k, label, priority in TICKET_ITEMS
    ]
    alerts = session.scalar(select(func.count()).select_from(ReachAlertRow))
    items_.append(
        AttentionItem(
            kind="reach-alerts",
            label="Latency/loss alerts",
            count=alerts or 0,
            listing="alerts",
            query={},
        )
    )
    unhealthy = session.scalar(
        select(func.count()).select_from(ProbeRow).where(col(ProbeRow.health) == "unhealthy")
    )
    items_.append(
        AttentionItem(
            kind="probes-unhealthy",
            label="Unhealthy probes",
            count=unhealthy or 0,
            listing="probes",
            query={},
        )
    )
    return Attention(items=items_)


__all__ = [
    "KINDS",
    "SYSTEM_READER",
    "ack",
    "attention",
    "current",
    "items",
    "job",
    "kind",
    "list_page",
    "prune",
    "snooze",
    "unack",
]
