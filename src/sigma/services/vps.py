"""VPS: create, list with filters, show, partial update, delete, retire."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import String, func, literal, literal_column, select, true, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.db.types import utcnow
from sigma.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, SigmaError
from sigma.schemas.common import Page, normalise_tags, parse_ip, validate
from sigma.schemas.inventory import BulkResult, Vps, VpsCreate, VpsFilter, VpsUpdate
from sigma.services import audit
from sigma.services.actor import INVENTORY_READERS, WRITERS, Actor
from sigma.services.json_sql import (
    json_array_contains,
    json_array_has_object_starting_with,
    json_array_has_object_with,
)
from sigma.services.refs import resolve
from sigma.vocab import DEFAULT_OFFLINE_AFTER, DUE_SOON_DAYS, VPS_STATUSES, agent_online


def offline_after(session: Session) -> float:
    """The configured agent offline threshold (seconds), carried by the session
    (db.engine.session_factory)."""
    return float(session.info.get("offline_after", DEFAULT_OFFLINE_AFTER))


_NO_NAME = object()


def out(session: Session, row: VpsRow, provider_name: Any = _NO_NAME) -> Vps:
    """The schema of a row: its provider's name, its agent's liveness from the configured
    threshold (the one place it is computed), and its version for ETag / If-Match. A listing
    passes the provider's name it joined; otherwise it is looked up (the session's identity
    map keeps one lookup per provider)."""
    v = Vps.model_validate(row)
    v.online = agent_online(row.extra, offline_after(session))
    if provider_name is _NO_NAME:
        provider = session.get(ProviderRow, row.provider_id) if row.provider_id else None
        provider_name = provider.name if provider else None
    v.provider_name = provider_name
    v._version = row.version
    return v


def etag(v: Vps) -> str:
    return f'"{v._version}"'


def parse_if_match(header: str | None) -> int | None:
    """`"3"` or `W/"3"` -> 3; absent -> None; anything else is refused."""
    if header is None or header.strip() == "*":
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput(f"If-Match: '{header}' is not an ETag of this API", field="If-Match")
    return int(text)


def find(session: Session, ref: Any, trashed: bool | None = False) -> VpsRow:
    """The VPS `ref` names: by default one not in the trash (a VPS in the trash is not found
    by anything but the trash's own commands); `trashed=True` only one in the trash,
    `trashed=None` either."""
    deleted = col(VpsRow.deleted_at)
    where = None if trashed is None else deleted.is_not(None) if trashed else deleted.is_(None)
    try:
        return resolve(
            session,
            VpsRow,
            ref,
            kind="vps",
            name_column=VpsRow.hostname,
            describe=lambda v: f"{v.hostname} {v.id} ({v.status})",
            # hostnames are reused after a VPS is retired: the live one is the obvious meaning
            prefer=lambda rows: [r for r in rows if r.status != "retired"] or rows,
            where=where,
            visible=None if trashed is None else lambda v: (v.deleted_at is not None) == trashed,
        )
    except NotFound as exc:
        if trashed is not False:
            raise
        try:
            row = find(session, ref, trashed=True)
        except SigmaError:
            raise exc from None
        raise NotFound(
            f"vps {row.hostname} ({row.id}) is in the trash; `sigma vps restore {row.id}` "
            "brings it back",
            field="vps",
        ) from None


def _lock(session: Session, row: VpsRow) -> None:
    """Hold the row's write lock until the transaction ends, then read its current version:
    an update that asked for no version check must not fail because another one committed
    between our read and our write. A no-op UPDATE takes the lock on both databases (SQLite
    has no FOR UPDATE; it locks the whole database for the writer instead)."""
    table = VpsRow.__table__
    session.execute(table.update().where(table.c.id == row.id).values(version=table.c.version))
    session.refresh(row)


def _provider_id(session: Session, provider_id: Any) -> Any:
    if provider_id is None:
        return None
    if session.get(ProviderRow, provider_id) is None:
        raise InvalidInput(
            f"provider_id: provider {provider_id} does not exist", field="provider_id"
        )
    return provider_id


_PLAIN_TAG = re.compile(r"[A-Za-z0-9_:.-]+")
# the statuses of the fleet still running: "not retired" as an IN list, which the
# (status, expire_date, ...) indexes serve (a `status != 'retired'` is read from the expiry
# index over the whole history instead)
LIVE_STATUSES = tuple(s for s in VPS_STATUSES if s != "retired")
# what may be the start of an IP address as typed: digits, hex letters, dots and colons, with
# a dot, a colon or only digits (a word such as "cafe" is a host name, not an address)
_IP_PREFIX = re.compile(r"(?=[0-9a-f.:]*[0-9.:])[0-9a-f.:]+\Z")


def heartbeat_text() -> ColumnElement[str]:
    """extra.last_heartbeat as text (RFC 3339, UTC, written by services.agents.stamp)."""
    beat: ColumnElement[str] = VpsRow.extra["last_heartbeat"].as_string()
    return beat


def agent_condition(session: Session, state: str) -> ColumnElement[bool]:
    """The VPS whose agent is `state` ("online", "offline", "none"), by the rule of
    vocab.agent_online with the session's threshold. The heartbeats are written as UTC
    timestamps of one format, so comparing their text compares the instants."""
    beat = heartbeat_text()
    if state == "none":
        return beat.is_(None)
    cutoff = (utcnow() - timedelta(seconds=offline_after(session))).isoformat(
        timespec="microseconds"
    )
    return beat > cutoff if state == "online" else beat <= cutoff


def ip_search_condition(session: Session, text: str) -> ColumnElement[bool] | None:
    """What a search text means for the IP list: a whole address matches that address (the
    containment the GIN index of ip_addresses serves on PostgreSQL); the start of one, as
    typed (`103.1.`, `2001:db8:`), matches the addresses that begin with it; anything else
    matches no address (None)."""
    text = text.strip().lower()
    try:
        return json_array_has_object_with(session, VpsRow.ip_addresses, "ip", parse_ip(text))
    except ValueError:
        pass
    if not _IP_PREFIX.match(text):
        return None
    cond = json_array_has_object_starting_with(session, VpsRow.ip_addresses, "ip", text)
    if session.get_bind().dialect.name == "sqlite":
        # the prefix is in the row's JSON text whenever an address starts with it (these
        # characters are never escaped in JSON): a substring test first, json_each after
        return (
            func.instr(type_coerce(VpsRow.ip_addresses, String), literal(text, String)) > 0
        ) & cond
    return cond


def not_trashed(session: Session | None = None) -> ColumnElement[bool]:
    """The VPS not in the trash: every listing, export and derived output shows only these.

    On SQLite a filtered listing counts its matches from the index of its filters alone
    (idx_vps_status_country_tags holds status, country and tags, not deleted_at; reading
    each row for deleted_at made the count of 20,000 retired rows 2x slower, bench/README.md):
    there the VPS in the trash are left out by rowid, a list read once from
    idx_vps_deleted_at, and not at all while the trash is empty (a subquery SQLite evaluates
    once), in the same single statement."""
    if session is not None and session.get_bind().dialect.name == "sqlite":
        trash = VpsRow.__table__.alias("trash")
        in_trash = trash.c.deleted_at.is_not(None)
        empty = select(literal(1)).select_from(trash).where(in_trash).limit(1).scalar_subquery()
        listed: Select[Any] = (
            select(literal_column("trash.rowid")).select_from(trash).where(in_trash)
        )
        return empty.is_(None) | literal_column("vps.rowid").not_in(listed)
    return col(VpsRow.deleted_at).is_(None)


def filtered(session: Session, f: VpsFilter) -> Select:
    q = select(VpsRow)
    conds: list[ColumnElement[bool]] = [not_trashed(session)]
    if f.status:
        conds.append(col(VpsRow.status) == f.status)
    if f.country:
        conds.append(col(VpsRow.country) == f.country)
    if f.provider_id:
        conds.append(col(VpsRow.provider_id) == f.provider_id)
    if f.provider:
        from sigma.services.providers import find as find_provider

        conds.append(col(VpsRow.provider_id) == find_provider(session, f.provider).id)
    if f.purpose is not None and "purpose" in f.model_fields_set:
        conds.append(col(VpsRow.purpose) == f.purpose)
    sqlite = session.get_bind().dialect.name == "sqlite"
    for tag in f.tag:
        if sqlite and _PLAIN_TAG.fullmatch(tag):
            # SQLite has no index for it: before calling json_each on the row, a substring test
            # on the JSON text, exact for these characters (no JSON encoder escapes them), so
            # only rows that may hold the tag pay for json_each (the count over the ~20,000
            # retired VPS of one country: 26 -> 21 ms, most of the rest is reading the rows)
            conds.append(
                func.instr(type_coerce(VpsRow.tags, String), literal(f'"{tag}"', String)) > 0
            )
        conds.append(json_array_contains(session, VpsRow.tags, tag))
    today = date.today()
    if f.expiring_within_days is not None:
        conds.append(col(VpsRow.expire_date).is_not(None))
        conds.append(col(VpsRow.expire_date) <= today + timedelta(days=f.expiring_within_days))
    if f.expiry == "overdue":
        conds.append(col(VpsRow.expire_date) < today)
    elif f.expiry == "soon":
        conds.append(col(VpsRow.expire_date) >= today)
        conds.append(col(VpsRow.expire_date) <= today + timedelta(days=DUE_SOON_DAYS))
    if (f.expiring_within_days is not None or f.expiry) and not f.status:
        # with years of history, "expiring" means the fleet still running, not the graveyard
        conds.append(col(VpsRow.status).in_(LIVE_STATUSES))
    if f.agent:
        conds.append(agent_condition(session, f.agent))
    if f.search:
        needle = "%" + f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        text_match = col(VpsRow.hostname).ilike(needle, escape="\\") | col(VpsRow.alias).ilike(
            needle, escape="\\"
        )
        ip_match = ip_search_condition(session, f.search)
        conds.append(text_match if ip_match is None else text_match | ip_match)
    if f.ip:
        conds.append(json_array_has_object_with(session, VpsRow.ip_addresses, "ip", f.ip))
    if f.over_quota is not None:
        from sigma.services.traffic import over_quota_condition

        conds.append(over_quota_condition(f.over_quota))
    return q.where(*conds) if conds else q.where(true())


ORDER = (
    col(VpsRow.status),
    col(VpsRow.expire_date).asc().nulls_last(),
    col(VpsRow.hostname),
    col(VpsRow.id),
)
# the sort keys of the listing (vocab.VPS_SORT_FIELDS); `provider` is the joined provider's
# name (_with_provider_name); an empty country sorts with the missing values, last
SORT_KEYS: dict[str, Any] = {
    "hostname": col(VpsRow.hostname),
    "country": func.nullif(col(VpsRow.country), ""),
    "provider": col(ProviderRow.name),
    "status": col(VpsRow.status),
    # the amount as entered: currencies are not converted
    "cost": col(VpsRow.cost_monthly),
    "expiry": col(VpsRow.expire_date),
    "created": col(VpsRow.created_at),
}


def order_of(f: VpsFilter) -> tuple[Any, ...]:
    """ORDER BY of a listing: the default order, or the asked key (missing values last in
    either direction), then hostname and id, so that equal keys keep a stable order across
    pages."""
    if not f.sort:
        return ORDER
    field, _, direction = f.sort.partition(":")
    key = SORT_KEYS[field]
    first = (key.desc() if direction == "desc" else key.asc()).nulls_last()
    if field == "hostname":
        return (first, col(VpsRow.id))
    return (first, col(VpsRow.hostname), col(VpsRow.id))


def list_vps(session: Session, actor: Actor, f: VpsFilter | dict | None = None) -> Page[Vps]:
    """One page and the number of matches, in one statement (one round trip): the count is an
    uncorrelated scalar subquery the database evaluates once, beside the page's rows (not
    `count(*) OVER ()`, which makes the database buffer every matching row before the first
    one is returned). A page past the end has no row to carry the count: then it is asked
    for on its own."""
    actor.require(INVENTORY_READERS)
    f = validate(VpsFilter, f or {}) if not isinstance(f, VpsFilter) else f
    q = filtered(session, f)
    # keep FROM vps: a filter-less query (WHERE true) would otherwise count "SELECT 1" once
    count = q.with_only_columns(func.count(), maintain_column_froms=True)
    offset = (f.page - 1) * f.per_page
    rows = session.execute(
        _with_provider_name(q.add_columns(count.correlate(None).scalar_subquery()))
        .order_by(*order_of(f))
        .offset(offset)
        .limit(f.per_page)
    ).all()
    if rows:
        total = rows[0][1]
    elif offset:
        total = session.scalar(count) or 0
    else:
        total = 0
    return Page[Vps](
        data=[out(session, r[0], r[2]) for r in rows], total=total, page=f.page, per_page=f.per_page
    )


def all_vps(session: Session, actor: Actor, f: VpsFilter | None = None) -> list[Vps]:
    actor.require(INVENTORY_READERS)
    f = f or VpsFilter()
    rows = session.execute(_with_provider_name(filtered(session, f)).order_by(*order_of(f)))
    return [out(session, r[0], r[1]) for r in rows]


def _with_provider_name(q: Select) -> Select:
    return q.add_columns(col(ProviderRow.name)).outerjoin(
        ProviderRow, col(ProviderRow.id) == VpsRow.provider_id
    )


def get(session: Session, actor: Actor, ref: Any) -> Vps:
    """One VPS, with its current billing period's traffic (services.traffic.usage)."""
    from sigma.services import traffic

    actor.require(INVENTORY_READERS)
    row = find(session, ref)
    v = out(session, row)
    v.traffic = traffic.usage(session, row)
    return v


