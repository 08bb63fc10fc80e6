"""IP checks (SEED_CONTRACT 2.4), the probes' batch route and targets, and the reachability
verdict per (VPS, IP).

Each result advances a streak per (source, check key) in the reachability row (a check key
is the check type, with the port when the probe said it: tcp:22, tls:443); a result newer
than the last one seen moves it, a late one (from a probe's spool) is stored but does not
rewrite history. A success, or a refused connection (the host itself answered), continues an
ok streak; anything else a failure streak. The verdict is then decided from the streaks by
services.verdicts, with each source's role from the probe registry (services.probes), and a
change of verdict is recorded once as a `reachability` event of the VPS's timeline.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, Insert, Select, delete, func, select, text, tuple_
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db import rollups
from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.monitoring import IpCheck as IpCheckRow
from sigma.db.models.monitoring import Reachability as ReachRow
from sigma.db.types import utcnow
from sigma.errors import InvalidInput, NotFound
from sigma.schemas.common import Page, parse_ip, validate
from sigma.schemas.monitoring import (
    BatchRejection,
    IpCheck,
    IpCheckBatch,
    IpCheckBatchResult,
    IpCheckCreate,
    IpCheckFilter,
    IpCheckSummary,
    ProbeTarget,
    PurgeResult,
    ReachabilityPage,
    ReachabilityStatus,
)
from sigma.services import audit, history, probes, verdicts
from sigma.services.actor import PROBES, READERS, WRITERS, Actor
from sigma.services.agents import record_event
from sigma.vocab import HOST_UP_OUTCOMES

if TYPE_CHECKING:
    from sqlalchemy import Integer

MAX_SKEW = timedelta(minutes=5)  # results "from the future" beyond this are refused
CHUNK = 500


def _iso(dt: datetime) -> str:
    # fixed width, so that the strings sort like the instants
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------- contract CRUD


def _not_trashed() -> Any:
    """The checks of VPS not in the trash (the trash is small: one hashed NOT IN)."""
    trashed = select(col(VpsRow.id)).where(col(VpsRow.deleted_at).is_not(None))
    return col(IpCheckRow.vps_id).not_in(trashed)


def _filtered(f: IpCheckFilter) -> Select[IpCheckRow]:
    q = select(IpCheckRow).where(_not_trashed())
    if f.vps_id:
        q = q.where(col(IpCheckRow.vps_id) == f.vps_id)
    if f.ip:
        q = q.where(col(IpCheckRow.ip) == f.ip)
    if f.source is not None:
        q = q.where(col(IpCheckRow.source) == f.source)
    if f.check_type:
        q = q.where(col(IpCheckRow.check_type) == f.check_type)
    if f.success is not None:
        q = q.where(col(IpCheckRow.success) == f.success)
    return q


def list_checks(
    session: Session, actor: Actor, f: IpCheckFilter | dict | None = None
) -> Page[IpCheck]:
    actor.require(READERS)
    f = f if isinstance(f, IpCheckFilter) else validate(IpCheckFilter, f or {})
    q = _filtered(f)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(col(IpCheckRow.checked_at).desc(), col(IpCheckRow.id))
        .offset((f.page - 1) * f.per_page)
        .limit(f.per_page)
    )
    return Page[IpCheck](
        data=[IpCheck.model_validate(r) for r in rows],
        total=total,
        page=f.page,
        per_page=f.per_page,
    )


def _find(session: Session, check_id: Any) -> IpCheckRow:
    try:
        key = check_id if isinstance(check_id, uuid.UUID) else uuid.UUID(str(check_id).strip())
    except ValueError:
        raise InvalidInput(f"id: '{check_id}' is not a UUID", field="id") from None
    row = session.get(IpCheckRow, key)
    if row is None:
        raise NotFound(f"ip check {key} not found", field="id")
    return row


def get(session: Session, actor: Actor, check_id: Any) -> IpCheck:
    actor.require(READERS)
    return IpCheck.model_validate(_find(session, check_id))


def create(session: Session, actor: Actor, data: IpCheckCreate | dict) -> IpCheck:
    """One check, `checked_at` now (the contract's POST). Probes should use record_batch."""
    actor.require(PROBES)
    data = data if isinstance(data, IpCheckCreate) else validate(IpCheckCreate, data)
    bound = probes.bound_source(session, actor)
    if bound is not None and data.source != bound:
        raise InvalidInput(
            f"source: this key speaks for probe {bound}, not {data.source}", field="source"
        )
    vps = session.get(VpsRow, data.vps_id)
    if vps is None or vps.deleted_at is not None:
        raise InvalidInput(f"vps_id: VPS not found: {data.vps_id}", field="vps_id")
    if data.ip not in _addresses(vps.ip_addresses):
        raise InvalidInput(f"ip: {data.ip} is not an address of VPS {vps.hostname}", field="ip")
    row = IpCheckRow(**data.model_dump(), checked_at=utcnow())
    session.add(row)
    session.flush()
    rollups.add(session, [row.model_dump()])
    _advance(session, [row], {vps.id: (vps.hostname, vps.ip_addresses)})
    audit.record(
        session,
        actor,
        "create",
        "ip_check",
        row.id,
        {
            "hostname": vps.hostname,
            "ip": row.ip,
            "check_type": row.check_type,
            "success": row.success,
        },
    )
    return IpCheck.model_validate(row)


def delete_check(session: Session, actor: Actor, check_id: Any) -> IpCheck:
    actor.require(WRITERS)
    row = _find(session, check_id)
    gone = IpCheck.model_validate(row)
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "delete", "ip_check", gone.id, {"ip": gone.ip, "source": gone.source}
    )
    return gone


