"""Traffic quotas per billing period (issue 16, part B).

The agent sends its cumulative interface byte counters (received `rx_bytes`, sent
`tx_bytes`, summed over the machine's non-loopback interfaces) with each heartbeat. The
server keeps, per VPS and billing period, the bytes received and sent (vps_traffic):

- a period runs from a reset day (`traffic_reset_day`, 1-28, so that every month has it) to
  the same day of the next month, in UTC days (period_start);
- each report adds what each counter grew by since the latest report; a counter that went
  backwards was reset (a reboot, an agent restarted after a wrap, an interface gone): its
  whole value is new traffic. Usage is never negative and never an error to the agent;
- the first report ever only sets the baseline (the counters since boot are not this
  period's); the first report of a new period counts from the previous period's last
  counters, so nothing between two reports is lost at a boundary;
- totals saturate at 2^62 bytes instead of overflowing (an agent is hostile until proven
  otherwise: it can only inflate its own VPS's figures);
- the quota (`traffic_quota_gb`, GB of 10^9 bytes) counts `traffic_direction`: out, in, their
  sum, or the larger of the two. Crossing 80, 95 and 100 % is a `traffic-threshold` event
  of the VPS's timeline, once per period and threshold (`alerted`).

On PostgreSQL `sigma serve` writes heartbeats in batches by services.agents.HEARTBEAT_BATCH_SQL,
which applies these same rules in SQL (traffic_sql() below builds that part); `record` is
the same in Python, for the heartbeats that go one by one (SQLite, and any the batch does
not take). A test runs both on the same reports.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Float, case, cast, exists, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.lifecycle import VpsTraffic
from sigma.db.types import utcnow
from sigma.schemas.inventory import TrafficUsage
from sigma.services import history
from sigma.vocab import BYTES_PER_GB, TRAFFIC_THRESHOLDS

CAP = 2**62  # bytes: the most a counter or a period's total holds (BIGINT-safe sums)
MIN_PROJECTION_SECONDS = 3600  # no projection from less than an hour of a period


# ---------------------------------------------------------------- periods and levels


def period_start(day: date, reset_day: int) -> date:
    """The first day of the billing period `day` is in: the latest `reset_day` on or
    before it (reset_day 1-28 exists in every month)."""
    shifted = day - timedelta(days=reset_day - 1)
    return shifted.replace(day=1) + timedelta(days=reset_day - 1)


def period_end(start: date) -> date:
    """The first day of the next period (the same day of the next month)."""
    return date(start.year + start.month // 12, start.month % 12 + 1, start.day)


def grow(total: int, new: int, last: int) -> int:
    """`total` plus what a counter grew by from `last` to `new` (all of `new` when it went
    backwards: a reset), saturating at CAP."""
    delta = new - last if new >= last else new
    return min(total, CAP - delta) + delta


def used_bytes(bytes_in: int, bytes_out: int, direction: str) -> int:
    """The bytes a quota counts."""
    if direction == "out":
        return bytes_out
    if direction == "in":
        return bytes_in
    if direction == "max":
        return max(bytes_in, bytes_out)
    return bytes_in + bytes_out


def level(used: int, quota_gb: int | None) -> int:
    """The highest threshold (vocab.TRAFFIC_THRESHOLDS) `used` bytes reach of the quota;
    0 below the first, without a quota, or with nothing used."""
    if quota_gb is None or used <= 0:
        return 0
    for threshold in sorted(TRAFFIC_THRESHOLDS, reverse=True):
        if used * 100 >= quota_gb * BYTES_PER_GB * threshold:
            return threshold
    return 0


def crossed(before: int, after: int) -> list[int]:
    """The thresholds above `before` and at most `after`, in order."""
    return [t for t in TRAFFIC_THRESHOLDS if before < t <= after]


def threshold_details(
    threshold: int, start: date, used: int, quota_gb: int | None, direction: str
) -> dict[str, Any]:
    """What a `traffic-threshold` event says (the batch statement writes the same keys)."""
    return {
        "threshold": threshold,
        "period_start": start.isoformat(),
        "used_bytes": used,
        "quota_gb": quota_gb,
        "direction": direction,
    }


# ---------------------------------------------------------------- recording (one heartbeat)


def _insert_ignore(session: Session, values: dict[str, Any]) -> bool:
    """INSERT the period's row unless it exists (another report of the same moment); whether
    this one inserted it."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(VpsTraffic).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(VpsTraffic).values(**values).on_conflict_do_nothing()
    return bool(getattr(session.execute(stmt), "rowcount", 0))