def create(session: Session, actor: Actor, data: VpsCreate | dict, *, source: str = "user") -> Vps:
    """A new VPS; its timeline starts with `created` (`source`: who tells, history.record)."""
    from sigma.services import history

    actor.require(WRITERS)
    data = validate(VpsCreate, data) if isinstance(data, dict) else data
    values = data.model_dump()
    values["provider_id"] = _provider_id(session, data.provider_id)
    values["ip_addresses"] = [e.model_dump() for e in data.ip_addresses]
    warnings = _shared(session, None, data.hostname, values["ip_addresses"])
    row = VpsRow(**values)
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "create", "vps", row.id, {"hostname": row.hostname, "country": row.country}
    )
    v = out(session, row)
    history.record(
        session, row.id, "created", source, actor, created_details(v), hostname=row.hostname
    )
    history.sync_row(session, row)
    v._warnings = tuple(warnings)
    return v


def created_details(v: Vps) -> dict[str, Any]:
    """What a `created` event remembers of a new VPS."""
    d = v.model_dump(mode="json")
    keys = ("status", "country", "provider_name", "ip_addresses", "tags", "expire_date")
    return {k: d.get(k) for k in keys}


def _shared(
    session: Session, own_id: Any, hostname: str | None, ips: list[dict[str, Any]] | None
) -> list[str]:
    """What a new or changed VPS shares with the other VPS still in service. A hostname that
    differs from another only in case is refused (agents and `vps show` match names without
    case: two such VPS could not be told apart); the same hostname or IP address is
    accepted (a replacement is often added before its predecessor is retired) and returned
    as warnings."""
    warnings: list[str] = []
    live = (col(VpsRow.status) != "retired") & not_trashed()
    others = (col(VpsRow.id) != own_id) if own_id is not None else true()
    if hostname is not None:
        same = session.execute(
            select(col(VpsRow.id), col(VpsRow.hostname))
            .where(func.lower(VpsRow.hostname) == hostname.lower(), live, others)
            .limit(5)
        ).all()
        for other_id, other in same:
            if other != hostname:
                raise Conflict(
                    f"hostname: {hostname} differs only in case from {other} ({str(other_id)[:8]});"
                    " hostnames are matched without case",
                    field="hostname",
                )
            warnings.append(f"hostname {hostname} is also used by VPS {str(other_id)[:8]}")
    # the addresses held now (history's open ip_assignments: by VPS in service, not in the
    # trash), one indexed lookup for all of them instead of a scan of every VPS's JSON
    wanted = [entry["ip"] for entry in ips or []]
    if wanted:
        from sigma.db.models.history import IpAssignment

        held = col(IpAssignment.until).is_(None) & col(IpAssignment.ip).in_(wanted)
        if own_id is not None:
            held &= col(IpAssignment.vps_id) != own_id
        holders = session.execute(
            select(col(IpAssignment.ip), col(IpAssignment.vps_id), col(IpAssignment.hostname))
            .where(held)
            .order_by(col(IpAssignment.ip), col(IpAssignment.since))
            .limit(5 * len(wanted))
        ).all()
        for ip, other_id, other in holders:
            warnings.append(f"IP {ip} is also on {other} ({str(other_id)[:8]})")
    return warnings


