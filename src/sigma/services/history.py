"""The fleet's memory: every change of a VPS as an event of its timeline (vps_history), and
which VPS held which address when (ip_assignments).

This module is the only writer of both tables. Every service that changes a VPS calls it in
its own transaction, so an event exists exactly when its change was committed:

- services.vps (created, updated, status, retired, deleted, IPs), services.merge (merged),
  services.trash (restored, purged), services.agents (IPs an agent reports, agent
  online/offline), services.ip_checks (reachability verdicts), services.tickets (tickets
  opened/closed on a VPS), services.transfer (imports, in batches).
- `record` writes one event; `record_many` a batch (imports); `record_ip_changes` the
  ip-added/ip-removed/ip-relabelled events between two IP lists; `sync_ips` brings the open
  ip_assignments of VPS in line with what they hold now (a VPS in the trash or retired holds
  nothing). Neither table has a foreign key to vps: the history outlives a purge.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.history import IpAssignment, VpsHistory
from sigma.db.types import utcnow
from sigma.errors import NotFound
from sigma.schemas.common import Page, validate
from sigma.schemas.history import HistoryEvent, HistoryFilter, IpHistoryQuery, IpHolding
from sigma.services.actor import READERS, Actor
from sigma.vocab import HISTORY_KINDS, HISTORY_SOURCES, ip_key, ip_query_network

CHUNK = 500
# fields whose change is not an `updated` event: they have events of their own (IPs,
# status), are derived (provider_name follows provider_id, online), or are bookkeeping
NOT_FIELDS = {"id", "created_at", "updated_at", "online", "provider_name", "ip_addresses", "status"}
# keys of extra an agent keeps current: never a field change of the timeline
VOLATILE_EXTRA = {"system_info", "last_heartbeat"}


def _who(actor: Actor | str | None) -> str:
    if actor is None:
        return ""
    return actor if isinstance(actor, str) else actor.email


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _check(kind: str, source: str) -> None:
    if kind not in HISTORY_KINDS:
        raise ValueError(f"unknown history kind {kind!r}")
    if source not in HISTORY_SOURCES:
        raise ValueError(f"unknown history source {source!r}")


_LAST = "history_last_at"
_TICK = timedelta(microseconds=1)


def _stamp(session: Session, at: datetime | None) -> datetime:
    """`at` (now by default), made later than the transaction's previous event: the events
    of one change keep their order in a timeline sorted by time."""
    at = at or utcnow()
    last = session.info.get(_LAST)
    if last is not None and at <= last:
        at = last + _TICK
    session.info[_LAST] = at
    return at


def record(
    session: Session,
    vps_id: Any,
    kind: str,
    source: str,
    actor: Actor | str | None,
    details: dict[str, Any] | None = None,
    *,
    hostname: str | None = None,
    at: datetime | None = None,
) -> None:
    """One event of a VPS's timeline, in the caller's transaction. `hostname`: the VPS's
    hostname now (looked up when not given)."""
    _check(kind, source)
    vps_id = _uuid(vps_id)
    if hostname is None:
        row = session.get(VpsRow, vps_id)
        hostname = row.hostname if row is not None else ""
    session.add(
        VpsHistory(
            vps_id=vps_id,
            at=_stamp(session, at),
            kind=kind,
            source=source,
            actor=_who(actor),
            hostname=hostname,
            details=details or {},
        )
    )


def record_many(session: Session, events: list[dict[str, Any]]) -> None:
    """Many events in one multi-row INSERT (imports): each a dict with vps_id, kind,
    source, hostname and optionally actor, details, at."""
    if not events:
        return
    rows = []
    for e in events:
        _check(e["kind"], e["source"])
        rows.append(
            {
                "id": uuid.uuid4(),
                "vps_id": _uuid(e["vps_id"]),
                "at": _stamp(session, e.get("at")),
                "kind": e["kind"],
                "source": e["source"],
                "actor": _who(e.get("actor")),
                "hostname": e.get("hostname") or "",
                "details": e.get("details") or {},
            }
        )
    table = VpsHistory.__table__
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[i : i + CHUNK])


# ---------------------------------------------------------------- what changed


def ip_map(ips: Any) -> dict[str, str]:
    """{ip: label} of a stored or reported IP list, in its order."""
    out: dict[str, str] = {}
    for e in ips or ():
        if isinstance(e, dict) and isinstance(e.get("ip"), str):
            out.setdefault(e["ip"], str(e.get("label") or ""))
        elif hasattr(e, "ip"):
            out.setdefault(e.ip, e.label or "")
    return out


def ip_events(before: Any, after: Any) -> list[tuple[str, dict[str, Any]]]:
    """(kind, details) of every address added, removed or relabelled between two IP lists."""
    old, new = ip_map(before), ip_map(after)
    events: list[tuple[str, dict[str, Any]]] = []
    for ip, label in old.items():
        if ip not in new:
            events.append(("ip-removed", {"ip": ip, "label": label}))
        elif new[ip] != label:
            events.append(("ip-relabelled", {"ip": ip, "from": label, "to": new[ip]}))
    for ip, label in new.items():
        if ip not in old:
            events.append(("ip-added", {"ip": ip, "label": label}))
    return events


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """{field: {from, to}} between two JSON dumps of a VPS, leaving out what has events of
    its own and what an agent keeps current (extra's system_info, last_heartbeat)."""
    changes: dict[str, Any] = {}
    for key, new in after.items():
        if key in NOT_FIELDS:
            continue
        old = before.get(key)
        if key == "extra" and isinstance(old, dict) and isinstance(new, dict):
            old = {k: v for k, v in old.items() if k not in VOLATILE_EXTRA}
            new = {k: v for k, v in new.items() if k not in VOLATILE_EXTRA}
        if old != new:
            changes[key] = {"from": old, "to": new}
    return changes


def record_ip_changes(
    session: Session,
    vps_id: Any,
    hostname: str,
    before: Any,
    after: Any,
    source: str,
    actor: Actor | str | None,
    at: datetime | None = None,
) -> int:
    """The IP events between two IP lists of one VPS; how many."""
    events = ip_events(before, after)
    for kind, details in events:
        record(session, vps_id, kind, source, actor, details, hostname=hostname, at=at)
    return len(events)


def record_change(
    session: Session,
    before: dict[str, Any],
    after: dict[str, Any],
    source: str,
    actor: Actor | str | None,
    *,
    status_kind: str = "status",
) -> None:
    """The events between two JSON dumps of one VPS (Vps.model_dump(mode="json")): its
    field changes as one `updated`, a status change as `status` (or `status_kind`), and its
    IP changes one by one."""
    vps_id, hostname = after["id"], after["hostname"]
    changes = field_changes(before, after)
    if changes:
        record(session, vps_id, "updated", source, actor, {"changes": changes}, hostname=hostname)
    if before.get("status") != after.get("status"):
        record(
            session,
            vps_id,
            "retired" if after.get("status") == "retired" else status_kind,
            source,
            actor,
            {"from": before.get("status"), "to": after.get("status")},
            hostname=hostname,
        )
    old_ips, new_ips = before.get("ip_addresses"), after.get("ip_addresses")
    record_ip_changes(session, vps_id, hostname, old_ips, new_ips, source, actor)


# ---------------------------------------------------------------- who held which address


def holds_ips(status: str, deleted_at: Any) -> bool:
    """Whether a VPS holds its addresses: in service (not retired) and not in the trash."""
    return status != "retired" and deleted_at is None


def sync_ips(
    session: Session,
    items: Iterable[tuple[Any, str, Any, bool]],
    at: datetime | None = None,
) -> None:
    """Bring the open ip_assignments of each (vps_id, hostname, ip list, holds) in line: an
    address no longer held (or held under another label or hostname) is closed at `at`, a
    newly held one opened. One SELECT per CHUNK VPS, one UPDATE and one INSERT at most."""
    wanted: dict[Any, tuple[str, dict[str, str]]] = {}
    for vps_id, hostname, ips, holds in items:
        wanted[vps_id] = (hostname, ip_map(ips) if holds else {})
    if not wanted:
        return
    at = at or utcnow()
    table = IpAssignment.__table__
    c = table.c
    ids = list(wanted)
    have: dict[Any, dict[str, tuple[Any, str, str]]] = {}
    for i in range(0, len(ids), CHUNK):
        q = select(c.id, c.vps_id, c.ip, c.label, c.hostname).where(
            c.vps_id.in_(ids[i : i + CHUNK]), c.until.is_(None)
        )
        for aid, vid, ip, label, host in session.execute(q):
            have.setdefault(vid, {})[ip] = (aid, label, host)
    close: list[Any] = []
    rows: list[dict[str, Any]] = []
    for vps_id, (hostname, want) in wanted.items():
        current = have.get(vps_id, {})
        for ip, (aid, label, host) in current.items():
            if want.get(ip) != label or host != hostname:
                close.append(aid)
        for ip, label in want.items():
            held = current.get(ip)
            if held is not None and held[1] == label and held[2] == hostname:
                continue
            try:
                key = ip_key(ip)
            except ValueError:
                continue  # stored before validation existed: not an address
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "ip": ip,
                    "ip_key": key,
                    "vps_id": vps_id,
                    "hostname": hostname,
                    "label": label,
                    "since": at,
                    "until": None,
                }
            )
    for i in range(0, len(close), CHUNK):
        session.execute(update(table).where(c.id.in_(close[i : i + CHUNK])).values(until=at))
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[i : i + CHUNK])