def summary(session: Session, actor: Actor, vps_id: Any = None) -> list[IpCheckSummary]:
    actor.require(READERS)
    if vps_id not in (None, ""):
        try:
            vps_id = vps_id if isinstance(vps_id, uuid.UUID) else uuid.UUID(str(vps_id))
        except ValueError:
            raise InvalidInput(f"vps_id: '{vps_id}' is not a UUID", field="vps_id") from None
    else:
        vps_id = None
    c_vps_id, c_ip, c_success = col(IpCheckRow.vps_id), col(IpCheckRow.ip), col(IpCheckRow.success)
    c_checked_at = col(IpCheckRow.checked_at)
    agg = (
        select(
            c_vps_id,
            c_ip,
            func.count().label("total"),
            func.sum(func.cast(c_success, _int())).label("ok"),
            func.avg(IpCheckRow.latency_ms).label("avg"),
            func.max(c_checked_at).label("last"),
        )
        .where(_not_trashed())
        .group_by(c_vps_id, c_ip)
    )
    ranked = select(
        c_vps_id,
        c_ip,
        c_success,
        func.row_number()
        .over(
            partition_by=(c_vps_id, c_ip),
            order_by=(c_checked_at.desc(), col(IpCheckRow.id).desc()),
        )
        .label("rn"),
    )
    if vps_id:
        agg = agg.where(c_vps_id == vps_id)
        ranked = ranked.where(c_vps_id == vps_id)
    sub = ranked.subquery()
    last_success = {
        (r[0], r[1]): bool(r[2])
        for r in session.execute(select(sub.c.vps_id, sub.c.ip, sub.c.success).where(sub.c.rn == 1))
    }
    out = []
    for vid, ip, total, ok, avg, last in session.execute(agg):
        ok = int(ok or 0)
        out.append(
            IpCheckSummary(
                vps_id=vid,
                ip=ip,
                total_checks=total,
                success_count=ok,
                success_rate=round(ok * 100.0 / total, 2) if total else 0.0,
                avg_latency_ms=None if avg is None else float(avg),
                last_check=last if last.tzinfo else last.replace(tzinfo=UTC),
                last_success=last_success.get((vid, ip), False),
            )
        )
    out.sort(key=lambda s: s.last_check, reverse=True)
    return out


def _int() -> type[Integer]:
    from sqlalchemy import Integer

    return Integer


