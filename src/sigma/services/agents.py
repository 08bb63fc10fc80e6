"""Agents: registration, heartbeats, each agent's binding to its own VPS, and agent
liveness (online/offline events).

Who may speak for which VPS (the trust model, docs/SECURITY.md):
- an admin, an operator or the legacy shared key may register and heartbeat any VPS, by
  hostname (the original system's behaviour, for its clients);
- an agent's API key speaks for one VPS only. It is bound to it by `sigma agent provision`
  or by its first registration, which claims the VPS of that hostname when no other live
  key holds it (or creates it). A bound key registers and heartbeats its own VPS and nothing
  else; every refusal is audited. `sigma agent release` frees a VPS for a new key.

Compared with the original (its contract, section 2.8):
- registration never resurrects a retired VPS: when every VPS with that hostname is retired it
  is refused with Conflict (409) naming the way out; a live VPS with the same hostname is
  preferred over retired ones (hostnames are reused);
- IPs the agent reports keep the labels an operator set on the same IPs;
- a VPS that is `retiring` stays retiring (provisioning and suspended become active);
- registration writes one audit row (it creates or changes a VPS); heartbeats write none;
- a heartbeat for a hostname whose VPS are all retired is refused with 409 too.

Heartbeats of `sigma serve` on PostgreSQL are written in batches by HEARTBEAT_BATCH_SQL, which
applies these rules to a whole batch in one statement; a heartbeat the statement does not
take (unknown host, refused, retired, or a statement that failed) goes through heartbeat()
alone, which gives its precise answer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, case, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.identity import ApiKey as ApiKeyRow
from sigma.db.models.monitoring import VpsEvent as VpsEventRow
from sigma.db.types import utcnow
from sigma.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied
from sigma.schemas.common import validate
from sigma.schemas.inventory import Vps
from sigma.schemas.monitoring import AgentHeartbeat, AgentRegister, VpsEvent
from sigma.services import audit, auth, history, traffic
from sigma.services.actor import AGENTS, READERS, WRITERS, Actor
from sigma.services.vps import out as vps_out
from sigma.vocab import last_heartbeat

if TYPE_CHECKING:
    from sigma.schemas.identity import ApiKeyCreated

EVENT_KINDS = ("agent-offline", "agent-online", "reachability", "reach-alert", "reach-recovered")


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
    return NotFound(
        f"Not found: no VPS has hostname '{hostname}' (register first)", field="hostname"
    )


def match(session: Session, hostname: str) -> VpsRow | None:
    """The VPS an agent with `hostname` is, host names compared without case (RFC 1123: `HK-0`
    is `hk-0`, so no key can claim a look-alike): a live one first, the exact spelling first,
    the newest first; else a retired one."""
    return session.scalars(
        select(VpsRow)
        .where(func.lower(VpsRow.hostname) == hostname.lower(), col(VpsRow.deleted_at).is_(None))
        .order_by(
            case((col(VpsRow.status) == "retired", 1), else_=0),
            case((col(VpsRow.hostname) == hostname, 0), else_=1),
            col(VpsRow.created_at).desc(),
        )
        .limit(1)
    ).first()


def merged_ips(
    reported: list[dict[str, str]], current: list[dict[str, Any]] | None
) -> list[dict[str, str]]:
    """The agent's IP list, with the operator's non-empty label kept for every known IP."""
    labels = {e.get("ip"): e.get("label", "") for e in current or [] if isinstance(e, dict)}
    return [{"ip": e["ip"], "label": labels.get(e["ip"]) or e.get("label", "")} for e in reported]


def _extra(extra: Any, system_info: Any, at: str) -> dict[str, Any]:
    base = dict(extra) if isinstance(extra, dict) else {}
    base["system_info"] = system_info
    base["last_heartbeat"] = at
    return base


# ---------------------------------------------------------------- which VPS an agent may touch


def _refused(
    actor: Actor, action: str, hostname: str, reason: str, vps_id: Any = None
) -> PermissionDenied:
    """A refusal that is audited although its transaction rolls back (unit_of_work writes
    the row on its own)."""
    return PermissionDenied(
        f"Forbidden: {reason}",
        field="hostname",
        audit=audit.refusal(
            actor,
            f"agent-{action}-refused",
            "vps",
            vps_id,
            {"hostname": hostname, "reason": reason},
        ),
    )


def _agent_key(session: Session, actor: Actor) -> ApiKeyRow | None:
    """The key row of an agent principal, locked for this transaction (its binding may
    change here); None for a principal trusted with the whole fleet."""
    if actor.trusted_for_fleet:
        return None
    actor.require(AGENTS)
    if actor.api_key_id is None:
        raise PermissionDenied(
            "Forbidden: an agent authenticates with its own API key "
            "(`sigma agent provision VPS` creates one)"
        )
    key = session.scalars(
        select(ApiKeyRow).where(col(ApiKeyRow.id) == actor.api_key_id).with_for_update()
    ).first()
    if key is None:
        raise NotAuthenticated("Unauthorized")
    return key


def _live_keys(vps_id: Any, now: datetime) -> Select[uuid.UUID]:
    return select(col(ApiKeyRow.id)).where(
        col(ApiKeyRow.vps_id) == vps_id,
        col(ApiKeyRow.revoked_at).is_(None),
        or_(col(ApiKeyRow.expires_at).is_(None), col(ApiKeyRow.expires_at) > now),
    )


def _bound_vps(
    session: Session, actor: Actor, key: ApiKeyRow, hostname: str, action: str
) -> VpsRow:
    row = session.get(VpsRow, key.vps_id)
    if row is None:  # deleting a VPS unbinds its keys: a race at most
        raise NotAuthenticated("Unauthorized")
    if row.deleted_at is not None:  # in the trash: as unknown as a deleted VPS
        raise unknown_host(hostname)
    if row.hostname.lower() != hostname.lower():
        raise _refused(
            actor,
            action,
            hostname,
            f"this agent key belongs to VPS {row.hostname} ({row.id}); it cannot speak for "
            f"'{hostname}'. If the machine was renamed, an operator releases it first "
            f"(`sigma agent release {row.hostname}`)",
            vps_id=row.id,
        )
    return row


def _claim(session: Session, actor: Actor, key: ApiKeyRow, row: VpsRow) -> None:
    """Bind `key` to `row` unless another live key holds it."""
    session.scalars(
        select(col(VpsRow.id)).where(col(VpsRow.id) == row.id).with_for_update()
    ).first()
    holder = session.scalars(
        _live_keys(row.id, utcnow()).where(col(ApiKeyRow.id) != key.id).limit(1)
    ).first()
    if holder is not None:
        raise _refused(
            actor,
            "register",
            row.hostname,
            f"VPS {row.hostname} ({row.id}) is claimed by another agent key; an operator "
            f"releases it first (`sigma agent release {row.hostname}`)",
            vps_id=row.id,
        )
    key.vps_id = row.id


# ---------------------------------------------------------------- register and heartbeat


def register(session: Session, actor: Actor, data: AgentRegister | dict) -> Vps:
    actor.require(AGENTS)
    data = data if isinstance(data, AgentRegister) else validate(AgentRegister, data)
    at = stamp(utcnow())
    reported = [e.model_dump() for e in data.ip_addresses]
    key = _agent_key(session, actor)
    claimed = False
    if key is not None and key.vps_id is not None:
        row: VpsRow | None = _bound_vps(session, actor, key, data.hostname, "register")
    else:
        row = match(session, data.hostname)
    if row is not None and row.status == "retired":
        raise retired_refusal(row.hostname, row.id)
    if row is None:
        row = VpsRow(
            hostname=data.hostname,
            alias=data.alias,
            provider_id=None,
            ip_addresses=reported,
            ssh_port=data.ssh_port,
            status="active",
            currency="USD",
            monitoring_enabled=True,
            node_exporter_port=9100,
            extra={"system_info": data.system_info, "last_heartbeat": at},
        )
        session.add(row)
        session.flush()
        if key is not None:
            key.vps_id = row.id
            session.flush()
        audit.record(
            session,
            actor,
            "register",
            "vps",
            row.id,
            {
                "hostname": row.hostname,
                "created": True,
                "ip_addresses": reported,
                **({"claimed_by_key": str(key.id)} if key is not None else {}),
            },
        )
        created = vps_out(session, row)
        from sigma.services.vps import created_details

        first = created_details(created)
        history.record(session, row.id, "created", "agent", actor, first, hostname=row.hostname)
        history.sync_row(session, row)
        return created
    if key is not None and key.vps_id is None:
        _claim(session, actor, key, row)
        claimed = True
    before = vps_out(session, row)
    if data.alias:
        row.alias = data.alias
    row.ip_addresses = merged_ips(reported, row.ip_addresses)
    row.ssh_port = data.ssh_port
    row.extra = _extra(row.extra, data.system_info, at)
    if row.status in ("provisioning", "suspended"):
        row.status = "active"
    session.flush()
    after = vps_out(session, row)
    details: dict[str, Any] = {
        "hostname": row.hostname,
        "changes": audit.diff(before, after, skip={"extra", "online"}),
    }
    if claimed and key is not None:
        details["claimed_by_key"] = str(key.id)
    audit.record(session, actor, "register", "vps", row.id, details)
    history.record_change(
        session, before.model_dump(mode="json"), after.model_dump(mode="json"), "agent", actor
    )
    if details["changes"].keys() & {"ip_addresses", "status"}:
        history.sync_row(session, row)
    return after


def heartbeat(session: Session, actor: Actor, data: AgentHeartbeat | dict) -> Vps:
    """One heartbeat: only extra.system_info and extra.last_heartbeat change; no audit row,
    no version bump, updated_at kept. The ORM form of HEARTBEAT_BATCH_SQL, with every
    refusal's precise answer."""
    actor.require(AGENTS)
    data = data if isinstance(data, AgentHeartbeat) else validate(AgentHeartbeat, data)
    if not auth.still_valid(session, actor):  # the caller's actor may be cached
        raise NotAuthenticated("Unauthorized")
    key = _agent_key(session, actor)
    if key is not None:
        if key.vps_id is None:
            # a key not bound (new, released, or its VPS deleted): the agent must register,
            # which claims the VPS. A 404 is what makes an agent register (contract 2.8).
            row = match(session, data.hostname)
            if row is not None and session.scalars(_live_keys(row.id, utcnow()).limit(1)).first():
                raise _refused(
                    actor,
                    "heartbeat",
                    data.hostname,
                    f"VPS {row.hostname} ({row.id}) belongs to another agent key",
                )
            raise NotFound(
                f"Not found: this agent key has not registered '{data.hostname}' yet "
                "(register first)",
                field="hostname",
            )
        row = _bound_vps(session, actor, key, data.hostname, "heartbeat")
    else:
        row = match(session, data.hostname)
    if row is None:
        raise unknown_host(data.hostname)
    if row.status == "retired":
        raise retired_refusal(row.hostname, row.id)
    values: dict[str, Any] = {"updated_at": VpsRow.updated_at}
    ips = _reported_ips(session, actor, row, data)
    if ips is not None:  # the addresses changed: a change of the VPS (version, updated_at)
        values.update(ip_addresses=ips, updated_at=utcnow(), version=row.version + 1)
    values["extra"] = _extra(row.extra, data.system_info, stamp(utcnow()))
    session.execute(
        update(VpsRow).where(col(VpsRow.id) == row.id).values(**values),
        execution_options={"synchronize_session": False},
    )
    set_committed_value(row, "extra", values["extra"])
    if ips is not None:
        for name in ("ip_addresses", "version", "updated_at"):
            set_committed_value(row, name, values[name])
        history.sync_row(session, row)
    if data.traffic is not None:  # the interface counters: this period's usage (traffic)
        traffic.record(session, row, data.traffic.rx_bytes, data.traffic.tx_bytes)
    return vps_out(session, row)