def sync_row(session: Session, row: VpsRow, at: datetime | None = None) -> None:
    """sync_ips for one VPS row as it is now."""
    holds = holds_ips(row.status, row.deleted_at)
    sync_ips(session, [(row.id, row.hostname, row.ip_addresses, holds)], at)


# ---------------------------------------------------------------- reading


def _vps_id(session: Session, ref: Any) -> uuid.UUID:
    """The VPS a timeline is asked for: live or in the trash; a purged one by its full id
    while it has a history."""
    from sigma.services.vps import find

    try:
        return find(session, ref, trashed=None).id
    except NotFound:
        try:
            vid = ref if isinstance(ref, uuid.UUID) else uuid.UUID(str(ref).strip())
        except ValueError:
            raise NotFound(f"vps '{ref}' not found", field="vps") from None
        if session.scalar(select(col(VpsHistory.id)).where(col(VpsHistory.vps_id) == vid).limit(1)):
            return vid
        raise


def timeline(
    session: Session, actor: Actor, ref: Any, f: HistoryFilter | dict | None = None
) -> Page[HistoryEvent]:
    """A VPS's events, newest first, one page, and how many match."""
    actor.require(READERS)
    f = f if isinstance(f, HistoryFilter) else validate(HistoryFilter, f or {})
    vid = _vps_id(session, ref)
    conds = [col(VpsHistory.vps_id) == vid]
    if f.since is not None:
        conds.append(col(VpsHistory.at) >= f.since)
    if f.kind:
        conds.append(col(VpsHistory.kind) == f.kind)
    total = session.scalar(select(func.count()).select_from(VpsHistory).where(*conds)) or 0
    rows = session.scalars(
        select(VpsHistory)
        .where(*conds)
        .order_by(col(VpsHistory.at).desc(), col(VpsHistory.id).desc())
        .offset((f.page - 1) * f.per_page)
        .limit(f.per_page)
    )
    return Page[HistoryEvent](
        data=[HistoryEvent.model_validate(r) for r in rows],
        total=total,
        page=f.page,
        per_page=f.per_page,
    )


