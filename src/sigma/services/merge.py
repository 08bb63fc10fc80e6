"""Duplicates and merge: two records of one machine (added twice, imported beside an agent's
registration, a provider sync) found by what they share, and made one.

- `duplicates`: pairs of VPS in service (not retired, not in the trash) sharing a public
  address (any label but `internal`), the same hostname without case, or the same
  `extra.provider_instance_id`, each pair with every reason.
- `merge(KEEP, OTHER)`: in one transaction, OTHER's addresses, tags, extra keys, empty
  fields of KEEP, tickets, IP checks, reachability verdicts, events, timeline, IP history and
  agent key bindings go to KEEP, and OTHER is deleted. A field both hold with different values
  keeps KEEP's and is listed as a conflict (notes are joined). `dry_run` computes the same
  result and writes nothing.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from sqlalchemy import func, select, union, update
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.core import Vps as VpsRow
from sigma.db.types import utcnow
from sigma.errors import Conflict, InvalidInput, NotFound
from sigma.schemas.common import Page, clamp_page, validate
from sigma.schemas.history import (
    DuplicatePair,
    DuplicateReason,
    MergeConflict,
    MergeRequest,
    MergeResult,
    VpsBrief,
)
from sigma.schemas.inventory import Vps, VpsCreate
from sigma.services import audit, history
from sigma.services.actor import READERS, WRITERS, Actor
from sigma.services.vps import LIVE_STATUSES, find, out

INSTANCE_KEY = "provider_instance_id"
# extra keys an agent keeps current: the newer heartbeat's win, never a conflict
AGENT_KEYS = ("system_info", "last_heartbeat")
# what a merge never copies from OTHER: identity and bookkeeping
NOT_MERGED = {"hostname", "ip_addresses", "tags", "extra", "notes"}


def _brief(row: Any) -> VpsBrief:
    return VpsBrief(id=row.id, hostname=row.hostname, status=row.status, created_at=row.created_at)


def duplicates(
    session: Session, actor: Actor, page: int = 1, per_page: int = 25
) -> Page[DuplicatePair]:
    """The pairs of VPS in service that look like one machine, ordered by the first one's
    hostname; each with its reasons (ip, hostname, provider_instance_id)."""
    actor.require(READERS)
    try:
        page, per_page = clamp_page(page, per_page)
    except ValueError as exc:
        raise InvalidInput(f"page: {exc}", field="page") from None
    ordered = pairs(session)
    start = (page - 1) * per_page
    data = [
        DuplicatePair(
            a=VpsBrief(id=a[0], hostname=a[1], status=a[2], created_at=a[3]),
            b=VpsBrief(id=b[0], hostname=b[1], status=b[2], created_at=b[3]),
            reasons=reasons,
        )
        for a, b, reasons in ordered[start : start + per_page]
    ]
    return Page[DuplicatePair](data=data, total=len(ordered), page=page, per_page=per_page)


def _candidates(session: Session) -> Any:
    """The ids of the VPS that share a host name (without case) or a provider instance id with
    another VPS in service, or an address held now: a superset of the duplicates, found
    among the VPS in service (the status index: a fleet's retired VPS are most of it) and in
    the addresses held (idx_ip_assignments_held), without reading every VPS."""
    from sigma.db.models.history import IpAssignment
    from sigma.services.json_sql import json_has_key

    lower = func.lower(col(VpsRow.hostname))
    instance = VpsRow.extra[INSTANCE_KEY].as_string()
    held = IpAssignment.__table__.c
    # by status alone (a status index; the trash is left to the caller's rows): the VPS in
    # the trash make a few more candidates, not fewer duplicates
    live = col(VpsRow.status).in_(LIVE_STATUSES)
    names = select(lower).where(live).group_by(lower).having(func.count() > 1)
    has_instance = json_has_key(session, VpsRow.extra, INSTANCE_KEY)  # most VPS have none
    instances = (
        select(instance)
        .where(live, has_instance, instance.is_not(None))
        .group_by(instance)
        .having(func.count() > 1)
    )
    shared = select(held.ip).where(held.until.is_(None)).group_by(held.ip).having(func.count() > 1)
    return union(
        select(col(VpsRow.id)).where(live, lower.in_(names)),
        select(col(VpsRow.id)).where(live, has_instance, instance.in_(instances)),
        select(held.vps_id).where(held.until.is_(None), held.ip.in_(shared)),
    )


def pairs(session: Session) -> list[tuple[Any, Any, list[DuplicateReason]]]:
    """Every pair of VPS in service that look like one machine, as (a, b, reasons) ordered by
    a's hostname, each side a row (id, hostname, status, created_at, ...) and the reasons
    sorted: the rule of `duplicates`, also read by services.attention (no actor: the caller
    has checked its own). The VPS compared are the candidates the indexes give."""
    instance = VpsRow.extra[INSTANCE_KEY].as_string()
    # the candidates' ids first: a list of ids is read by primary key (a subquery there made
    # SQLite walk the trash index over every VPS)
    ids = list(session.scalars(_candidates(session)))
    rows: list[Any] = []
    for i in range(0, len(ids), 1000):
        rows += session.execute(
            select(
                col(VpsRow.id),
                col(VpsRow.hostname),
                col(VpsRow.status),
                col(VpsRow.created_at),
                col(VpsRow.ip_addresses),
                instance,
                col(VpsRow.deleted_at),
            ).where(col(VpsRow.id).in_(ids[i : i + 1000]))
        ).all()
    rows = [r for r in rows if r.status in LIVE_STATUSES and r.deleted_at is None]
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        groups.setdefault(("hostname", r[1].lower()), []).append(r)
        if r[5]:
            groups.setdefault((INSTANCE_KEY, str(r[5])), []).append(r)
        for ip, label in history.ip_map(r[4]).items():
            if label != "internal":
                groups.setdefault(("ip", ip), []).append(r)
    found: dict[tuple[Any, Any], tuple[Any, Any, list[DuplicateReason]]] = {}
    for (reason, value), members in groups.items():
        if len(members) < 2:
            continue
        members = sorted({m[0]: m for m in members}.values(), key=lambda m: (m[1], str(m[0])))
        shown = members[0][1] if reason == "hostname" else value
        for a, b in combinations(members, 2):
            entry = found.setdefault((a[0], b[0]), (a, b, []))
            entry[2].append(DuplicateReason(reason=reason, value=shown))
    ordered = sorted(found.values(), key=lambda p: (p[0][1], str(p[0][0]), p[1][1], str(p[1][0])))
    return [(a, b, sorted(reasons, key=lambda r: (r.reason, r.value))) for a, b, reasons in ordered]


# ---------------------------------------------------------------- merge


def _side(session: Session, ref: str, field: str) -> VpsRow:
    try:
        row = find(session, ref, trashed=None)
    except NotFound as exc:
        raise NotFound(f"{field}: {exc.message}", field=field) from None
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc.message}", field=field) from None
    if row.deleted_at is not None:
        raise Conflict(
            f"{field}: VPS {row.hostname} ({row.id}) is in the trash; restore it first "
            f"(`sigma vps restore {row.id}`)",
            field=field,
        )
    return row


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def plan(keep: Vps, other: Vps) -> tuple[dict[str, Any], list[str], list[MergeConflict]]:
    """KEEP's changed fields after taking OTHER in, the fields filled from OTHER, and the
    conflicts (KEEP's value kept, or both texts joined)."""
    k, o = keep.model_dump(mode="json"), other.model_dump(mode="json")
    changes: dict[str, Any] = {}
    filled: list[str] = []
    conflicts: list[MergeConflict] = []
    defaults = {n: f.default for n, f in VpsCreate.model_fields.items()}
    for name in VpsCreate.model_fields:
        if name in NOT_MERGED:
            continue
        kv, ov = k.get(name), o.get(name)
        if kv == ov or _empty(ov):
            continue
        if isinstance(kv, bool) or (ov == defaults.get(name) and not _empty(kv)):
            # a flag is never "empty"; OTHER's default does not override KEEP's value
            if isinstance(kv, bool):
                conflicts.append(MergeConflict(field=name, keep=kv, other=ov, resolution="kept"))
            continue
        if _empty(kv) or kv == defaults.get(name):
            changes[name] = getattr(other, name)
            filled.append(name)
        else:
            conflicts.append(MergeConflict(field=name, keep=kv, other=ov, resolution="kept"))
    if k["hostname"] != o["hostname"]:
        conflicts.append(
            MergeConflict(
                field="hostname", keep=k["hostname"], other=o["hostname"], resolution="kept"
            )
        )
    # addresses: KEEP's, then OTHER's new ones; a label only OTHER gives is taken
    ips = [dict(e) for e in k["ip_addresses"]]
    index = {e["ip"]: e for e in ips}
    for e in o["ip_addresses"]:
        mine = index.get(e["ip"])
        if mine is None:
            index[e["ip"]] = dict(e)
            ips.append(index[e["ip"]])
        elif e["label"] and not mine["label"]:
            mine["label"] = e["label"]
        elif e["label"] and e["label"] != mine["label"]:
            conflicts.append(
                MergeConflict(
                    field=f"ip_addresses.{e['ip']}.label",
                    keep=mine["label"],
                    other=e["label"],
                    resolution="kept",
                )
            )
    if ips != k["ip_addresses"]:
        changes["ip_addresses"] = ips
    tags = list(k["tags"]) + [t for t in o["tags"] if t not in k["tags"]]
    if tags != k["tags"]:
        changes["tags"] = tags
    extra = dict(keep.extra)
    for key, value in other.extra.items():
        if key in AGENT_KEYS:
            continue
        if key not in extra:
            extra[key] = value
        elif extra[key] != value:
            conflicts.append(
                MergeConflict(field=f"extra.{key}", keep=extra[key], other=value, resolution="kept")
            )
    theirs, mine_beat = other.extra.get("last_heartbeat"), keep.extra.get("last_heartbeat")
    if isinstance(theirs, str) and (not isinstance(mine_beat, str) or theirs > mine_beat):
        for key in AGENT_KEYS:
            if key in other.extra:
                extra[key] = other.extra[key]
    if extra != keep.extra:
        changes["extra"] = extra
    if o["notes"] and o["notes"] != k["notes"]:
        if k["notes"]:
            conflicts.append(
                MergeConflict(field="notes", keep=k["notes"], other=o["notes"], resolution="joined")
            )
            changes["notes"] = f"{k['notes']}\n\n{o['notes']}"
        else:
            changes["notes"] = o["notes"]
            filled.append("notes")
    return changes, filled, conflicts


def _count(session: Session, model: Any, vps_id: Any) -> int:
    return (
        session.scalar(select(func.count()).select_from(model).where(model.vps_id == vps_id)) or 0
    )


def merge(session: Session, actor: Actor, data: MergeRequest | dict) -> MergeResult:
    """Merge OTHER into KEEP (see the module's docstring). Merging a VPS with itself is
    InvalidInput naming `other`; a VPS in the trash is a Conflict naming its side."""
    from sigma.db.models.history import IpAssignment, VpsHistory
    from sigma.db.models.identity import ApiKey as ApiKeyRow
    from sigma.db.models.monitoring import IpCheck as IpCheckRow
    from sigma.db.models.monitoring import Reachability as ReachRow
    from sigma.db.models.monitoring import VpsEvent as VpsEventRow
    from sigma.db.models.tickets import Ticket as TicketRow

    actor.require(WRITERS)
    data = data if isinstance(data, MergeRequest) else validate(MergeRequest, data)
    keep_row = _side(session, data.keep, "keep")
    other_row = _side(session, data.other, "other")
    if keep_row.id == other_row.id:
        raise InvalidInput(
            f"other: VPS {keep_row.hostname} ({keep_row.id}) cannot be merged with itself",
            field="other",
        )
    if not data.dry_run:
        # both rows locked, in id order: two merges of the same pair never deadlock
        for row in sorted((keep_row, other_row), key=lambda r: str(r.id)):
            table = VpsRow.__table__
            session.execute(
                table.update().where(table.c.id == row.id).values(version=table.c.version)
            )
            session.refresh(row)
    keep, other = out(session, keep_row), out(session, other_row)
    changes, filled, conflicts = plan(keep, other)
    new_ips = (
        history.ip_map(changes.get("ip_addresses", [])).keys()
        - history.ip_map(keep.ip_addresses).keys()
    )
    moved = {
        "ips": len(new_ips),
        "tags": len(changes.get("tags", keep.tags)) - len(keep.tags),
        "extra": len(set(changes.get("extra", {})) - set(keep.extra)),
        "tickets": _count(session, TicketRow, other_row.id),
        "ip_checks": _count(session, IpCheckRow, other_row.id),
        "history": _count(session, VpsHistory, other_row.id),
        "ip_history": _count(session, IpAssignment, other_row.id),
        "agent_keys": _count(session, ApiKeyRow, other_row.id),
    }
    removed = _brief(other_row)
    if data.dry_run:
        values = {**keep.model_dump(), **changes}
        if "provider_id" in changes:
            values["provider_name"] = other.provider_name
        merged = Vps.model_validate(values)
        return MergeResult(
            dry_run=True,
            keep=merged,
            removed=removed,
            filled=filled,
            conflicts=conflicts,
            moved=moved,
        )
    now = utcnow()
    kid, oid = keep_row.id, other_row.id
    from sigma.db.models.lifecycle import VpsRenewal  # renewals paid stay in the cost reports

    for model in (TicketRow, IpCheckRow, VpsEventRow, ApiKeyRow, VpsRenewal):
        session.execute(
            update(model).where(col(model.vps_id) == oid).values(vps_id=kid),
            execution_options={"synchronize_session": False},
        )
    # verdicts: OTHER's for addresses KEEP has none for; KEEP's own stay
    mine = set(session.scalars(select(col(ReachRow.ip)).where(col(ReachRow.vps_id) == kid)))
    session.execute(
        update(ReachRow)
        .where(col(ReachRow.vps_id) == oid, col(ReachRow.ip).not_in(list(mine)))
        .values(vps_id=kid),
        execution_options={"synchronize_session": False},
    )
    history.move(session, oid, kid, now)
    before = keep.model_dump(mode="json")
    for key, value in changes.items():
        if key == "ip_addresses":
            value = [dict(e) for e in value]
        setattr(keep_row, key, value)
    session.delete(other_row)
    session.flush()
    after = out(session, keep_row)
    history.record_change(session, before, after.model_dump(mode="json"), "user", actor)
    details = {
        "other": {"id": str(oid), "hostname": removed.hostname, "status": removed.status},
        "filled": filled,
        "conflicts": [c.model_dump(mode="json") for c in conflicts],
        "moved": moved,
    }
    history.record(session, kid, "merged", "user", actor, details, hostname=keep_row.hostname)
    history.sync_row(session, keep_row, now)
    audit.record(session, actor, "merge", "vps", kid, {"hostname": keep_row.hostname, **details})
    session.expire_all()
    return MergeResult(
        dry_run=False,
        keep=out(session, session.get(VpsRow, kid) or keep_row),
        removed=removed,
        filled=filled,
        conflicts=conflicts,
        moved=moved,
    )