def update(
    session: Session,
    actor: Actor,
    ref: Any,
    data: VpsUpdate | dict,
    if_match: int | None = None,
    *,
    source: str = "user",
) -> Vps:
    """Partial update. With `if_match` (the version the caller read), a VPS changed since
    is refused with PreconditionFailed instead of silently overwritten. Without it, the
    update applies to whatever version is current: concurrent writers queue on the row.
    The changes go to the VPS's timeline (history.record_change, `source`)."""
    from sigma.services import history

    actor.require(WRITERS)
    data = validate(VpsUpdate, data) if isinstance(data, dict) else data
    row = find(session, ref)
    if if_match is None:
        _lock(session, row)
    elif row.version != if_match:
        raise PreconditionFailed(
            f"vps {row.hostname} changed since you read it (version {row.version}, you had "
            f"{if_match}); reload and retry",
            field="If-Match",
        )
    before = out(session, row)
    changes = data.changes()
    if "provider_id" in changes:
        changes["provider_id"] = _provider_id(session, changes["provider_id"])
    if "ip_addresses" in changes:
        changes["ip_addresses"] = [e.model_dump() for e in data.ip_addresses or []]
    purchase = changes.get("purchase_date", row.purchase_date)
    expire = changes.get("expire_date", row.expire_date)
    if purchase and expire and expire < purchase:
        raise InvalidInput(
            f"expire_date: {expire} is before purchase_date {purchase}", field="expire_date"
        )
    held = {e["ip"] for e in row.ip_addresses or []}
    warnings = _shared(
        session,
        row.id,
        changes["hostname"] if changes.get("hostname", row.hostname) != row.hostname else None,
        [e for e in changes.get("ip_addresses") or [] if e["ip"] not in held],
    )
    hostname = row.hostname  # the row is unusable after a failed flush
    for key, value in changes.items():
        setattr(row, key, value)
    try:
        session.flush()
    except StaleDataError:
        raise PreconditionFailed(
            f"vps {hostname} was changed by someone else at the same time; reload and retry",
            field="If-Match",
        ) from None
    after = out(session, row)
    delta = audit.diff(before, after)
    if delta:
        audit.record(
            session, actor, "update", "vps", row.id, {"hostname": row.hostname, "changes": delta}
        )
        history.record_change(
            session, before.model_dump(mode="json"), after.model_dump(mode="json"), source, actor
        )
        if {"ip_addresses", "status", "hostname"} & delta.keys():
            history.sync_row(session, row)
    after._warnings = tuple(warnings)
    return after