def record(
    session: Session, row: VpsRow, rx: int, tx: int, now: datetime | None = None
) -> list[int]:
    """Account one report of counters (`rx`, `tx`) for `row`'s current period, in the
    caller's transaction; the thresholds it crossed (each recorded in the timeline)."""
    now = now or utcnow()
    rx, tx = min(max(rx, 0), CAP), min(max(tx, 0), CAP)
    start = period_start(now.astimezone(UTC).date(), row.traffic_reset_day)
    key = (col(VpsTraffic.vps_id) == row.id, col(VpsTraffic.period_start) == start)
    current = session.scalars(select(VpsTraffic).where(*key).with_for_update()).first()
    if current is None:
        prev = session.scalars(
            select(VpsTraffic)
            .where(col(VpsTraffic.vps_id) == row.id)
            .order_by(col(VpsTraffic.period_start).desc())
            .limit(1)
        ).first()
        bytes_in = grow(0, rx, prev.last_rx) if prev is not None else 0
        bytes_out = grow(0, tx, prev.last_tx) if prev is not None else 0
        reached = level(
            used_bytes(bytes_in, bytes_out, row.traffic_direction), row.traffic_quota_gb
        )
        values = {
            "vps_id": row.id,
            "period_start": start,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "last_rx": rx,
            "last_tx": tx,
            "alerted": reached,
            "alerted_before": 0,
            "updated_at": now,
        }
        if _insert_ignore(session, values):
            return _alerts(session, row, start, 0, reached, bytes_in, bytes_out, now)
        current = session.scalars(select(VpsTraffic).where(*key).with_for_update()).one()
    current.bytes_in = grow(current.bytes_in, rx, current.last_rx)
    current.bytes_out = grow(current.bytes_out, tx, current.last_tx)
    current.last_rx, current.last_tx = rx, tx
    reached = level(
        used_bytes(current.bytes_in, current.bytes_out, row.traffic_direction),
        row.traffic_quota_gb,
    )
    before = current.alerted
    current.alerted_before = before
    current.alerted = max(before, reached)
    current.updated_at = now
    session.flush()
    return _alerts(
        session, row, start, before, current.alerted, current.bytes_in, current.bytes_out, now
    )


def record_provider(
    session: Session,
    row: VpsRow,
    used: int,
    now: datetime | None = None,
    rows: list[VpsTraffic] | None = None,
) -> list[int]:
    """The provider's own count of this period's traffic (issue 19: Hetzner's outgoing
    traffic, KiwiVM's data counter), for a VPS whose agent reports none: the period's row
    carries it as the direction the quota counts, so quota levels, notices and the timeline
    work as with an agent. A VPS with an agent's counters keeps the agent's figures."""
    now = now or utcnow()
    used = min(max(used, 0), CAP)
    start = period_start(now.astimezone(UTC).date(), row.traffic_reset_day)
    if rows is None:  # `rows`: the VPS's traffic rows, when the caller read them already
        rows = list(session.scalars(select(VpsTraffic).where(col(VpsTraffic.vps_id) == row.id)))
    if any(r.last_rx or r.last_tx for r in rows):
        return []
    current = next((r for r in rows if r.period_start == start), None)
    bytes_in, bytes_out = (used, 0) if row.traffic_direction == "in" else (0, used)
    reached = level(used, row.traffic_quota_gb)
    if current is not None and (current.bytes_in, current.bytes_out) == (bytes_in, bytes_out):
        return []  # nothing new since the last count
    if current is None:
        values = {
            "vps_id": row.id,
            "period_start": start,
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "alerted": reached,
            "alerted_before": 0,
            "updated_at": now,
        }
        if _insert_ignore(session, values):
            return _alerts(session, row, start, 0, reached, bytes_in, bytes_out, now, "sync")
        return []
    current.bytes_in, current.bytes_out = bytes_in, bytes_out
    before = current.alerted
    current.alerted_before, current.alerted = before, max(before, reached)
    current.updated_at = now
    session.flush()
    return _alerts(session, row, start, before, current.alerted, bytes_in, bytes_out, now, "sync")