def purge(session: Session, actor: Actor, older_than_days: Any) -> PurgeResult:
    actor.require(WRITERS)
    try:
        days = int(str(older_than_days).strip())
    except (TypeError, ValueError):
        raise InvalidInput(
            f"older_than_days: '{older_than_days}' is not a whole number of days",
            field="older_than_days",
        ) from None
    if days < 0 or days > 36500:
        raise InvalidInput("older_than_days: must be between 0 and 36500", field="older_than_days")
    cutoff = utcnow() - timedelta(days=days)
    # a Core DELETE returns a CursorResult, which Session.execute's type does not promise
    result = cast(
        CursorResult[Any],
        session.execute(delete(IpCheckRow).where(col(IpCheckRow.checked_at) < cutoff)),
    )
    count = result.rowcount or 0
    audit.record(
        session, actor, "purge", "ip_check", None, {"older_than_days": days, "deleted": count}
    )
    return PurgeResult(deleted=count)


# ---------------------------------------------------------------- probes


def targets(session: Session, actor: Actor) -> list[ProbeTarget]:
    """Every valid IP of every active VPS, with its label and the VPS's SSH port."""
    actor.require(PROBES)
    out: list[ProbeTarget] = []
    q = (
        select(col(VpsRow.id), col(VpsRow.hostname), col(VpsRow.ip_addresses), col(VpsRow.ssh_port))
        .where(col(VpsRow.status) == "active", col(VpsRow.deleted_at).is_(None))
        .order_by(col(VpsRow.hostname), col(VpsRow.id))
    )
    for vid, hostname, ips, port in session.execute(q):
        for entry in ips or []:
            try:
                ip = parse_ip(entry.get("ip") if isinstance(entry, dict) else entry)
            except ValueError:
                continue  # stored before validation existed: not a target
            label = entry.get("label", "") if isinstance(entry, dict) else ""
            out.append(
                ProbeTarget(vps_id=vid, hostname=hostname, ip=ip, label=label or "", ssh_port=port)
            )
    return out


def record_batch(session: Session, actor: Actor, batch: IpCheckBatch | dict) -> IpCheckBatchResult:
    """Insert a probe's results. Checks whose id was already stored are counted as
    duplicates and change nothing (a batch re-sent from a spool is harmless); checks of a VPS
    deleted meanwhile are rejected one by one, the others stored."""
    actor.require(PROBES)
    batch = batch if isinstance(batch, IpCheckBatch) else validate(IpCheckBatch, batch)
    now = utcnow()
    vps_ids = list({c.vps_id for c in batch.checks})
    vps: dict[Any, tuple[str, Any]] = {}
    for i in range(0, len(vps_ids), CHUNK):
        for vid, hostname, ips in session.execute(
            select(col(VpsRow.id), col(VpsRow.hostname), col(VpsRow.ip_addresses)).where(
                col(VpsRow.id).in_(vps_ids[i : i + CHUNK]), col(VpsRow.deleted_at).is_(None)
            )
        ):
            vps[vid] = (hostname, ips)
    rejected: list[BatchRejection] = []
    addresses: dict[Any, set[str | None]] = {}
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    bound = probes.bound_source(session, actor)
    for i, c in enumerate(batch.checks):
        if bound is not None and c.source != bound:
            rejected.append(
                BatchRejection(
                    index=i, error=f"source: this key speaks for probe {bound}, not {c.source}"
                )
            )
            continue
        if c.vps_id not in vps:
            rejected.append(BatchRejection(index=i, error=f"vps_id: VPS not found: {c.vps_id}"))
            continue
        if c.ip not in addresses.setdefault(c.vps_id, _addresses(vps[c.vps_id][1])):
            rejected.append(
                BatchRejection(
                    index=i, error=f"ip: {c.ip} is not an address of VPS {vps[c.vps_id][0]}"
                )
            )
            continue
        at = c.checked_at or now
        if at > now + MAX_SKEW:
            rejected.append(
                BatchRejection(index=i, error=f"checked_at: {at.isoformat()} is in the future")
            )
            continue
        key = c.id or uuid.uuid4()
        rows.setdefault(
            key,
            dict(
                id=key,
                vps_id=c.vps_id,
                ip=c.ip,
                check_type=c.check_type,
                source=c.source,
                success=c.success,
                latency_ms=c.latency_ms,
                checked_at=at,
                outcome=c.outcome,
                port=c.port,
                loss_pct=c.loss_pct,
                jitter_ms=c.jitter_ms,
            ),
        )
    keys = list(rows)
    existing: set[uuid.UUID] = set()
    for i in range(0, len(keys), CHUNK):
        existing.update(
            session.scalars(
                select(col(IpCheckRow.id)).where(col(IpCheckRow.id).in_(keys[i : i + CHUNK]))
            )
        )
    fresh = [rows[k] for k in keys if k not in existing]
    probes.touch(session, {r["source"] for r in rows.values()}, now)
    inserted = _insert_new(session, fresh)
    new_rows = [r for r in fresh if r["id"] in inserted]
    rollups.add(session, new_rows)
    _advance(session, new_rows, vps)
    return IpCheckBatchResult(
        inserted=len(new_rows),
        duplicates=len(batch.checks) - len(rejected) - len(new_rows),
        rejected=rejected,
    )