def delete(session: Session, actor: Actor, ref: Any) -> Vps:
    """Move a VPS to the trash: hidden from every listing, export and derived output, its
    addresses no longer held, its agent keys unbound (an agent of that machine registers
    anew, as after a deletion); `restore` brings it back, `purge` (or the trash job, after
    trash_retention_days) deletes it for good. Deleting a VPS already in the trash is
    NotFound, like any VPS the inventory does not show."""
    from sigma.db.models.identity import ApiKey as ApiKeyRow
    from sigma.services import history

    actor.require(WRITERS)
    row = find(session, ref)
    _lock(session, row)
    gone = out(session, row)
    now = utcnow()
    keys = list(session.scalars(select(col(ApiKeyRow.id)).where(col(ApiKeyRow.vps_id) == row.id)))
    if keys:
        session.execute(
            ApiKeyRow.__table__.update()
            .where(ApiKeyRow.__table__.c.id.in_(keys))
            .values(vps_id=None)
        )
    row.deleted_at = now
    session.flush()
    history.record(
        session,
        row.id,
        "deleted",
        "user",
        actor,
        {"status": row.status, "unbound_keys": [str(k) for k in keys]},
        hostname=row.hostname,
        at=now,
    )
    history.sync_row(session, row, now)
    audit.record(
        session, actor, "delete", "vps", gone.id, {"hostname": gone.hostname, "trash": True}
    )
    return gone