def _alerts(
    session: Session,
    row: VpsRow,
    start: date,
    before: int,
    after: int,
    bytes_in: int,
    bytes_out: int,
    now: datetime,
    source: str = "agent",
) -> list[int]:
    thresholds = crossed(before, after)
    used = used_bytes(bytes_in, bytes_out, row.traffic_direction)
    for threshold in thresholds:
        history.record(
            session,
            row.id,
            "traffic-threshold",
            source,
            None,
            threshold_details(threshold, start, used, row.traffic_quota_gb, row.traffic_direction),
            hostname=row.hostname,
            at=now,
        )
    return thresholds


# ---------------------------------------------------------------- reading


def usage(session: Session, row: VpsRow, now: datetime | None = None) -> TrafficUsage | None:
    """The VPS's traffic in its current period, with its share of the quota and the use
    projected to the period's end; None when it has neither a quota nor any report."""
    now = now or utcnow()
    start = period_start(now.astimezone(UTC).date(), row.traffic_reset_day)
    current = session.get(VpsTraffic, (row.id, start))
    if current is None and row.traffic_quota_gb is None:
        has_any = session.scalar(
            select(col(VpsTraffic.vps_id)).where(col(VpsTraffic.vps_id) == row.id).limit(1)
        )
        if has_any is None:
            return None
    bytes_in = current.bytes_in if current else 0
    bytes_out = current.bytes_out if current else 0
    return summarise(
        start,
        bytes_in,
        bytes_out,
        row.traffic_direction,
        row.traffic_quota_gb,
        now,
        current.updated_at if current else None,
    )


def summarise(
    start: date,
    bytes_in: int,
    bytes_out: int,
    direction: str,
    quota_gb: int | None,
    now: datetime,
    updated_at: datetime | None = None,
) -> TrafficUsage:
    """A period's figures as TrafficUsage: the share of the quota (2 decimals), and the
    projection to the period's end at the average rate since it began (from its second
    hour on)."""
    end = period_end(start)
    used = used_bytes(bytes_in, bytes_out, direction)
    quota = None if quota_gb is None else quota_gb * BYTES_PER_GB
    began = datetime(start.year, start.month, start.day, tzinfo=UTC)
    elapsed = (now - began).total_seconds()
    length = (end - start).days * 86400
    projected = None
    if elapsed >= MIN_PROJECTION_SECONDS:
        projected = int(Decimal(used) * Decimal(length) / Decimal(int(min(elapsed, length))))

    def share(value: int | None) -> float | None:
        if value is None or quota is None:
            return None
        if quota == 0:
            return 0.0 if value == 0 else 100.0
        return round(value * 100 / quota, 2)

    return TrafficUsage(
        period_start=start,
        period_end=end,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        used_bytes=used,
        quota_bytes=quota,
        percent=share(used),
        projected_bytes=projected,
        projected_percent=share(projected),
        updated_at=updated_at,
    )


