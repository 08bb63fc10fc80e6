"""Agents: registration, heartbeats, and agent liveness (online/offline events).

Compared with the original (SEED_CONTRACT 2.8):
- registration never resurrects a retired VPS: when every VPS with that hostname is retired it
  is refused with Conflict (409) naming the way out; a live VPS with the same hostname is
  preferred over retired ones (hostnames are reused);
- IPs the agent reports keep the labels an operator set on the same IPs;
- a VPS that is `retiring` stays retiring (provisioning and suspended become active);
- registration writes one audit row (it creates or changes a VPS); heartbeats write none;
- a heartbeat for a hostname whose VPS are all retired is refused with 409 too.

The hot heartbeat path of `sigma serve` on PostgreSQL is server/heartbeats.py: same rules,
coalesced into one UPDATE per flush.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from sigma.db.models import Vps as VpsRow
from sigma.db.models import VpsEvent as VpsEventRow
from sigma.db.types import utcnow
from sigma.errors import Conflict, NotFound
from sigma.schemas import (
    AgentHeartbeat,
    AgentRegister,
    Vps,
    VpsEvent,
    last_heartbeat,
    validate,
)
from sigma.services import audit
from sigma.services.actor import READERS, Actor

AGENTS = ("admin", "operator", "agent")
EVENT_KINDS = ("agent-offline", "agent-online", "reachability")


def stamp(now: datetime) -> str:
    """RFC 3339 with +00:00, as the original writes extra.last_heartbeat."""
    return now.isoformat()


def retired_refusal(hostname: str, vps_id: Any) -> Conflict:
    return Conflict(
        f"VPS {hostname} ({vps_id}) is retired: the agent is refused so that it does not come "
        f"back to life. For a new machine with this hostname, add it first "
        f"(`sigma vps add {hostname}`); to revive the old one, set its status (`sigma vps edit "
        f"{vps_id} --status active`).",
        field="hostname",
    )


def unknown_host(hostname: str) -> NotFound:
    return NotFound(f"Not found: no VPS has hostname '{hostname}' (register first)", field="hostname")


def match(session: Session, hostname: str) -> VpsRow | None:
    """The VPS an agent with `hostname` is: a live one first (newest), else a retired one."""
    return session.scalars(
        select(VpsRow)
        .where(VpsRow.hostname == hostname)
        .order_by(case((VpsRow.status == "retired", 1), else_=0), VpsRow.created_at.desc())
        .limit(1)
    ).first()


def merged_ips(reported: list[dict[str, str]], current: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """The agent's IP list, with the operator's non-empty label kept for every known IP."""
    labels = {e.get("ip"): e.get("label", "") for e in current or [] if isinstance(e, dict)}
    return [{"ip": e["ip"], "label": labels.get(e["ip"]) or e.get("label", "")} for e in reported]


def _extra(extra: Any, system_info: Any, at: str) -> dict[str, Any]:
    base = dict(extra) if isinstance(extra, dict) else {}
    base["system_info"] = system_info
    base["last_heartbeat"] = at
    return base


def register(session: Session, actor: Actor, data: AgentRegister | dict) -> Vps:
    actor.require(AGENTS)
    data = data if isinstance(data, AgentRegister) else validate(AgentRegister, data)
    at = stamp(utcnow())
    reported = [e.model_dump() for e in data.ip_addresses]
    row = match(session, data.hostname)
    if row is not None and row.status == "retired":
        raise retired_refusal(row.hostname, row.id)
    if row is None:
        row = VpsRow(
            hostname=data.hostname, alias=data.alias, provider_id=None, ip_addresses=reported,
            ssh_port=data.ssh_port, status="active", currency="USD", monitoring_enabled=True,
            node_exporter_port=9100, extra={"system_info": data.system_info, "last_heartbeat": at},
        )
        session.add(row)
        session.flush()
        audit.record(session, actor, "register", "vps", row.id,
                     {"hostname": row.hostname, "created": True, "ip_addresses": reported})
        return Vps.model_validate(row)
    before = Vps.model_validate(row)
    if data.alias:
        row.alias = data.alias
    row.ip_addresses = merged_ips(reported, row.ip_addresses)
    row.ssh_port = data.ssh_port
    row.extra = _extra(row.extra, data.system_info, at)
    if row.status in ("provisioning", "suspended"):
        row.status = "active"
    session.flush()
    after = Vps.model_validate(row)
    audit.record(session, actor, "register", "vps", row.id,
                 {"hostname": row.hostname, "changes": audit.diff(before, after, skip={"extra", "online"})})
    return after


def heartbeat(session: Session, actor: Actor, data: AgentHeartbeat | dict) -> Vps:
    """The simple (SQLite / in-process) heartbeat: only extra.system_info and
    extra.last_heartbeat change; no audit row, no version bump, updated_at kept."""
    actor.require(AGENTS)
    data = data if isinstance(data, AgentHeartbeat) else validate(AgentHeartbeat, data)
    row = match(session, data.hostname)
    if row is None:
        raise unknown_host(data.hostname)
    if row.status == "retired":
        raise retired_refusal(row.hostname, row.id)
    extra = _extra(row.extra, data.system_info, stamp(utcnow()))
    session.execute(
        update(VpsRow).where(VpsRow.id == row.id).values(extra=extra, updated_at=VpsRow.updated_at),
        execution_options={"synchronize_session": False},
    )
    set_committed_value(row, "extra", extra)
    return Vps.model_validate(row)


# ---------------------------------------------------------------- liveness


def detect_offline(session: Session, threshold: int, now: datetime | None = None) -> list[VpsEvent]:
    """Record `agent-offline` once for each active VPS whose agent fell silent for longer
    than `threshold` seconds, and `agent-online` once when it reports again."""
    now = now or utcnow()
    seen = VpsRow.extra["last_heartbeat"].as_string()
    rows = session.execute(select(VpsRow.id, VpsRow.hostname, seen).where(VpsRow.status == "active")).all()
    beats = {r[0]: (r[1], last_heartbeat({"last_heartbeat": r[2]})) for r in rows if r[2]}
    if not beats:
        return []
    latest: dict[Any, tuple[str, datetime]] = {}
    q = (
        select(VpsEventRow.vps_id, VpsEventRow.kind, func.max(VpsEventRow.created_at))
        .where(VpsEventRow.kind.in_(("agent-offline", "agent-online")))
        .group_by(VpsEventRow.vps_id, VpsEventRow.kind)
    )
    for vps_id, kind, at in session.execute(q):
        if vps_id in beats and (vps_id not in latest or at > latest[vps_id][1]):
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            latest[vps_id] = (kind, at)
    created: list[VpsEventRow] = []
    limit = timedelta(seconds=threshold)
    for vps_id, (hostname, beat) in beats.items():
        if beat is None:
            continue
        last = latest.get(vps_id)
        if now - beat >= limit:
            if last and last[0] == "agent-offline" and last[1] >= beat:
                continue  # this silence is already recorded
            created.append(VpsEventRow(vps_id=vps_id, kind="agent-offline", created_at=now, details={
                "hostname": hostname, "last_heartbeat": beat.isoformat(), "offline_after": threshold,
            }))
        elif last and last[0] == "agent-offline" and beat > last[1]:
            created.append(VpsEventRow(vps_id=vps_id, kind="agent-online", created_at=now, details={
                "hostname": hostname, "last_heartbeat": beat.isoformat(),
                "offline_for_seconds": int((beat - last[1]).total_seconds()),
            }))
    session.add_all(created)
    session.flush()
    return [VpsEvent.model_validate(e) for e in created]


def record_event(session: Session, vps_id: Any, kind: str, details: dict[str, Any]) -> None:
    session.add(VpsEventRow(vps_id=vps_id, kind=kind, details=details, created_at=utcnow()))


def list_events(
    session: Session, actor: Actor, vps_ref: Any = None, kind: str | None = None, limit: int = 50
) -> list[VpsEvent]:
    """Newest first: agent offline/online and reachability verdict changes."""
    actor.require(READERS)
    from sigma.errors import InvalidInput
    from sigma.services.vps import find

    q = select(VpsEventRow, VpsRow.hostname).join(VpsRow, VpsRow.id == VpsEventRow.vps_id)
    if vps_ref:
        q = q.where(VpsEventRow.vps_id == find(session, vps_ref).id)
    if kind:
        if kind not in EVENT_KINDS:
            raise InvalidInput(f"kind: unknown event kind '{kind}'; expected one of: {', '.join(EVENT_KINDS)}",
                               field="kind")
        q = q.where(VpsEventRow.kind == kind)
    q = q.order_by(VpsEventRow.created_at.desc()).limit(min(max(limit, 1), 1000))
    out = []
    for ev, hostname in session.execute(q):
        item = VpsEvent.model_validate(ev)
        item.hostname = hostname
        out.append(item)
    return out


def offline_job(sessions: Any, settings: Any) -> None:
    """Body of the `agent-offline` job in `sigma serve` (registered in server/jobs.py)."""
    import logging

    from sigma.db.engine import unit_of_work

    with unit_of_work(sessions) as session:
        for ev in detect_offline(session, settings.offline_threshold):
            logging.getLogger("sigma.jobs").warning(
                "VPS %s: %s (%s)", ev.details.get("hostname"), ev.kind, ev.details.get("last_heartbeat"))