def retire(session: Session, actor: Actor, ref: Any) -> Vps:
    actor.require(WRITERS)
    row = find(session, ref)
    if row.status == "retired":
        # idempotent: retiring twice changes nothing and writes no second audit row
        return out(session, row)
    from sigma.services import history

    previous = row.status
    row.status = "retired"
    row.monitoring_enabled = False
    row.extra = {**(row.extra or {}), "retired_at": utcnow().isoformat()}
    session.flush()
    audit.record(session, actor, "retire", "vps", row.id, {"hostname": row.hostname})
    history.record(
        session, row.id, "retired", "user", actor, {"from": previous}, hostname=row.hostname
    )
    history.sync_row(session, row)
    return out(session, row)


# ---------------------------------------------------------------- bulk actions

MAX_BULK = 100  # VPS per bulk action: the largest page of the listing


def bulk_ids(refs: list[Any]) -> list[uuid.UUID]:
    """The selected VPS ids, each once, in the order given; at least one, at most MAX_BULK."""
    ids: dict[uuid.UUID, None] = {}
    for ref in refs:
        try:
            ids.setdefault(ref if isinstance(ref, uuid.UUID) else uuid.UUID(str(ref)), None)
        except ValueError:
            raise InvalidInput(f"id: '{str(ref)[:40]}' is not a VPS id", field="id") from None
    if not ids:
        raise InvalidInput("id: select at least one VPS", field="id")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"id: at most {MAX_BULK} VPS at once", field="id")
    return list(ids)


