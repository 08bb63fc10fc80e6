"""IP checks summed per bucket of time: how results are added.

Each result counts in its 5-minute, hourly and 6-hour bucket of (IP, source, check key), in
table ip_check_rollups, and in the same buckets of (source, check key) over every IP, in
ip_check_fleet_rollups (the fleet's chart per carrier). A batch is summed in Python first (one
row per bucket and key), then merged into each table by one INSERT ... ON CONFLICT DO UPDATE
that adds the counts and keeps the extremes: exact whatever the order results arrive in, a
late one from a spool included, and safe when two batches meet on a bucket (the row lock of
the upsert serialises them; rows are merged in key order, so two batches never deadlock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.monitoring import IpCheck, IpCheckFleetRollup, IpCheckRollup

RESOLUTIONS = (300, 3600, 21600)  # seconds: 5-minute, hourly and 6-hour buckets
OUTCOME_COLUMNS = {
    "ok": "n_ok",
    "refused": "n_refused",
    "timeout": "n_timeout",
    "reset": "n_reset",
    "tls_failed": "n_tls_failed",
    "http_error": "n_http_error",
    "unreachable": "n_unreachable",
    None: "n_unclassified",
}
SUMS = ("checks", "latency_sum", "latency_n", "loss_sum", "loss_n", *OUTCOME_COLUMNS.values())
KEY = ("ip", "resolution", "bucket", "source", "check_key")
FLEET_KEY = ("resolution", "bucket", "source", "check_key")
CHUNK = 2000


def bucket_of(at: datetime, resolution: int) -> datetime:
    seconds = int(at.astimezone(UTC).timestamp())
    return datetime.fromtimestamp(seconds - seconds % resolution, UTC)


def check_key(check_type: str, port: int | None) -> str:
    """A check's key: its type, with the port when the probe said which (tcp:22, tls:443)."""
    return check_type if port is None else f"{check_type}:{port}"


def _outcome(check: Mapping[str, Any]) -> str | None:
    outcome = check.get("outcome")
    if outcome is None and check.get("success"):
        return "ok"  # an older probe's success
    return outcome


def _new_row(key: tuple[Any, ...], names: tuple[str, ...]) -> dict[str, Any]:
    row = dict(zip(names, key, strict=True), latency_min=None, latency_max=None)
    row.update(dict.fromkeys(SUMS, 0))
    row["loss_sum"] = 0.0
    return row


def _count(row: dict[str, Any], column: str, latency: Any, loss: Any) -> None:
    row["checks"] += 1
    row[column] += 1
    if latency is not None:
        row["latency_sum"] += latency
        row["latency_n"] += 1
        low, high = row["latency_min"], row["latency_max"]
        row["latency_min"] = latency if low is None else min(low, latency)
        row["latency_max"] = latency if high is None else max(high, latency)
    if loss is not None:
        row["loss_sum"] += float(loss)
        row["loss_n"] += 1


