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
import threading
import time as time_
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, delete, func, literal, or_, select
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


class Draft(NamedTuple):
    """An item before it is shown: what sorting, filtering and counting need, plus what an
    Item is made of. A kind returns drafts; the Item (and the fingerprint, a digest) is made
    only for the items shown and the ones that have an acknowledgement to compare with, so
    that a list of thousands costs its queries, not thousands of models."""

    rank: int  # SEVERITY_RANK
    since_ts: float  # +inf when unknown: the oldest first, the unknown last
    key: str
    kind: str
    severity: str
    subject: tuple[str, str, str]  # type, id, name
    vps_id: str | None
    summary: str
    since: datetime | None
    link: str
    facts: tuple[Any, ...]

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.kind, self.severity, *self.facts)


class Hold(NamedTuple):
    """An acknowledgement or a snooze that holds for an item now."""

    state: str
    note: str | None
    until: datetime | None
    by: str | None


KindFn = Callable[[Session, Ctx], list[Draft]]
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
) -> Draft:
    stype, sid, name = subject
    sid = str(sid)
    return Draft(
        SEVERITY_RANK[severity],
        since.timestamp() if since else float("inf"),
        key or f"{kind_}:{stype}:{sid}",
        kind_,
        severity,
        (stype, sid, name),
        None if vps_id is None else str(vps_id),
        summary,
        since,
        link,
        tuple(facts),
    )


def _made(d: Draft, hold: Hold | None = None) -> Item:
    """The Item of a draft (validated from a dict: faster than model_construct)."""
    stype, sid, name = d.subject
    item = {
        "key": d.key,
        "kind": d.kind,
        "severity": d.severity,
        "subject": {"type": stype, "id": sid, "name": name},
        "vps_id": d.vps_id,
        "summary": d.summary,
        "since": d.since,
        "link": d.link,
        "fingerprint": d.fingerprint,
    }
    if hold is not None:
        item.update(state=hold.state, note=hold.note, until=hold.until, by=hold.by)
    return Item.model_validate(item)


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


@dataclass(frozen=True)
class Listed:
    """A kind that may have thousands of items: the database counts them per severity and
    hands over only the worst ones a page shows. `rows` selects what `draft` reads, `rank`
    is the SQL of the severity's rank, `order` the SQL of the since (NULL last) then of the
    key, `vps` the column of the VPS an item is about (to find one item by its key)."""

    rows: Callable[[Session, Ctx], Any]
    rank: Callable[[Ctx], Any]
    order: Callable[[Ctx], tuple[Any, ...]]
    vps: Any
    draft: Callable[[Any, Ctx], Draft]


LISTED: dict[str, Listed] = {}


def listed(name: str, spec: Listed) -> None:
    """Register a listed kind; its plain function (every item) follows from the spec."""
    LISTED[name] = spec

    def every(session: Session, ctx: Ctx) -> list[Draft]:
        return [spec.draft(r, ctx) for r in session.execute(spec.rows(session, ctx))]

    KINDS[name] = every


def _rank(severity: str) -> Any:
    return literal(SEVERITY_RANK[severity])


def _overdue_rows(session: Session, ctx: Ctx) -> Any:
    return _vps_select(
        session,
        VPS_QUERIES["overdue"],
        col(VpsRow.id),
        col(VpsRow.hostname),
        col(VpsRow.expire_date),
        col(VpsRow.status),
    )