def bulk_retire(session: Session, actor: Actor, refs: list[Any]) -> BulkResult:
    """Retire each selected VPS through `retire` (its rules and audit row, once per VPS), in
    the caller's transaction: all or nothing."""
    actor.require(WRITERS)
    ids = bulk_ids(refs)
    changed = 0
    for vps_id in ids:
        changed += find(session, vps_id).status != "retired"
        retire(session, actor, vps_id)
    return BulkResult(selected=len(ids), changed=changed)


def bulk_add_tag(session: Session, actor: Actor, refs: list[Any], tag: Any) -> BulkResult:
    """Add one tag to each selected VPS through `update` (validation, version lock, audit
    row), in the caller's transaction: all or nothing. A VPS that has the tag is left alone."""
    actor.require(WRITERS)
    try:
        tags = normalise_tags([tag] if isinstance(tag, str) else tag)
    except ValueError as exc:
        raise InvalidInput(f"tag: {exc}", field="tag") from None
    if len(tags) != 1:
        raise InvalidInput("tag: give one tag", field="tag")
    ids = bulk_ids(refs)
    changed = 0
    for vps_id in ids:
        row = find(session, vps_id)
        if tags[0] in (row.tags or []):
            continue
        update(session, actor, vps_id, VpsUpdate(tags=[*(row.tags or []), tags[0]]))
        changed += 1
    return BulkResult(selected=len(ids), changed=changed)