def summed(
    checks: Iterable[Mapping[str, Any]], resolutions: tuple[int, ...] = RESOLUTIONS
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rollup rows of these checks (dicts with ip, source, check_type, port, vps_id,
    checked_at, success, outcome, latency_ms, loss_pct): one per bucket and (IP, source,
    check key), and one per bucket and (source, check key) for the fleet."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    fleet: dict[tuple[Any, ...], dict[str, Any]] = {}
    for c in checks:
        key_name = check_key(c["check_type"], c.get("port"))
        column = OUTCOME_COLUMNS.get(_outcome(c), "n_unclassified")
        latency, loss = c.get("latency_ms"), c.get("loss_pct")
        for resolution in resolutions:
            bucket = bucket_of(c["checked_at"], resolution)
            k = (c["ip"], resolution, bucket, c["source"], key_name)
            row = rows.get(k)
            if row is None:
                row = rows[k] = _new_row(k, KEY)
                row["vps_id"] = c["vps_id"]
            _count(row, column, latency, loss)
            fk = k[1:]
            fleet_row = fleet.get(fk)
            if fleet_row is None:
                fleet_row = fleet[fk] = _new_row(fk, FLEET_KEY)
            _count(fleet_row, column, latency, loss)
    return list(rows.values()), list(fleet.values())


def add(session: Session | Connection, checks: Iterable[Mapping[str, Any]]) -> int:
    """Count these checks into their buckets; the number of per-IP bucket rows written."""
    rows, fleet = summed(checks)
    merge(session, rows, fleet)
    return len(rows)


def merge(
    session: Session | Connection, rows: list[dict[str, Any]], fleet: list[dict[str, Any]]
) -> None:
    """Add summed rows (per IP, and for the fleet) into their tables."""
    bind = session.get_bind() if isinstance(session, Session) else session
    postgresql = bind.dialect.name == "postgresql"
    for table, key, part in (
        (IpCheckRollup.__table__, KEY, rows),
        (IpCheckFleetRollup.__table__, FLEET_KEY, fleet),
    ):
        if not part:
            continue
        # in a fixed order: two batches merging into the same buckets never deadlock
        part.sort(key=lambda r: tuple(r[k] for k in key))
        if postgresql:
            _merge_postgresql(session, table.name, part)
        else:
            _merge_sqlite(session, table, key, part)


def _merge_sqlite(
    session: Session | Connection, table: Any, key: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    stmt = sqlite_insert(table)
    new, old = stmt.excluded, table.c
    update: dict[str, Any] = {name: old[name] + new[name] for name in SUMS}
    # SQLite's scalar min/max of two values, where either may be NULL (no latency in one)
    update["latency_min"] = func.min(
        func.coalesce(old.latency_min, new.latency_min),
        func.coalesce(new.latency_min, old.latency_min),
    )
    update["latency_max"] = func.max(
        func.coalesce(old.latency_max, new.latency_max),
        func.coalesce(new.latency_max, old.latency_max),
    )
    upsert = stmt.on_conflict_do_update(index_elements=list(key), set_=update)
    for i in range(0, len(rows), CHUNK):
        session.execute(upsert, rows[i : i + CHUNK])


# PostgreSQL: the rows as one array a column, unnested by one statement (an executemany is a
# statement a row: the batch route's ingestion took 60 % longer with it)
PG_TYPES = {
    "ip": "text",
    "resolution": "int",
    "bucket": "timestamptz",
    "source": "text",
    "check_key": "text",
    "vps_id": "uuid",
    "checks": "int",
    "latency_sum": "bigint",
    "latency_n": "int",
    "latency_min": "int",
    "latency_max": "int",
    "loss_sum": "float8",
    "loss_n": "int",
    **{name: "int" for name in OUTCOME_COLUMNS.values()},
}


def _pg_upsert(table: str, key: tuple[str, ...]) -> tuple[Any, dict[str, str]]:
    per_ip = "ip" in key  # the fleet's rows have neither the IP nor its VPS
    types = {n: t for n, t in PG_TYPES.items() if per_ip or n not in ("ip", "vps_id")}
    added = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in SUMS)
    return text(
        f"INSERT INTO {table} ({', '.join(types)}) "
        f"SELECT * FROM unnest({', '.join(f'CAST(:{n} AS {t}[])' for n, t in types.items())}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {added}, "
        f"latency_min = LEAST({table}.latency_min, EXCLUDED.latency_min), "
        f"latency_max = GREATEST({table}.latency_max, EXCLUDED.latency_max)"
    ), types


PG_UPSERTS = {
    "ip_check_rollups": _pg_upsert("ip_check_rollups", KEY),
    "ip_check_fleet_rollups": _pg_upsert("ip_check_fleet_rollups", FLEET_KEY),
}


def _merge_postgresql(
    session: Session | Connection, table: str, rows: list[dict[str, Any]]
) -> None:
    upsert, types = PG_UPSERTS[table]
    for i in range(0, len(rows), CHUNK * 5):
        part = rows[i : i + CHUNK * 5]
        session.execute(upsert, {name: [r[name] for r in part] for name in types})


def backfill(conn: Connection, resolutions: tuple[int, ...], fleet: bool) -> int:
    """Sum every stored raw check into the buckets of these resolutions (and the fleet's),
    for the migration that adds a store: it writes only what its schema holds."""
    q = select(
        col(IpCheck.ip),
        col(IpCheck.source),
        col(IpCheck.check_type),
        col(IpCheck.port),
        col(IpCheck.vps_id),
        col(IpCheck.checked_at),
        col(IpCheck.success),
        col(IpCheck.outcome),
        col(IpCheck.latency_ms),
        col(IpCheck.loss_pct),
    ).order_by(col(IpCheck.checked_at), col(IpCheck.id))
    written = 0
    batch: list[dict[str, Any]] = []

    def flush() -> int:
        rows, fleet_rows = summed(batch, resolutions)
        merge(conn, rows, fleet_rows if fleet else [])
        return len(rows)

    for r in conn.execute(q.execution_options(yield_per=CHUNK)):
        batch.append(dict(r._mapping))
        if len(batch) >= CHUNK * 5:
            written += flush()
            batch = []
    return written + flush()


def _combine(row: dict[str, Any], other: Mapping[str, Any]) -> None:
    for name in SUMS:
        row[name] += other[name]
    for name, pick in (("latency_min", min), ("latency_max", max)):
        values = [v for v in (row[name], other[name]) if v is not None]
        row[name] = pick(values) if values else None


def coarsen(conn: Connection, source: int, target: int) -> int:
    """Sum the stored buckets of one resolution into a coarser one (the migration that adds
    the coarser store); the number of rows written. Read in key order, an IP at a time."""
    table: Any = IpCheckRollup.__table__
    q = (
        select(table)
        .where(table.c.resolution == source)
        .order_by(table.c.ip, table.c.bucket, table.c.source, table.c.check_key)
    )
    written = 0
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    last_ip = None
    for r in conn.execute(q.execution_options(yield_per=CHUNK)):
        if r.ip != last_ip and len(rows) >= CHUNK:
            merge(conn, list(rows.values()), [])
            written, rows = written + len(rows), {}
        last_ip = r.ip
        k = (r.ip, target, bucket_of(r.bucket, target), r.source, r.check_key)
        row = rows.get(k)
        if row is None:
            row = rows[k] = _new_row(k, KEY)
            row["vps_id"] = r.vps_id
        _combine(row, dict(r._mapping))
    merge(conn, list(rows.values()), [])
    return written + len(rows)


def derive_fleet(conn: Connection) -> int:
    """Fill the fleet's buckets from the per-IP ones (the migration that adds them)."""
    table: Any = IpCheckRollup.__table__
    fleet: Any = IpCheckFleetRollup.__table__
    sums = [func.sum(table.c[name]) for name in SUMS]
    q = select(
        *(table.c[name] for name in FLEET_KEY),
        *sums,
        func.min(table.c.latency_min),
        func.max(table.c.latency_max),
    ).group_by(*(table.c[name] for name in FLEET_KEY))
    columns = [*FLEET_KEY, *SUMS, "latency_min", "latency_max"]
    result = conn.execute(fleet.insert().from_select(columns, q))
    return result.rowcount or 0