def ip_history(session: Session, actor: Actor, q: IpHistoryQuery | dict) -> Page[IpHolding]:
    """Which VPS held the addresses of `q.ip` (an address, a CIDR or the start of one), from
    when until when, under which label: by address, each address's holders newest first.
    One range of idx_ip_assignments_key, read in its order (a page of a /16 stops after its
    rows; the count reads the index only)."""
    actor.require(READERS)
    q = q if isinstance(q, IpHistoryQuery) else validate(IpHistoryQuery, q)
    network = ip_query_network(q.ip)
    lo, hi = ip_key(network.network_address), ip_key(network.broadcast_address)
    a = IpAssignment
    conds = [col(a.ip_key) >= lo, col(a.ip_key) <= hi] if lo != hi else [col(a.ip_key) == lo]
    if q.until is not None:
        conds.append(col(a.since) <= q.until)
    if q.since is not None:
        conds.append(or_(col(a.until).is_(None), col(a.until) >= q.since))
    total = session.scalar(select(func.count()).select_from(a).where(*conds)) or 0
    rows = session.execute(
        select(a, col(VpsRow.status), col(VpsRow.deleted_at), col(VpsRow.id))
        .outerjoin(VpsRow, col(VpsRow.id) == a.vps_id)
        .where(*conds)
        .order_by(col(a.ip_key), col(a.since).desc(), col(a.id))
        .offset((q.page - 1) * q.per_page)
        .limit(q.per_page)
    )
    data = []
    for holding, status, deleted_at, exists in rows:
        state = "purged" if exists is None else "trashed" if deleted_at is not None else status
        data.append(
            IpHolding(
                ip=holding.ip,
                label=holding.label,
                vps_id=holding.vps_id,
                hostname=holding.hostname,
                since=holding.since,
                until=holding.until,
                vps_state=state,
            )
        )
    return Page[IpHolding](data=data, total=total, page=q.page, per_page=q.per_page)


def move(session: Session, other_id: Any, keep_id: Any, at: datetime) -> int:
    """A merge: OTHER's timeline and its holdings become KEEP's (each row keeps the hostname
    of its time; OTHER's open holdings end now). The number of events moved."""
    c = IpAssignment.__table__.c
    session.execute(
        update(IpAssignment.__table__)
        .where(and_(c.vps_id == other_id, c.until.is_(None)))
        .values(until=at)
    )
    session.execute(
        update(IpAssignment.__table__).where(c.vps_id == other_id).values(vps_id=keep_id)
    )
    h = VpsHistory.__table__.c
    moved = session.execute(
        update(VpsHistory.__table__).where(h.vps_id == other_id).values(vps_id=keep_id)
    )
    return int(getattr(moved, "rowcount", 0) or 0)