def _addresses(ips: Any) -> set[str | None]:
    """The addresses of a VPS, as stored (canonical text)."""
    return {e.get("ip") for e in ips or () if isinstance(e, dict)}


# PostgreSQL: the checks as one array a column, unnested by one short statement (psycopg
# parses SQLAlchemy's multi-row VALUES of a 1,000-check batch anew each time: 0.3 s a batch)
_CHECK_TYPES = {
    "id": "uuid",
    "vps_id": "uuid",
    "ip": "text",
    "check_type": "text",
    "source": "text",
    "success": "boolean",
    "latency_ms": "int",
    "checked_at": "timestamptz",
    "outcome": "text",
    "port": "int",
    "loss_pct": "float8",
    "jitter_ms": "int",
}
_PG_INSERT_CHECKS = text(
    f"INSERT INTO ip_checks ({', '.join(_CHECK_TYPES)}) "
    f"SELECT * FROM unnest({', '.join(f'CAST(:{n} AS {t}[])' for n, t in _CHECK_TYPES.items())}) "
    "ON CONFLICT DO NOTHING RETURNING id"
)


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: a concurrent delivery of the same
    checks is not an error, and only the rows this call inserted are returned."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        columns = {name: [r[name] for r in rows] for name in _CHECK_TYPES}
        return set(session.execute(_PG_INSERT_CHECKS, columns).scalars())
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    # executemany of one cached statement (SQLAlchemy batches it as multi-row VALUES)
    stmt = sqlite_insert(IpCheckRow).on_conflict_do_nothing().returning(col(IpCheckRow.id))
    return set(session.connection().execute(stmt, rows).scalars())