def ip_set(ips: Any) -> frozenset[str]:
    return frozenset(history.ip_map(ips))


def _reported_ips(
    session: Session, actor: Actor, row: VpsRow, data: AgentHeartbeat
) -> list[dict[str, str]] | None:
    """The VPS's new IP list when the heartbeat reports another set of addresses than the
    stored one (the operator's labels kept, merged_ips), with their events recorded; None
    when nothing changed. The row is locked and read again first: of two heartbeats racing,
    the second sees the first's addresses."""
    if data.ip_addresses is None:
        return None
    reported = [e.model_dump() for e in data.ip_addresses]
    if ip_set(reported) == ip_set(row.ip_addresses):
        return None
    session.execute(
        select(VpsRow)
        .where(col(VpsRow.id) == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if ip_set(reported) == ip_set(row.ip_addresses):
        return None
    ips = merged_ips(reported, row.ip_addresses)
    history.record_ip_changes(session, row.id, row.hostname, row.ip_addresses, ips, "agent", actor)
    return ips


# One statement for a batch of heartbeats on PostgreSQL, with the rules of heartbeat() and
# of authentication (auth.authenticate, auth.still_valid): each credential is checked as it is
# now (an API key found by its hash, not revoked or expired, not read-only; its user active,
# without a pending password change; a session's epoch current), a fleet-wide principal
# (admin, operator, the legacy key) picks the VPS by hostname, the live one first, an agent's
# key only its bound VPS under its own hostname; a retired VPS is never touched, and several
# heartbeats for one VPS in a batch leave the latest. A key's last_used_at is kept at minute
# resolution, as by authenticate(). RETURNING gives each updated row with the batch positions
# (n) it answers; a position without a row goes through heartbeat() alone. The heartbeats that
# carry interface counters also account their VPS's traffic for the billing period and record
# the quota thresholds crossed (services.traffic.batch_sql: the rules of traffic.record).
HEARTBEAT_BATCH_SQL = """
WITH u AS (
    SELECT * FROM ROWS FROM (jsonb_to_recordset(%(batch)s::jsonb)
        AS (h text, si jsonb, kh text, usr uuid, ep int, legacy boolean, ips jsonb,
            rx bigint, tx bigint))
        WITH ORDINALITY AS u(h, si, kh, usr, ep, legacy, ips, rx, tx, n)
), who AS (
    SELECT u.n, u.h, u.si, u.ips, u.rx, u.tx, kr.id AS key_id, kr.vps_id AS bound,
        CASE WHEN u.legacy THEN 'fleet'
             WHEN ur.active AND NOT ur.force_password_change AND (
                 (u.kh IS NOT NULL AND kr.revoked_at IS NULL AND NOT kr.read_only
                  AND (kr.expires_at IS NULL OR kr.expires_at > %(now)s))
                 OR (u.kh IS NULL AND ur.session_epoch = u.ep))
             THEN CASE WHEN ur.role IN ('admin', 'operator') THEN 'fleet'
                       WHEN ur.role = 'agent' AND u.kh IS NOT NULL THEN 'agent' END
        END AS scope
    -- one index lookup per heartbeat: LATERAL ... LIMIT 1 is not flattened into a hash join,
    -- which would read every key of the fleet for each batch
    FROM u
    LEFT JOIN LATERAL (SELECT * FROM api_keys WHERE api_keys.key_hash = u.kh LIMIT 1) kr ON true
    LEFT JOIN LATERAL (
        SELECT * FROM users WHERE users.id = coalesce(kr.user_id, u.usr) LIMIT 1
    ) ur ON true
), pick AS (
    SELECT DISTINCT ON (c.n) c.n, c.si, c.ips, c.cur, c.id, c.status, c.key_id,
        c.rx, c.tx, c.rd, c.quota, c.dir, c.host FROM (
        SELECT w.n, w.si, w.ips, w.key_id, v.id, v.status, v.created_at, v.ip_addresses AS cur,
            w.rx, w.tx, v.traffic_reset_day AS rd, v.traffic_quota_gb AS quota,
            v.traffic_direction AS dir, v.hostname AS host
        FROM who w JOIN vps v ON v.hostname = w.h
        WHERE w.scope = 'fleet' AND v.deleted_at IS NULL
        UNION ALL
        SELECT w.n, w.si, w.ips, w.key_id, v.id, v.status, v.created_at, v.ip_addresses AS cur,
            w.rx, w.tx, v.traffic_reset_day AS rd, v.traffic_quota_gb AS quota,
            v.traffic_direction AS dir, v.hostname AS host
        FROM who w JOIN vps v ON v.id = w.bound
        WHERE w.scope = 'agent' AND lower(v.hostname) = lower(w.h) AND v.deleted_at IS NULL
    ) c ORDER BY c.n, (c.status = 'retired'), c.created_at DESC
), moved AS (
    -- a VPS whose agent reports another set of addresses: heartbeat() takes all of its
    -- heartbeats of this batch, in order, and records the change in the timeline
    SELECT DISTINCT p.id FROM pick p
    WHERE p.ips IS NOT NULL AND p.status <> 'retired'
      AND ARRAY(SELECT DISTINCT x FROM jsonb_array_elements_text(p.ips) x ORDER BY 1)
          IS DISTINCT FROM ARRAY(
              SELECT DISTINCT e->>'ip' FROM jsonb_array_elements(
                  CASE WHEN jsonb_typeof(p.cur) = 'array' THEN p.cur ELSE '[]'::jsonb END) e
              ORDER BY 1)
), latest AS (
    SELECT DISTINCT ON (p.id) p.id, p.si FROM pick p
    WHERE p.status <> 'retired' AND p.id NOT IN (SELECT id FROM moved)
    ORDER BY p.id, p.n DESC
), used AS (
    UPDATE api_keys SET last_used_at = %(now)s
    FROM pick p
    WHERE api_keys.id = p.key_id AND p.status <> 'retired'
      AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < %(now)s - interval '1 minute')
)/* the traffic CTEs: services.traffic.batch_sql() */
UPDATE vps SET extra =
    (CASE WHEN jsonb_typeof(vps.extra) = 'object' THEN vps.extra ELSE '{}'::jsonb END)
    || jsonb_build_object('system_info', latest.si, 'last_heartbeat', %(at)s::text)
FROM latest
WHERE vps.id = latest.id
RETURNING vps.*, (SELECT array_agg(p.n) FROM pick p WHERE p.id = vps.id) AS batch_positions
""".replace("/* the traffic CTEs: services.traffic.batch_sql() */", traffic.batch_sql())


def heartbeat_batch_params(
    items: list[tuple[Any, AgentHeartbeat]], now: datetime
) -> dict[str, Any]:
    """The parameters of HEARTBEAT_BATCH_SQL for (auth.HeartbeatCredential, heartbeat) pairs."""
    import orjson

    def entry(cred: Any, hb: AgentHeartbeat) -> dict[str, Any]:
        return {
            "h": hb.hostname,
            "si": hb.system_info,
            "kh": cred.key_hash,
            "usr": str(cred.user_id) if cred.user_id else None,
            "ep": cred.epoch,
            "legacy": cred.legacy,
            "ips": None if hb.ip_addresses is None else [e.ip for e in hb.ip_addresses],
            "rx": hb.traffic.rx_bytes if hb.traffic is not None else None,
            "tx": hb.traffic.tx_bytes if hb.traffic is not None else None,
        }

    # one JSON parameter: psycopg's text[] adaptation escapes element by element
    return {
        "batch": orjson.dumps([entry(c, h) for c, h in items]).decode(),
        "at": stamp(now),
        "now": now,
        **traffic.batch_params(now),
    }


# ---------------------------------------------------------------- provisioning and release

AGENT_USER = "agents@sigma.local"


def provision(
    session: Session, actor: Actor, vps_ref: Any, name: str | None = None
) -> ApiKeyCreated:
    """A new API key bound to one VPS, for its agent (shown once). Earlier keys of that VPS
    keep working until released or revoked."""
    from sigma.schemas.identity import ApiKeyCreate
    from sigma.services.vps import find

    actor.require(WRITERS)
    row = find(session, vps_ref)
    if row.status == "retired":
        raise retired_refusal(row.hostname, row.id)
    owner = auth.service_user(session, AGENT_USER, "agent")
    data = validate(ApiKeyCreate, {"name": name or f"agent {row.hostname}"})
    return auth.issue_key(
        session,
        actor,
        owner,
        data,
        vps_id=row.id,
        details={"vps": row.hostname, "vps_id": str(row.id)},
    )


def bound_keys(session: Session, actor: Actor, vps_ref: Any) -> list[Any]:
    """The agent keys bound to a VPS (revoked ones included, newest first)."""
    from sigma.schemas.identity import ApiKey
    from sigma.services.vps import find

    actor.require(WRITERS)
    row = find(session, vps_ref)
    q = (
        select(ApiKeyRow)
        .where(col(ApiKeyRow.vps_id) == row.id)
        .order_by(col(ApiKeyRow.created_at).desc())
    )
    return [ApiKey.model_validate(k) for k in session.scalars(q)]


def release(session: Session, actor: Actor, vps_ref: Any, revoke: bool = False) -> int:
    """Free a VPS from the agent keys bound to it (or revoke them): its next registering key
    claims it. The number of keys released."""
    from sigma.services.vps import find

    actor.require(WRITERS)
    row = find(session, vps_ref)
    keys = list(session.scalars(select(ApiKeyRow).where(col(ApiKeyRow.vps_id) == row.id)))
    now = utcnow()
    for key in keys:
        key.vps_id = None
        if revoke and key.revoked_at is None:
            key.revoked_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "agent-release",
        "vps",
        row.id,
        {"hostname": row.hostname, "keys": [str(k.id) for k in keys], "revoked": revoke},
    )
    return len(keys)


# ---------------------------------------------------------------- liveness


def detect_offline(session: Session, threshold: int, now: datetime | None = None) -> list[VpsEvent]:
    """Record `agent-offline` once for each active VPS whose agent fell silent for longer
    than `threshold` seconds, and `agent-online` once when it reports again."""
    now = now or utcnow()
    seen = VpsRow.extra["last_heartbeat"].as_string()
    rows = session.execute(
        select(col(VpsRow.id), col(VpsRow.hostname), seen).where(
            col(VpsRow.status) == "active", col(VpsRow.deleted_at).is_(None)
        )
    ).all()
    beats = {r[0]: (r[1], last_heartbeat({"last_heartbeat": r[2]})) for r in rows if r[2]}
    if not beats:
        return []
    latest: dict[Any, tuple[str, datetime]] = {}
    q = (
        select(col(VpsEventRow.vps_id), col(VpsEventRow.kind), func.max(VpsEventRow.created_at))
        .where(col(VpsEventRow.kind).in_(("agent-offline", "agent-online")))
        .group_by(col(VpsEventRow.vps_id), col(VpsEventRow.kind))
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
            created.append(
                VpsEventRow(
                    vps_id=vps_id,
                    kind="agent-offline",
                    created_at=now,
                    details={
                        "hostname": hostname,
                        "last_heartbeat": beat.isoformat(),
                        "offline_after": threshold,
                    },
                )
            )
        elif last and last[0] == "agent-offline" and beat > last[1]:
            created.append(
                VpsEventRow(
                    vps_id=vps_id,
                    kind="agent-online",
                    created_at=now,
                    details={
                        "hostname": hostname,
                        "last_heartbeat": beat.isoformat(),
                        "offline_for_seconds": int((beat - last[1]).total_seconds()),
                    },
                )
            )
    session.add_all(created)
    for e in created:
        host = e.details["hostname"]
        history.record(session, e.vps_id, e.kind, "agent", None, e.details, hostname=host, at=now)
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

    q = (
        select(VpsEventRow, col(VpsRow.hostname))
        .join(VpsRow, col(VpsRow.id) == VpsEventRow.vps_id)
        .where(col(VpsRow.deleted_at).is_(None))
    )
    if vps_ref:
        q = q.where(col(VpsEventRow.vps_id) == find(session, vps_ref).id)
    if kind:
        if kind not in EVENT_KINDS:
            raise InvalidInput(
                f"kind: unknown event kind '{kind}'; expected one of: {', '.join(EVENT_KINDS)}",
                field="kind",
            )
        q = q.where(col(VpsEventRow.kind) == kind)
    q = q.order_by(col(VpsEventRow.created_at).desc()).limit(min(max(limit, 1), 1000))
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
                "VPS %s: %s (%s)",
                ev.details.get("hostname"),
                ev.kind,
                ev.details.get("last_heartbeat"),
            )