def over_quota_condition(percent: Decimal, today: date | None = None) -> ColumnElement[bool]:
    """The VPS with a quota whose traffic in their current period is at least `percent` % of
    it (the listing's `over_quota` filter). The current period of each reset day is known
    here, so the row of that period is matched by a CASE over the 28 reset days."""
    if percent <= 0:
        return col(VpsRow.traffic_quota_gb).is_not(None)
    today = today or utcnow().date()
    starts = {day: literal(period_start(today, day), Date) for day in range(1, 29)}
    t = VpsTraffic
    bytes_in, bytes_out = cast(col(t.bytes_in), Float), cast(col(t.bytes_out), Float)
    used = case(
        (col(VpsRow.traffic_direction) == "out", bytes_out),
        (col(VpsRow.traffic_direction) == "in", bytes_in),
        (
            col(VpsRow.traffic_direction) == "max",
            case((bytes_in > bytes_out, bytes_in), else_=bytes_out),
        ),
        else_=bytes_in + bytes_out,
    )
    limit = cast(col(VpsRow.traffic_quota_gb), Float) * (BYTES_PER_GB / 100 * float(percent))
    period = exists().where(
        col(t.vps_id) == VpsRow.id,
        col(t.period_start) == case(starts, value=col(VpsRow.traffic_reset_day)),
        used >= limit,
        used > 0,
    )
    return col(VpsRow.traffic_quota_gb).is_not(None) & period


# ---------------------------------------------------------------- the batch statement's part


def _delta(new: str, last: str) -> str:
    return f"(CASE WHEN {new} >= {last} THEN {new} - {last} ELSE {new} END)"


def _grow(total: str, new: str, last: str) -> str:
    """grow() in SQL: never above CAP, never an overflow (each term is at most CAP)."""
    d = _delta(new, last)
    return f"LEAST({total}, {CAP} - {d}) + {d}"


def _used(bytes_in: str, bytes_out: str, direction: str) -> str:
    """used_bytes() in SQL, as numeric (the sum of two BIGINT totals may not fit one)."""
    return (
        f"(CASE {direction} WHEN 'out' THEN {bytes_out}::numeric "
        f"WHEN 'in' THEN {bytes_in}::numeric "
        f"WHEN 'max' THEN GREATEST({bytes_in}, {bytes_out})::numeric "
        f"ELSE {bytes_in}::numeric + {bytes_out} END)"
    )


def _level(used: str, quota: str) -> str:
    """level() in SQL."""
    steps = " ".join(
        f"WHEN {used} * 100 >= {quota}::numeric * {BYTES_PER_GB * t} THEN {t}"
        for t in sorted(TRAFFIC_THRESHOLDS, reverse=True)
    )
    return f"(CASE WHEN {quota} IS NULL OR {used} <= 0 THEN 0 {steps} ELSE 0 END)"


