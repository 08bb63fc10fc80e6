"""IP checks summed per bucket of time (table ip_check_rollups): how results are added.

Each result counts in its 5-minute and its hourly bucket of (IP, source, check key). A batch
is summed in Python first (one row per bucket and key), then merged into the table by one
INSERT ... ON CONFLICT DO UPDATE that adds the counts and keeps the extremes: exact whatever
the order results arrive in, a late one from a probe's spool included, and safe when two
batches meet on a bucket (the row lock of the upsert serialises them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.monitoring import IpCheck, IpCheckRollup

RESOLUTIONS = (300, 3600)  # seconds: 5-minute and hourly buckets
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


def summed(checks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rollup rows of these checks (dicts with ip, source, check_type, port, vps_id,
    checked_at, success, outcome, latency_ms, loss_pct), one per bucket and key."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for c in checks:
        key_name = check_key(c["check_type"], c.get("port"))
        column = OUTCOME_COLUMNS.get(_outcome(c), "n_unclassified")
        latency, loss = c.get("latency_ms"), c.get("loss_pct")
        for resolution in RESOLUTIONS:
            bucket = bucket_of(c["checked_at"], resolution)
            k = (c["ip"], resolution, bucket, c["source"], key_name)
            row = rows.get(k)
            if row is None:
                row = rows[k] = dict(
                    zip(KEY, k, strict=True),
                    vps_id=c["vps_id"],
                    latency_min=None,
                    latency_max=None,
                    **dict.fromkeys(SUMS, 0),
                )
                row["loss_sum"] = 0.0
            row["checks"] += 1
            row[column] += 1
            if latency is not None:
                row["latency_sum"] += latency
                row["latency_n"] += 1
                row["latency_min"] = (
                    latency if row["latency_min"] is None else min(row["latency_min"], latency)
                )
                row["latency_max"] = (
                    latency if row["latency_max"] is None else max(row["latency_max"], latency)
                )
            if loss is not None:
                row["loss_sum"] += float(loss)
                row["loss_n"] += 1
    return list(rows.values())


def add(session: Session | Connection, checks: Iterable[Mapping[str, Any]]) -> int:
    """Count these checks into their buckets; the number of bucket rows written."""
    rows = summed(checks)
    if not rows:
        return 0
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name == "postgresql":
        _add_postgresql(session, rows)
        return len(rows)
    table: Any = IpCheckRollup.__table__
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table)
        least: Any = func.least
        greatest: Any = func.greatest
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)
        least, greatest = func.min, func.max  # SQLite's scalar min/max of two values
    new, old = stmt.excluded, table.c
    update: dict[str, Any] = {name: old[name] + new[name] for name in SUMS}
    # min/max of two values where either may be NULL (no latency in one of them)
    update["latency_min"] = least(
        func.coalesce(old.latency_min, new.latency_min),
        func.coalesce(new.latency_min, old.latency_min),
    )
    update["latency_max"] = greatest(
        func.coalesce(old.latency_max, new.latency_max),
        func.coalesce(new.latency_max, old.latency_max),
    )
    upsert = stmt.on_conflict_do_update(index_elements=list(KEY), set_=update)
    # in a fixed order: two batches merging into the same buckets never deadlock
    rows.sort(key=lambda r: (r["ip"], r["resolution"], r["bucket"], r["source"], r["check_key"]))
    for i in range(0, len(rows), CHUNK):
        session.execute(upsert, rows[i : i + CHUNK])
    return len(rows)


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
_ADDED = ", ".join(f"{name} = ip_check_rollups.{name} + EXCLUDED.{name}" for name in SUMS)
PG_UPSERT = text(
    f"INSERT INTO ip_check_rollups ({', '.join(PG_TYPES)}) "
    f"SELECT * FROM unnest({', '.join(f'CAST(:{n} AS {t}[])' for n, t in PG_TYPES.items())}) "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {_ADDED}, "
    "latency_min = LEAST(ip_check_rollups.latency_min, EXCLUDED.latency_min), "
    "latency_max = GREATEST(ip_check_rollups.latency_max, EXCLUDED.latency_max)"
)


def _add_postgresql(session: Session | Connection, rows: list[dict[str, Any]]) -> None:
    rows.sort(key=lambda r: (r["ip"], r["resolution"], r["bucket"], r["source"], r["check_key"]))
    for i in range(0, len(rows), CHUNK * 5):
        part = rows[i : i + CHUNK * 5]
        session.execute(PG_UPSERT, {name: [r[name] for r in part] for name in PG_TYPES})


def backfill(conn: Connection) -> int:
    """Sum every stored raw check into the buckets (the migration that adds the table)."""
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
    for r in conn.execute(q.execution_options(yield_per=CHUNK)):
        batch.append(dict(r._mapping))
        if len(batch) >= CHUNK * 5:
            written += add(conn, batch)
            batch = []
    return written + add(conn, batch)