def _overdue(r: Any, ctx: Ctx) -> Draft:
    return _item(
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


listed(
    "overdue",
    Listed(
        _overdue_rows,
        lambda ctx: _rank("critical"),
        lambda ctx: (col(VpsRow.expire_date), col(VpsRow.id)),
        col(VpsRow.id),
        _overdue,
    ),
)


def notify_days(session: Session) -> list[int]:
    """The setting notify_before_days as the session carries it (Settings.session_info)."""
    days = session.info.get("notify_before_days") or DEFAULT_NOTIFY_DAYS
    return sorted({int(d) for d in days if int(d) >= 0}) or list(DEFAULT_NOTIFY_DAYS)


def _expiring_rows(session: Session, ctx: Ctx) -> Any:
    window = max(notify_days(session))
    return _vps_select(
        session,
        {"expiring_within_days": window},
        col(VpsRow.id),
        col(VpsRow.hostname),
        col(VpsRow.expire_date),
        col(VpsRow.auto_renew),
    ).where(col(VpsRow.expire_date) >= ctx.today)  # the overdue ones are `overdue`


def _expiring_rank(ctx: Ctx) -> Any:
    soon = ctx.today + timedelta(days=CRITICAL_WITHIN_DAYS)
    return case(
        (col(VpsRow.expire_date) <= soon, SEVERITY_RANK["critical"]),
        else_=SEVERITY_RANK["warning"],
    )


def _expiring(r: Any, ctx: Ctx) -> Draft:
    left = (r.expire_date - ctx.today).days
    when = "today" if left == 0 else f"in {_days(left)}"
    renew = " (renews automatically)" if r.auto_renew else ""
    return _item(
        "expiring",
        "critical" if left <= CRITICAL_WITHIN_DAYS else "warning",
        ("vps", r.id, r.hostname),
        f"{r.hostname}: expires {when}, on {r.expire_date}{renew}",
        _day(r.expire_date),
        f"/vps/{r.id}",
        [r.expire_date],
        r.id,
    )


listed(
    "expiring",
    Listed(
        _expiring_rows,
        _expiring_rank,
        lambda ctx: (col(VpsRow.expire_date), col(VpsRow.id)),
        col(VpsRow.id),
        _expiring,
    ),
)


def _verdict_listed(verdict: str) -> Listed:
    from sigma.db.models.monitoring import Reachability as ReachRow

    def rows(session: Session, ctx: Ctx) -> Any:
        # the (VPS, IP) pairs of the active VPS, as ip_checks.verdict_counts selects them,
        # read from the verdict index (never the per-source state)
        return (
            select(
                col(ReachRow.vps_id),
                col(ReachRow.ip),
                col(ReachRow.label),
                col(ReachRow.since),
                col(VpsRow.hostname),
            )
            .join(VpsRow, col(VpsRow.id) == col(ReachRow.vps_id))
            .where(*ip_checks.selection(session, None, False))
            .where(col(ReachRow.verdict) == verdict)
        )

    def draft(r: Any, ctx: Ctx) -> Draft:
        since = _aware(r.since)
        label = f" ({r.label})" if r.label else ""
        return _item(
            verdict,
            VERDICT_SEVERITY[verdict],
            ("ip", f"{r.vps_id}/{r.ip}", f"{r.hostname} {r.ip}"),
            f"{r.hostname} {r.ip}{label}: {verdict} since "
            f"{since.isoformat(timespec='minutes') if since else '?'}",
            since,
            f"/vps/{r.vps_id}",
            [verdict, since.isoformat() if since else ""],
            r.vps_id,
        )

    return Listed(
        rows,
        lambda ctx: _rank(VERDICT_SEVERITY[verdict]),
        lambda ctx: (col(ReachRow.since), col(ReachRow.vps_id), col(ReachRow.ip)),
        col(ReachRow.vps_id),
        draft,
    )


for _verdict in VERDICT_SEVERITY:
    listed(_verdict, _verdict_listed(_verdict))


def _agent_rows(session: Session, ctx: Ctx) -> Any:
    from sigma.services.vps import heartbeat_text

    return _vps_select(
        session,
        VPS_QUERIES["agent-offline"],
        col(VpsRow.id),
        col(VpsRow.hostname),
        heartbeat_text().label("beat"),
    )


def _agent_offline(r: Any, ctx: Ctx) -> Draft:
    from sigma.vocab import parse_timestamp

    try:
        beat = parse_timestamp(r.beat)
    except ValueError:
        beat = None
    seen = beat.isoformat(timespec="minutes") if beat else "?"
    return _item(
        "agent-offline",
        "warning",
        ("vps", r.id, r.hostname),
        f"{r.hostname}: agent silent since {seen}",
        beat,
        f"/vps/{r.id}",
        [r.beat],
        r.id,
    )


def _heartbeat_order(ctx: Ctx) -> tuple[Any, ...]:
    from sigma.services.vps import heartbeat_text

    return (heartbeat_text(), col(VpsRow.id))


listed(
    "agent-offline",
    Listed(
        _agent_rows,
        lambda ctx: _rank("warning"),
        _heartbeat_order,
        col(VpsRow.id),
        _agent_offline,
    ),
)


@kind("probe-unhealthy")
def _probe_unhealthy(session: Session, ctx: Ctx) -> list[Draft]:
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
def _reach_alert(session: Session, ctx: Ctx) -> list[Draft]:
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
def _ticket(session: Session, ctx: Ctx) -> list[Draft]:
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
def _duplicate(session: Session, ctx: Ctx) -> list[Draft]:
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
def _quota(session: Session, ctx: Ctx) -> list[Draft]:
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


def _missing_rows(session: Session, ctx: Ctx) -> Any:
    from sigma.services.json_sql import json_is_empty_array

    no_ips = json_is_empty_array(session, VpsRow.ip_addresses)
    missing = (
        col(VpsRow.expire_date).is_(None)
        | col(VpsRow.cost_monthly).is_(None)
        | col(VpsRow.ip_addresses).is_(None)
        | no_ips
    )
    return _vps_select(
        session,
        {"status": "active"},
        col(VpsRow.id),
        col(VpsRow.hostname),
        col(VpsRow.expire_date),
        col(VpsRow.cost_monthly),
        col(VpsRow.ip_addresses),
        col(VpsRow.created_at),
    ).where(missing)


def _missing_data(r: Any, ctx: Ctx) -> Draft:
    lacks = [
        name
        for name, absent in (
            ("expiry date", r.expire_date is None),
            ("cost", r.cost_monthly is None),
            ("IP address", not r.ip_addresses),
        )
        if absent
    ]
    return _item(
        "missing-data",
        "info",
        ("vps", r.id, r.hostname),
        f"{r.hostname}: no {', no '.join(lacks)}",
        _aware(r.created_at),
        f"/vps/{r.id}/edit",
        lacks,
        r.id,
    )


listed(
    "missing-data",
    Listed(
        _missing_rows,
        lambda ctx: _rank("info"),
        lambda ctx: (col(VpsRow.created_at), col(VpsRow.id)),
        col(VpsRow.id),
        _missing_data,
    ),
)


# ------------------------------------------------- accounts and DNS (issue 19)


@kind("gone")
def _gone(session: Session, ctx: Ctx) -> list[Draft]:
    from sigma.services.sync import gone_rows

    out = []
    for r in gone_rows(session):
        since = _aware(r.gone_at)
        out.append(
            _item(
                "gone",
                "warning",
                ("vps", r.vps_id, r.hostname),
                f"{r.hostname}: account {r.account} no longer lists instance {r.instance_id}; "
                "retire it, or put it back in service if it still runs",
                since,
                f"/vps/{r.vps_id}",
                [r.instance_id, since.isoformat() if since else ""],
                r.vps_id,
            )
        )
    return out


@kind("sync-failed")
def _sync_failed(session: Session, ctx: Ctx) -> list[Draft]:
    from sigma.services.sync import failed_rows

    out = []
    for r in failed_rows(session):
        since = _aware(r.last_sync_at)
        out.append(
            _item(
                "sync-failed",
                "warning",
                ("account", r.id, r.name),
                f"account {r.name} ({r.kind}) failed to sync {r.failures} time"
                f"{'s' if r.failures != 1 else ''}: {r.last_error[:200]}",
                since,
                "/accounts",
                [r.last_error[:200]],
            )
        )
    return out


def _record_subject(r: Any) -> tuple[str, Any, str]:
    return ("dns", r[0].id, f"{r[0].name} {r[0].type}")


@kind("dns-stale")
def _dns_stale(session: Session, ctx: Ctx) -> list[Draft]:
    from sigma.services.dns import stale_rows

    out = []
    for r in stale_rows(session):
        rec, state = r[0], r.vps_status
        why = "is blocked from China" if state not in ("retired", "trashed") else f"is {state}"
        out.append(
            _item(
                "dns-stale",
                "critical" if state == "active" else "warning",
                _record_subject(r),
                f"DNS {rec.name} {rec.type} {rec.content} points at {r.vps_hostname}, which {why}",
                None,
                f"/dns?q={rec.name}",
                [rec.content, state],
                rec.vps_id,
            )
        )
    return out


@kind("domain-expiring")
def _domain_expiring(session: Session, ctx: Ctx) -> list[Draft]:
    from sigma.services.dns import expiring_zones

    window = max(notify_days(session))
    out = []
    for zone, account in expiring_zones(session, ctx.now + timedelta(days=window)):
        ends = _aware(zone.expires_at)
        assert ends is not None
        days = (ends.date() - ctx.today).days
        when = f"expired {_days(-days)} ago" if days < 0 else f"expires in {_days(days)}"
        out.append(
            _item(
                "domain-expiring",
                "critical" if days <= CRITICAL_WITHIN_DAYS else "warning",
                ("domain", zone.id, zone.name),
                f"domain {zone.name} ({account}) {when} ({ends.date()})",
                None,
                f"/dns?zone={zone.name}",
                [ends.date().isoformat()],
            )
        )
    return out


@kind("cert-expiring")
def _cert_expiring(session: Session, ctx: Ctx) -> list[Draft]:
    from sigma.services.dns import expiring_certs

    window = int(session.info.get("cert_warn_days", 14))
    out = []
    for r in expiring_certs(session, ctx.now + timedelta(days=window)):
        rec = r[0]
        ends = _aware(rec.cert_not_after)
        assert ends is not None
        days = (ends.date() - ctx.today).days
        when = f"expired {_days(-days)} ago" if days < 0 else f"expires in {_days(days)}"
        out.append(
            _item(
                "cert-expiring",
                "critical" if days <= 3 else "warning",
                ("dns", rec.id, rec.name),
                f"the certificate of {rec.name} at {rec.content} ({r.vps_hostname}) {when}",
                None,
                f"/dns?q={rec.name}",
                [ends.isoformat()],
                rec.vps_id,
                key=f"cert-expiring:dns:{rec.name}/{rec.content}",
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


def _ack_rows(session: Session) -> dict[str, Any]:
    """{key: row} of the acknowledgements and snoozes (a handful: read whole, once, as plain
    rows: no ORM objects to build)."""
    from sigma.db.models.attention import AttentionAck as AckRow

    q = select(
        col(AckRow.key),
        col(AckRow.fingerprint),
        col(AckRow.state),
        col(AckRow.until),
        col(AckRow.note),
        col(AckRow.by),
    )
    return {a.key: a for a in session.execute(q)}


def _holds(drafts: Iterable[Draft], acks: dict[str, Any], now: datetime) -> dict[str, Hold]:
    """{key: hold} of the drafts whose acknowledgement or snooze still holds: the same
    fingerprint and, for a snooze, an end still to come."""
    holds: dict[str, Hold] = {}
    for d in drafts:
        a = acks.get(d.key)
        if a is None or a.fingerprint != d.fingerprint:
            continue
        until = _aware(a.until)
        if a.state == "snoozed" and (until is None or until <= now):
            continue
        holds[d.key] = Hold(a.state, a.note or None, until, a.by)
    return holds


def _compute(
    session: Session, kinds: list[str], now: datetime | None
) -> tuple[list[Draft], dict[str, Hold]]:
    """Every draft of these kinds, worst first (severity, then the oldest), and the holds:
    from the process's snapshot when it is kept and `now` is not asked."""
    cached = _cached(session, now)
    now = now or utcnow()
    if cached is not None:
        wanted = set(kinds)
        found = [d for d in cached if d.kind in wanted]
    else:
        ctx = Ctx(session, now)
        found = []
        for k in kinds:
            found += KINDS[k](session, ctx)
        found.sort(key=lambda d: (d.rank, d.since_ts, d.key))
    return found, _holds(found, _ack_rows(session) if found else {}, now)


# ---------------------------------------------------------------- the process's snapshot

# The whole list (every kind's drafts, worst first) is kept per process and database for
# `attention_cache_seconds` (a setting, carried by the session; none without it): the
# dashboard, its JSON, `sigma status`, /api/attention and /metrics read it many times a minute
# while the facts move slowly. A change this process records (services.audit.generation)
# makes it out of date at once; acknowledgements are read fresh on every call; an asked `now`
# (a controlled clock) always computes.
_snapshots: dict[str, tuple[float, int, date, list[Draft]]] = {}
_snapshot_lock = threading.Lock()


def _cached(session: Session, now: datetime | None) -> list[Draft] | None:
    ttl = float(session.info.get("attention_cache_seconds") or 0)
    if ttl <= 0 or now is not None:
        return None
    bind: Any = session.get_bind()
    key = bind.engine.url.render_as_string(hide_password=True)
    changes = audit.generation()
    with _snapshot_lock:
        held = _snapshots.get(key)
        at = time_.monotonic()
        today = utcnow().date()
        if held is not None and held[1] == changes and at - held[0] < ttl and held[2] == today:
            return held[3]
        names = list(KINDS)
        found = [
            d
            for drafts in _per_kind(session, names, lambda s, n: KINDS[n](s, Ctx(s, utcnow())))
            for d in drafts
        ]
        found.sort(key=lambda d: (d.rank, d.since_ts, d.key))
        _snapshots[key] = (at, changes, today, found)
        return found


def forget_snapshots() -> None:
    """Drop every kept list (tests; a process that knows its database changed)."""
    with _snapshot_lock:
        _snapshots.clear()


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
    shown, _matching, holds = _select(session, kinds, severities, vps, include_handled, now)
    return [_made(d, holds.get(d.key)) for d in shown]


def _select(
    session: Session,
    kinds: Iterable[str] | None,
    severities: Iterable[str] | None,
    vps: Any,
    include_handled: bool,
    now: datetime | None,
) -> tuple[list[Draft], list[Draft], dict[str, Hold]]:
    """(the drafts shown, every draft matching the filters, handled ones included, the
    holds)."""
    wanted = _check_kinds(kinds)
    levels = _check_severities(severities)
    vps_id = None
    if vps:
        from sigma.services.vps import find

        vps_id = str(find(session, vps).id)
    found, holds = _compute(session, wanted, now)
    matching = [d for d in found if d.severity in levels and (vps_id is None or d.vps_id == vps_id)]
    shown = matching if include_handled else [d for d in matching if d.key not in holds]
    return shown, matching, holds


def current(session: Session, now: datetime | None = None) -> list[Item]:
    """Every item of every kind, worst first, acknowledged and snoozed ones included with
    their state: what the notices read (no actor: the system asks)."""
    found, holds = _compute(session, list(KINDS), now)
    return [_made(d, holds.get(d.key)) for d in found]


def _acked_vps(key: str) -> str:
    """The VPS id in an item's key (`kind:vps:<id>`, `kind:ip:<vps id>/<ip>`)."""
    return key.split(":", 2)[-1].split("/", 1)[0]


def _listed_page(
    session: Session,
    ctx: Ctx,
    name: str,
    acks: dict[str, Any],
    ranks: set[int],
    vps_id: str | None,
    include_handled: bool,
    need: int,
) -> tuple[list[Draft], list[Draft], dict[int, int]]:
    """(the worst `need` drafts of a listed kind that a page may show, its items that are
    acknowledged or snoozed, {rank: items} of the selection shown), from one query that the
    database both counts (per severity, over every row: a window) and orders."""
    spec = LISTED[name]
    rank = spec.rank(ctx)
    base = spec.rows(session, ctx).where(rank.in_(sorted(ranks)))
    if vps_id is not None:
        base = base.where(spec.vps == _uuid(vps_id))
    mine = [a for key, a in acks.items() if key.split(":", 1)[0] == name]
    acked: list[Draft] = []
    if mine:
        ids = [_uuid(_acked_vps(a.key)) for a in mine]
        acked = [spec.draft(r, ctx) for r in session.execute(base.where(spec.vps.in_(ids)))]
    holds = _holds(acked, acks, ctx.now)
    held = [d for d in acked if d.key in holds]
    since, *tiebreak = spec.order(ctx)
    totals = [
        func.sum(case((rank == n, 1), else_=0)).over().label(f"n{n}")
        for n in SEVERITY_RANK.values()
    ]
    top = (
        base.add_columns(*totals)
        .order_by(rank, since.is_(None), since, *tiebreak)
        .limit(need + (0 if include_handled else len(holds)))
    )
    rows = session.execute(top).all()
    tally: dict[int, int] = {}
    if rows:
        tally = {n: int(getattr(rows[0], f"n{n}") or 0) for n in SEVERITY_RANK.values()}
    if not include_handled:
        for d in held:
            tally[d.rank] -= 1
    drafts = [spec.draft(r, ctx) for r in rows]
    if not include_handled:
        drafts = [d for d in drafts if d.key not in holds]
    return drafts, held, tally


def _uuid(text: str) -> Any:
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.UUID(int=0)  # no VPS has it


# the kinds of one list_page run side by side, each on its own connection: their queries are
# independent, and the database (PostgreSQL's backends; SQLite, which lets go of the GIL while
# it reads) uses another core meanwhile
KIND_THREADS = 4
_kind_pool: Any = None
SLOW_FIRST = ("duplicate", "quota", "agent-offline", "missing-data", "expiring", "degraded")


def _per_kind(session: Session, names: list[str], fn: Callable[[Session, str], Any]) -> list[Any]:
    """fn(a session, name) for each kind: side by side on sessions of their own when the
    database allows it (not an in-memory SQLite one), else one after the other on `session`.
    The sessions only read; each sees the database as it is when its kind runs."""
    from concurrent.futures import ThreadPoolExecutor

    global _kind_pool
    bind = session.get_bind()
    url = getattr(bind, "url", None)
    alone = url is None or (
        url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    )
    if alone or len(names) < 2:
        return [fn(session, name) for name in names]
    if _kind_pool is None:
        _kind_pool = ThreadPoolExecutor(KIND_THREADS, thread_name_prefix="sigma-attention")
    engine = bind.engine if hasattr(bind, "engine") else bind

    def run(name: str) -> Any:
        with Session(engine, info=dict(session.info)) as own:
            return fn(own, name)

    # the slowest kinds first (bench/attention.py), so that the others fill in beside them
    order = sorted(names, key=lambda n: SLOW_FIRST.index(n) if n in SLOW_FIRST else len(SLOW_FIRST))
    done = dict(zip(order, _kind_pool.map(run, order), strict=True))
    return [done[name] for name in names]


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
    and severity of the whole selection, how many are handled, how many critical are open.
    The kinds that may have thousands of items (LISTED) are counted and ordered by the
    database, which hands over only the worst ones the page may show; the others are
    computed whole."""
    actor.require(READERS)
    try:
        page, per_page = clamp_page(int(page), int(per_page))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"page: {exc}", field="page") from None
    wanted = _check_kinds(kinds)
    levels = _check_severities(severities)
    ranks = {SEVERITY_RANK[s] for s in levels}
    vps_id = None
    if vps:
        from sigma.services.vps import find

        vps_id = str(find(session, vps).id)
    cached = _cached(session, now)
    now = now or utcnow()
    acks = _ack_rows(session)
    start = (page - 1) * per_page
    if cached is not None:
        return _page_of(
            cached, set(wanted), levels, vps_id, include_handled, acks, now, page, per_page
        )

    def one(kind_session: Session, name: str) -> tuple[list[Draft], list[Draft], dict[str, int]]:
        ctx = Ctx(kind_session, now)
        if name in LISTED:
            drafts, held_here, counted = _listed_page(
                kind_session, ctx, name, acks, ranks, vps_id, include_handled, start + per_page
            )
            return drafts, held_here, {SEVERITIES[r]: n for r, n in counted.items() if n}
        found = [
            d
            for d in KINDS[name](kind_session, ctx)
            if d.severity in levels and (vps_id is None or d.vps_id == vps_id)
        ]
        holding = _holds(found, acks, now)
        drafts = found if include_handled else [d for d in found if d.key not in holding]
        counts: dict[str, int] = {}
        for d in drafts:
            counts[d.severity] = counts.get(d.severity, 0) + 1
        return drafts, [d for d in found if d.key in holding], counts

    pool: list[Draft] = []
    held: list[Draft] = []
    tally: dict[tuple[str, str], int] = {}
    for name, (drafts, held_here, counts) in zip(
        wanted, _per_kind(session, wanted, one), strict=True
    ):
        held += held_here
        pool += drafts
        tally.update({(name, sev): n for sev, n in counts.items()})
    pool.sort(key=lambda d: (d.rank, d.since_ts, d.key))
    open_critical = sum(n for (_k, sev), n in tally.items() if sev == "critical")
    if include_handled:  # the tally counts the held items too
        open_critical -= sum(1 for d in held if d.severity == "critical")
    return _page_out(pool, _holds(held, acks, now), tally, page, per_page, len(held), open_critical)


def _page_of(
    found: list[Draft],
    wanted: set[str],
    levels: set[str],
    vps_id: str | None,
    include_handled: bool,
    acks: dict[str, Any],
    now: datetime,
    page: int,
    per_page: int,
) -> AttentionPage:
    """list_page from the whole list (the process's snapshot): filtered, counted and cut."""
    matching = [
        d
        for d in found
        if d.kind in wanted and d.severity in levels and (vps_id is None or d.vps_id == vps_id)
    ]
    holds = _holds((d for d in matching if d.key in acks), acks, now)
    shown = matching if include_handled else [d for d in matching if d.key not in holds]
    tally: dict[tuple[str, str], int] = {}
    for d in shown:
        tally[(d.kind, d.severity)] = tally.get((d.kind, d.severity), 0) + 1
    handled = sum(1 for d in matching if d.key in holds)
    critical = sum(1 for d in matching if d.key not in holds and d.severity == "critical")
    return _page_out(shown, holds, tally, page, per_page, handled, critical)


def _page_out(
    shown: list[Draft],
    holds: dict[str, Hold],
    tally: dict[tuple[str, str], int],
    page: int,
    per_page: int,
    handled: int,
    critical: int,
) -> AttentionPage:
    """The page of `shown` (worst first), with the counts per kind and severity."""
    start = (page - 1) * per_page
    order = {k: n for n, k in enumerate(KINDS)}
    return AttentionPage(
        data=[_made(d, holds.get(d.key)) for d in shown[start : start + per_page]],
        total=sum(tally.values()),
        page=page,
        per_page=per_page,
        counts=[
            AttentionCount.model_validate({"kind": k, "severity": sev, "count": n})
            for (k, sev), n in sorted(
                tally.items(), key=lambda kv: (SEVERITY_RANK[kv[0][1]], order[kv[0][0]])
            )
        ],
        handled=handled,
        critical=critical,
    )


def open_counts(session: Session, now: datetime | None = None) -> dict[tuple[str, str], int]:
    """{(kind, severity): n} of the open items, every kind and severity present (/metrics)."""
    found, holds = _compute(session, list(KINDS), now)
    out = {(k, s): 0 for k in KINDS for s in SEVERITIES}
    for d in found:
        if d.key not in holds:
            out[(d.kind, d.severity)] += 1
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


def _find_item(session: Session, key: str, now: datetime) -> tuple[Draft, list[Draft]]:
    """The item `key` names as it is now, and every item of its kind (NotFound when none)."""
    name = key.split(":", 1)[0]
    if name not in KINDS:
        raise NotFound(
            f"attention item not found: {key} (unknown kind '{name[:40]}'; kinds: "
            f"{', '.join(KINDS)})",
            field="key",
        )
    found = KINDS[name](session, Ctx(session, now))
    for d in found:
        if d.key == key:
            return d, found
    raise NotFound(
        f"attention item not found: {key}; it no longer needs attention (or never did): "
        "`sigma status` lists the current items",
        field="key",
    )


def _prune(session: Session, name: str, current_: list[Draft], now: datetime) -> int:
    """Delete the acknowledgements of kind `name` that no longer hold (their item is gone or
    its facts changed), and every snooze that ended; how many."""
    from sigma.db.models.attention import AttentionAck as AckRow

    live = {d.key: d for d in current_}
    gone = 0
    rows = session.scalars(select(AckRow).where(col(AckRow.key).startswith(f"{name}:")))
    for row in rows:
        d = live.get(row.key)
        if d is None or d.fingerprint != row.fingerprint:
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
    found, _holds_now = _compute(session, list(KINDS), now)
    by_kind: dict[str, list[Draft]] = {k: [] for k in KINDS}
    for d in found:
        by_kind[d.kind].append(d)
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
    "open_counts",
    "job",
    "kind",
    "list_page",
    "prune",
    "snooze",
    "unack",
]