# ---------------------------------------------------------------- reachability


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _advance(session: Session, checks: list[Any], vps: dict[Any, tuple[str, Any]]) -> None:
    """Advance the streaks of the (VPS, IP) pairs these new checks are about, recompute
    their verdicts and record each change once."""
    if not checks:
        return
    now = utcnow()
    pairs = sorted(
        {(_get(c, "vps_id"), _get(c, "ip")) for c in checks}, key=lambda p: (str(p[0]), p[1])
    )
    dialect = session.get_bind().dialect.name
    ignoring: Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        ignoring = pg_insert(ReachRow).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ignoring = sqlite_insert(ReachRow).on_conflict_do_nothing()
    session.connection().execute(
        ignoring,
        [
            dict(vps_id=v, ip=ip, label="", verdict="unknown", since=now, state={}, updated_at=now)
            for v, ip in pairs
        ],
    )
    current: dict[tuple[Any, str], ReachRow] = {}
    for i in range(0, len(pairs), CHUNK):
        part = pairs[i : i + CHUNK]
        # locked in a fixed order: two probes posting at once never deadlock or lose a streak
        q = (
            select(ReachRow)
            .where(tuple_(ReachRow.vps_id, ReachRow.ip).in_(part))
            .order_by(col(ReachRow.vps_id), col(ReachRow.ip))
            .with_for_update()
        )
        for r in session.scalars(q):
            current[(r.vps_id, r.ip)] = r
    rounds, agreement = policy(session)
    roles = probes.roles(
        session,
        {s for r in current.values() for s in r.state or {}} | {_get(c, "source") for c in checks},
    )
    by_pair: dict[tuple[Any, str], list[Any]] = {}
    for c in sorted(checks, key=lambda c: _get(c, "checked_at")):
        by_pair.setdefault((_get(c, "vps_id"), _get(c, "ip")), []).append(c)
    for pair, items in by_pair.items():
        row = current[pair]
        state = {
            s: {t: dict(v) for t, v in types.items()} for s, types in (row.state or {}).items()
        }
        for c in items:
            st = state.setdefault(_get(c, "source"), {}).setdefault(
                rollups.check_key(_get(c, "check_type"), _get(c, "port")),
                {"ok": None, "fails": 0, "oks": 0, "at": "", "latency_ms": None},
            )
            at = _iso(_get(c, "checked_at"))
            if at <= st["at"]:
                continue  # older than what we know: stored, but history is not rewritten
            outcome = _get(c, "outcome")
            # a refused connection is a reachable host: the RST came from it
            ok = bool(_get(c, "success")) or outcome in HOST_UP_OUTCOMES
            st.update(
                ok=ok,
                at=at,
                outcome=outcome,
                latency_ms=_get(c, "latency_ms"),
                fails=0 if ok else st["fails"] + 1,
                oks=st["oks"] + 1 if ok else 0,
            )
        hostname, ips = vps.get(pair[0], ("", []))
        label = next(
            (
                e.get("label", "")
                for e in ips or []
                if isinstance(e, dict) and e.get("ip") == pair[1]
            ),
            row.label,
        )
        verdict = verdicts.decide(state, roles, now, rounds, agreement)[0].verdict
        if verdict != row.verdict:
            if not (row.verdict == "unknown" and verdict == "ok"):
                details = {
                    "hostname": hostname,
                    "ip": pair[1],
                    "label": label,
                    "from": row.verdict,
                    "to": verdict,
                }
                record_event(session, pair[0], "reachability", details)
                history.record(
                    session, pair[0], "reachability", "probe", None, details, hostname=hostname
                )
            row.verdict = verdict
            row.since = now
        row.state = state
        row.label = label or ""
        row.updated_at = now
    session.flush()


def policy(session: Session) -> tuple[int, int]:
    """The thresholds (settings reachability_rounds and reachability_agreement)."""
    return (
        int(session.info.get("reachability_rounds") or verdicts.DEFAULT_ROUNDS),
        int(session.info.get("reachability_agreement") or verdicts.DEFAULT_AGREEMENT),
    )


def status(
    session: Session,
    actor: Actor,
    vps_ref: Any = None,
    verdict: str | None = None,
    include_inactive: bool = False,
) -> list[ReachabilityStatus]:
    """The matrix behind `sigma ip-check status`: one row per (VPS, IP), one cell per source."""
    actor.require(READERS)
    from sigma.services.vps import find
    from sigma.vocab import VERDICTS

    q = (
        select(ReachRow, col(VpsRow.hostname))
        .join(VpsRow, col(VpsRow.id) == ReachRow.vps_id)
        .where(col(VpsRow.deleted_at).is_(None))
    )
    if vps_ref:
        q = q.where(col(ReachRow.vps_id) == find(session, vps_ref).id)
    elif not include_inactive:
        q = q.where(col(VpsRow.status) == "active")
    if verdict:
        if verdict not in VERDICTS:
            raise InvalidInput(
                f"verdict: unknown verdict '{verdict}'; expected one of: {', '.join(VERDICTS)}",
                field="verdict",
            )
        q = q.where(col(ReachRow.verdict) == verdict)
    rows = session.execute(q.order_by(col(VpsRow.hostname), col(ReachRow.ip)))
    return _status_out(session, [(row, hostname) for row, hostname in rows], utcnow())