def batch_sql() -> str:
    """The CTEs HEARTBEAT_BATCH_SQL runs for the heartbeats that carry counters, the rules
    of record() in one statement. They read `pick` (one row per heartbeat and VPS, with
    rx, tx and the VPS's rd, quota, dir, host) and `moved` (the VPS whose heartbeats go
    through heartbeat() alone, which records their traffic itself), and the parameters
    `starts` (date[]: the current period's first day for each reset day 1-28, from
    period_start) and `now`:

    - tl: the latest heartbeat with counters of each VPS of the batch;
    - tr: its period's row (the current one found by its key, else the latest before it),
      inserted (counting from the previous period's last counters at a boundary, from
      nothing the first time) or, when it exists, grown by the deltas against the row as it
      is when locked (a concurrent batch's report is never lost); `alerted` is raised to
      the level the report reaches (computed from the row as read: the same figure unless
      two batches race on one VPS) and `alerted_before` keeps the level before;
    - tev: a `traffic-threshold` event in vps_history for each threshold it crossed.
    """
    thresholds = ",".join(str(t) for t in sorted(TRAFFIC_THRESHOLDS))
    # the period's totals with this report, as numeric (two BIGINT totals may not fit one)
    used = _used(
        "(coalesce(c.bytes_in, 0)::numeric + d.drx)",
        "(coalesce(c.bytes_out, 0)::numeric + d.dtx)",
        "tl.dir",
    )
    return f"""
, tl AS (
    SELECT DISTINCT ON (p.id) p.id, p.rx, p.tx, p.quota, p.dir, p.host,
        (%(starts)s::date[])[p.rd] AS ps
    FROM pick p
    WHERE p.rx IS NOT NULL AND p.status <> 'retired' AND p.id NOT IN (SELECT id FROM moved)
    ORDER BY p.id, p.n DESC
), tr AS (
    INSERT INTO vps_traffic AS t (vps_id, period_start, bytes_in, bytes_out, last_rx, last_tx,
        alerted, alerted_before, updated_at)
    SELECT tl.id, tl.ps, d.drx, d.dtx, tl.rx, tl.tx, {_level("u.used", "tl.quota")}, 0, %(now)s
    FROM tl
    LEFT JOIN vps_traffic c ON c.vps_id = tl.id AND c.period_start = tl.ps
    LEFT JOIN LATERAL (
        SELECT l.last_rx, l.last_tx FROM vps_traffic l
        WHERE l.vps_id = tl.id AND c.vps_id IS NULL
        ORDER BY l.period_start DESC LIMIT 1
    ) prev ON true
    CROSS JOIN LATERAL (
        SELECT CASE WHEN c.vps_id IS NOT NULL THEN {_delta("tl.rx", "c.last_rx")}
                    WHEN prev.last_rx IS NOT NULL THEN {_delta("tl.rx", "prev.last_rx")}
                    ELSE 0 END AS drx,
               CASE WHEN c.vps_id IS NOT NULL THEN {_delta("tl.tx", "c.last_tx")}
                    WHEN prev.last_tx IS NOT NULL THEN {_delta("tl.tx", "prev.last_tx")}
                    ELSE 0 END AS dtx
    ) d
    CROSS JOIN LATERAL (
        SELECT {used} AS used
    ) u
    ON CONFLICT (vps_id, period_start) DO UPDATE SET
        bytes_in = {_grow("t.bytes_in", "EXCLUDED.last_rx", "t.last_rx")},
        bytes_out = {_grow("t.bytes_out", "EXCLUDED.last_tx", "t.last_tx")},
        last_rx = EXCLUDED.last_rx,
        last_tx = EXCLUDED.last_tx,
        alerted_before = t.alerted,
        alerted = GREATEST(t.alerted, EXCLUDED.alerted),
        updated_at = EXCLUDED.updated_at
    RETURNING t.vps_id, t.period_start, t.bytes_in, t.bytes_out, t.alerted_before, t.alerted
), tev AS (
    INSERT INTO vps_history (id, vps_id, at, kind, source, actor, hostname, details)
    SELECT gen_random_uuid(), x.vps_id, %(now)s, 'traffic-threshold', 'agent', '', q.host,
        jsonb_build_object('threshold', th, 'period_start', x.period_start,
            'used_bytes', {_used("x.bytes_in", "x.bytes_out", "q.dir")},
            'quota_gb', q.quota, 'direction', q.dir)
    -- the few rows that crossed a threshold first, each looking its VPS up in tl (a join of
    -- tr and tl would be planned as a nested loop over the whole batch: n x n)
    FROM (SELECT * FROM tr WHERE tr.alerted > tr.alerted_before) x
    CROSS JOIN LATERAL (SELECT tl.host, tl.quota, tl.dir FROM tl WHERE tl.id = x.vps_id LIMIT 1) q
    CROSS JOIN unnest('{{{thresholds}}}'::int[]) AS th
    WHERE th > x.alerted_before AND th <= x.alerted
)"""


def batch_params(now: datetime) -> dict[str, Any]:
    """The parameters batch_sql() adds: `starts`, the current period's first day for each
    reset day 1-28 (a PostgreSQL date[] literal)."""
    today = now.astimezone(UTC).date()
    return {
        "starts": "{" + ",".join(period_start(today, d).isoformat() for d in range(1, 29)) + "}"
    }