def _status_out(
    session: Session, rows: list[tuple[ReachRow, str]], now: datetime
) -> list[ReachabilityStatus]:
    """The listing's rows with each verdict's reasons, as decided when it was last computed
    (at the row's updated_at: a source that went silent since does not rewrite the why)."""
    roles = probes.roles(session, {s for row, _ in rows for s in row.state or {}})
    rounds, agreement = policy(session)
    out = []
    for row, hostname in rows:
        detail, _ = verdicts.decide(row.state, roles, row.updated_at, rounds, agreement)
        _, sources = verdicts.decide(row.state, roles, now, rounds, agreement)
        out.append(
            ReachabilityStatus(
                vps_id=row.vps_id,
                hostname=hostname,
                ip=row.ip,
                label=row.label,
                verdict=row.verdict,
                since=row.since,
                sources=dict(sorted(sources.items(), key=lambda kv: (not kv[1].china, kv[0]))),
                detail=detail if detail.verdict == row.verdict else None,
            )
        )
    return out


def selection(session: Session, vps_ref: Any, include_inactive: bool) -> list[Any]:
    """The WHERE (on the vps table) of a reachability listing: one VPS, or every active VPS
    (all of them with `include_inactive`), never one in the trash."""
    from sigma.services.vps import find, not_trashed

    if vps_ref:
        return [col(VpsRow.id) == find(session, vps_ref).id]
    shown = not_trashed(session)
    return [shown] if include_inactive else [col(VpsRow.status) == "active", shown]


def verdict_counts(
    session: Session, vps_ref: Any = None, include_inactive: bool = False
) -> dict[str, int]:
    """{verdict: number of (VPS, IP) pairs} of the selection, every verdict present."""
    from sigma.vocab import VERDICTS

    counts = dict.fromkeys(VERDICTS, 0)
    # the VPS as a set of ids (from a (status, ...) index), not a join: each reachability row
    # is then tested by its vps_id, never joined to the VPS row
    selected = select(col(VpsRow.id)).where(*selection(session, vps_ref, include_inactive))
    q = (
        select(col(ReachRow.verdict), func.count())
        .where(col(ReachRow.vps_id).in_(selected))
        .group_by(col(ReachRow.verdict))
    )
    for verdict, n in session.execute(q):
        counts[verdict] = counts.get(verdict, 0) + n
    return counts


def status_page(
    session: Session,
    actor: Actor,
    verdict: str | None = None,
    page: int = 1,
    per_page: int = 25,
    vps_ref: Any = None,
    include_inactive: bool = False,
) -> ReachabilityPage:
    """One page of `status`, problems first: blocked, down, degraded, unknown, then ok (by
    hostname and IP within a verdict), with the count of each verdict. The counts say which
    verdicts the page spans; only those are read, one query each, ordered and cut by the
    database: never the whole fleet's rows (whose per-source state is the bulk of the table)."""
    actor.require(READERS)
    from sigma.schemas.common import clamp_page
    from sigma.vocab import VERDICT_URGENCY, VERDICTS

    if verdict and verdict not in VERDICTS:
        raise InvalidInput(
            f"verdict: unknown verdict '{verdict}'; expected one of: {', '.join(VERDICTS)}",
            field="verdict",
        )
    try:
        page, per_page = clamp_page(int(page), int(per_page))
    except ValueError as exc:
        raise InvalidInput(f"page: {exc}", field="page") from None
    where = selection(session, vps_ref, include_inactive)
    counts = verdict_counts(session, vps_ref, include_inactive)
    skip, wanted = (page - 1) * per_page, per_page
    now = utcnow()
    data: list[ReachabilityStatus] = []
    for v in [verdict] if verdict else [*VERDICT_URGENCY, *(set(counts) - set(VERDICT_URGENCY))]:
        n = counts.get(v, 0)
        if skip >= n:
            skip -= n
            continue
        q = (
            select(ReachRow, col(VpsRow.hostname))
            .join(VpsRow, col(VpsRow.id) == ReachRow.vps_id)
            .where(*where, col(ReachRow.verdict) == v)
            .order_by(col(VpsRow.hostname), col(ReachRow.ip), col(ReachRow.vps_id))
            .offset(skip)
            .limit(wanted)
        )
        data += _status_out(session, [(row, h) for row, h in session.execute(q)], now)
        skip, wanted = 0, per_page - len(data)
        if wanted <= 0:
            break
    return ReachabilityPage(
        data=data,
        total=counts.get(verdict, 0) if verdict else sum(counts.values()),
        page=page,
        per_page=per_page,
        counts=counts,
    )
