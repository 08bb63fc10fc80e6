"""One IP's check history (issue 17) out of a big rollup table, server side, PostgreSQL and SQLite.

Budget (bench/README.md): `services.check_history.history` p50 <= 50 ms for one IP over 30
days (6-hour buckets; issue 17) and over 6 hours (raw checks), and `fleet_history` (every IP
summed per source) over 30 days. Measured beside them, not judged: 24 hours (5-minute
buckets) and the hourly store over 30 days (what the 30-day query read before the 6-hour
store). Each is
the service call of GET /api/ip-checks/history in the route's read-only unit of work; the
store is named (`resolution` 1h, 5m, raw: what `auto` picks for these spans) and the span
ends at the data's newest bucket, so that a `--reuse`d database answers the same.

The data, generated directly (COPY on PostgreSQL, executemany on SQLite; not through the
service), in the order results arrive (time first; in each round source by source and check by
check, as probes' batches hold one check of many IPs), so that one IP's rows are spread over
the table as they would be:
- ip_check_rollups: 300 IPs x 6 sources (3 in China, 3 controls) x 3 checks (icmp, tcp:22,
  tls:443), 6-hour and hourly buckets over 30 days and 5-minute buckets over 3 days (8.9
  million rows), and the fleet's buckets summed from them (migration 0018's derive_fleet);
- ip_checks: the same series' raw results every 5 minutes over the last 2 days (3.1 million);
- one more IP with a single series (cn-ct, icmp) over the same spans: the floor, the same
  query shape returning 1/18 of the points; and a primary-key lookup of one bucket row.
The VPS the IPs belong to: a fleet of bench/fleet.py (10,000 VPS).

    python bench/check_history.py                        # PG sigma_bench_hist + a new SQLite file
    python bench/check_history.py --sqlite /tmp/hist.db --reuse          # keep the data
    python bench/check_history.py --skip-sqlite --reuse --profile        # + cProfile

Exit status 1 when a query misses its budget.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from fleet import ensure_fleet  # noqa: E402
from verdicts import PROBES, register_probes  # noqa: E402

BUDGET_MS = 50.0
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/sigma_bench_hist"
SOURCES = tuple(p[0] for p in PROBES)
CHECKS = (("icmp", None), ("tcp", 22), ("tls", 443))
ROUND = 300  # seconds between two rounds of a probe
ROLLUP_COLUMNS = (
    "ip",
    "resolution",
    "bucket",
    "source",
    "check_key",
    "vps_id",
    "checks",
    "latency_sum",
    "latency_n",
    "latency_min",
    "latency_max",
    "loss_sum",
    "loss_n",
    "n_ok",
    "n_refused",
    "n_timeout",
    "n_reset",
    "n_tls_failed",
    "n_http_error",
    "n_unreachable",
    "n_unclassified",
)
RAW_COLUMNS = (
    "id",
    "vps_id",
    "ip",
    "check_type",
    "source",
    "success",
    "latency_ms",
    "checked_at",
    "outcome",
    "port",
    "loss_pct",
    "jitter_ms",
)
CASES = (
    # (label, resolution, span, judged)
    ("30 days, 6-hour", "6h", timedelta(days=30), True),
    ("30 days, hourly (the store before)", "1h", timedelta(days=30), False),
    # not the budget (30 days): 5,184 bucket rows into 2,610 points, shown beside it
    ("24 hours, 5-minute", "5m", timedelta(hours=24), False),
    ("6 hours, raw", "raw", timedelta(hours=6), True),
)


def _key(check_type: str, port: int | None) -> str:
    return check_type if port is None else f"{check_type}:{port}"


# ------------------------------------------------------------------ data


def _targets(url: str, n_ips: int) -> list[tuple[str, Any]]:
    """(ip, vps_id): the first address of the first n_ips + 1 active VPS (by id)."""
    from sqlalchemy import select

    from sigma.db.engine import make_engine
    from sigma.db.models.core import Vps

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Vps.id, Vps.ip_addresses).where(Vps.status == "active").order_by(Vps.id)
            ).all()
    finally:
        engine.dispose()
    out, seen = [], set()
    for vps_id, ips in rows:
        for entry in ips or []:
            ip = entry.get("ip")
            if ip and ip not in seen:
                seen.add(ip)
                out.append((ip, vps_id))
                break
        if len(out) > n_ips:
            break
    return out


def _series(targets: list[tuple[str, Any]]) -> list[tuple[str, Any, str, str, str, int | None]]:
    """(ip, vps_id, source, check key, check type, port) of every series: 18 per IP, and one
    for the last (single-series) IP; in the order a round's results arrive (a probe's batch
    holds one check of many IPs), so that one IP's rows of a bucket are far apart."""
    out = []
    for source in SOURCES:
        for check_type, port in CHECKS:
            for ip, vps_id in targets[:-1]:
                out.append((ip, vps_id, source, _key(check_type, port), check_type, port))
    ip, vps_id = targets[-1]
    out.append((ip, vps_id, SOURCES[0], "icmp", "icmp", None))
    return out


def _floor_to(t: datetime, seconds: int) -> datetime:
    s = int(t.timestamp())
    return datetime.fromtimestamp(s - s % seconds, UTC)


def rollup_rows(series, end: datetime, days_1h: int, days_5m: int, seed: int) -> Iterator[tuple]:
    """The bucket rows, bucket by bucket (as they are created), one per series: mostly
    successes, a few timeouts; ICMP with a little loss."""
    rng = random.Random(seed)
    rnd = rng.random
    for resolution, days in ((21600, days_1h), (3600, days_1h), (300, days_5m)):
        last = _floor_to(end, resolution)
        n_buckets = days * 86400 // resolution
        per_bucket = resolution // ROUND
        for b in range(n_buckets - 1, -1, -1):
            bucket = last - timedelta(seconds=b * resolution)
            for ip, vps_id, source, key, check_type, _port in series:
                bad = per_bucket if rnd() < 0.01 else (1 if rnd() < 0.03 else 0)
                oks = per_bucket - bad
                base = 30 + int(rnd() * 250)
                icmp = check_type == "icmp"
                yield (
                    ip,
                    resolution,
                    bucket,
                    source,
                    key,
                    vps_id,
                    per_bucket,
                    base * oks + int(rnd() * 10 * oks),
                    oks,
                    base if oks else None,
                    base + int(rnd() * 40) if oks else None,
                    round(rnd() * 2 * per_bucket, 1) if icmp else 0.0,
                    per_bucket if icmp else 0,
                    oks,
                    0,
                    0 if icmp else bad,
                    0,
                    0,
                    0,
                    bad if icmp else 0,
                    0,
                )


def raw_rows(series, end: datetime, hours: int, seed: int) -> Iterator[tuple]:
    """The raw results, round by round, every series in each round."""
    rng = random.Random(seed)
    rnd, bits = rng.random, rng.getrandbits
    rounds = hours * 3600 // ROUND
    for r in range(rounds - 1, -1, -1):
        at = end - timedelta(seconds=r * ROUND)
        for ip, vps_id, source, _key_name, check_type, port in series:
            ok = rnd() >= 0.03
            icmp = check_type == "icmp"
            outcome = "ok" if ok else ("unreachable" if icmp else "timeout")
            yield (
                uuid.UUID(int=bits(128), version=4),
                vps_id,
                ip,
                check_type,
                source,
                ok,
                30 + int(rnd() * 250) if ok else None,
                at + timedelta(milliseconds=int(rnd() * 60_000)),
                outcome,
                port,
                round(rnd() * 2, 1) if icmp else None,
                int(rnd() * 20) if icmp else None,
            )


def _expected(n_series: int, days_1h: int, days_5m: int, raw_hours: int) -> tuple[int, int]:
    return (
        n_series * (days_1h * (24 + 4) + days_5m * 288),
        n_series * raw_hours * 3600 // ROUND,
    )


def _counts(url: str) -> tuple[int, int]:
    from sqlalchemy import text

    from sigma.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(text("SELECT count(*) FROM ip_check_rollups")).scalar() or 0,
                conn.execute(text("SELECT count(*) FROM ip_checks")).scalar() or 0,
            )
    finally:
        engine.dispose()


def _load_pg(url: str, tables: list[tuple[str, tuple[str, ...], Iterator[tuple]]]) -> None:
    """COPY, the rollups' primary key and age index built once after the rows (as a
    restore does); the schema ends as the migrations left it."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE ip_check_rollups, ip_checks")
        cur.execute("ALTER TABLE ip_check_rollups DROP CONSTRAINT ip_check_rollups_pkey")
        cur.execute("DROP INDEX idx_ip_check_rollups_age")
        for table, columns, rows in tables:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cur.execute(
            "ALTER TABLE ip_check_rollups ADD CONSTRAINT ip_check_rollups_pkey "
            "PRIMARY KEY (ip, resolution, bucket, source, check_key)"
        )
        cur.execute(
            "CREATE INDEX idx_ip_check_rollups_age ON ip_check_rollups (resolution, bucket)"
        )
        conn.commit()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) ip_check_rollups")
        conn.execute("VACUUM (ANALYZE) ip_checks")


def _load_sqlite(url: str, tables: list[tuple[str, tuple[str, ...], Iterator[tuple]]]) -> None:
    """One transaction of executemany per table, the values through the column types' bind
    processors (what an ORM insert stores); the secondary indexes rebuilt after."""
    from sigma.db.engine import make_engine
    from sigma.db.models.monitoring import IpCheck, IpCheckRollup

    engine = make_engine(url)
    models = {"ip_check_rollups": IpCheckRollup, "ip_checks": IpCheck}
    try:
        dialect = engine.dialect
        with engine.begin() as conn:
            cur = conn.connection.dbapi_connection.cursor()
            cur.execute("PRAGMA cache_size=-1000000")  # 1 GB: the primary key's random inserts
            cur.execute("DELETE FROM ip_check_rollups")
            cur.execute("DELETE FROM ip_checks")
            indexes = cur.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name IN ('ip_check_rollups', 'ip_checks') AND sql IS NOT NULL"
            ).fetchall()
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            for table, columns, rows in tables:
                t: Any = models[table].__table__
                procs = [t.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
                cache: dict[Any, Any] = {}
                # vps ids and buckets repeat in the rollups; check ids and times do not
                caching = table == "ip_check_rollups"

                def bound(row: tuple, procs=procs, cache=cache, caching=caching) -> tuple:
                    out = []
                    for v, p in zip(row, procs, strict=True):
                        if p is None or v is None:
                            out.append(v)
                        elif not caching or not isinstance(v, (datetime, uuid.UUID)):
                            out.append(p(v))
                        else:
                            b = cache.get(v)
                            if b is None:
                                b = cache[v] = p(v)
                            out.append(b)
                    return tuple(out)

                sql = (
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})"
                )
                cur.executemany(sql, (bound(r) for r in rows))
            for _, ddl in indexes:
                cur.execute(ddl)
            cur.execute("ANALYZE ip_check_rollups")
            cur.execute("ANALYZE ip_checks")
            cur.close()
    finally:
        engine.dispose()


def _derive_fleet(url: str) -> None:
    """The fleet's buckets, summed from the per-IP ones as migration 0018 does."""
    from sqlalchemy import text

    from sigma.db.engine import make_engine
    from sigma.db.rollups import derive_fleet

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM ip_check_fleet_rollups"))
            derive_fleet(conn)
    finally:
        engine.dispose()


def ensure_history(url: str, args: argparse.Namespace, label: str) -> list[tuple[str, Any]]:
    """The rollups and raw checks of the IPs (kept when --reuse and the counts match)."""
    from sigma.db.engine import make_engine, upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    targets = _targets(url, args.ips)
    series = _series(targets)
    want = _expected(len(series), args.days, args.days_5m, args.raw_hours)
    if args.reuse and _counts(url) == want:
        print(f"{label}: reusing {want[0]:,} rollup rows and {want[1]:,} raw checks")
        return targets
    t0 = time.perf_counter()
    end = datetime.now(UTC)
    tables = [
        ("ip_check_rollups", ROLLUP_COLUMNS, rollup_rows(series, end, args.days, args.days_5m, 7)),
        ("ip_checks", RAW_COLUMNS, raw_rows(series, end, args.raw_hours, 8)),
    ]
    if url.startswith("postgresql"):
        _load_pg(url, tables)
    else:
        _load_sqlite(url, tables)
    _derive_fleet(url)
    got = _counts(url)
    assert got == want, (got, want)
    print(
        f"{label}: loaded {got[0]:,} rollup rows ({len(targets) - 1} IPs x {len(SOURCES)} "
        f"sources x {len(CHECKS)} checks, {args.days} days 6-hour and hourly + "
        f"{args.days_5m} days of 5-minute buckets, plus a single-series IP) and "
        f"{got[1]:,} raw checks ({args.raw_hours} h) in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return targets


# ------------------------------------------------------------------ measure


def measure(url: str, targets: list[tuple[str, Any]], runs: int, profile: bool) -> bool:
    """Print the table; True when every judged case is within budget."""
    from sqlalchemy import func, select

    from sigma.db.engine import make_engine, session_factory, unit_of_work
    from sigma.db.models.monitoring import IpCheck, IpCheckRollup
    from sigma.services import check_history
    from sigma.services.actor import Actor

    engine = make_engine(url)
    sessions = session_factory(engine)
    actor = Actor(email="bench-reader@sigma.local", role="readonly")
    with engine.connect() as conn:
        newest = conn.execute(
            select(func.max(IpCheckRollup.bucket)).where(IpCheckRollup.resolution == 300)
        ).scalar()
        newest_raw = conn.execute(select(func.max(IpCheck.checked_at))).scalar()
    newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
    newest_raw = newest_raw if newest_raw.tzinfo else newest_raw.replace(tzinfo=UTC)
    until_buckets = newest + timedelta(seconds=300)
    until_raw = newest_raw + timedelta(seconds=1)
    many = [ip for ip, _ in targets[:-1]]
    single = targets[-1][0]
    rng = random.Random(3)

    def query(ip: str, resolution: str, span: timedelta) -> dict[str, Any]:
        until = until_raw if resolution == "raw" else until_buckets
        return {"ip": ip, "since": until - span, "until": until, "resolution": resolution}

    def call(q: dict[str, Any]) -> Any:
        with unit_of_work(sessions, read_only=True) as session:
            return check_history.history(session, actor, q)

    pk = (single, 3600, _floor_to(until_buckets - timedelta(hours=5), 3600), SOURCES[0], "icmp")

    def lookup(_q: Any) -> Any:
        with unit_of_work(sessions, read_only=True) as session:
            row = session.get(IpCheckRollup, pk)
            assert row is not None, pk
            return row

    cases: list[tuple[str, Any, Any, bool]] = []
    for label, resolution, span, judged in CASES:
        cases.append(
            (
                f"{label} (18 series)",
                lambda r=resolution, s=span: query(rng.choice(many), r, s),
                call,
                judged,
            )
        )
        cases.append(
            (
                f"  floor: single series, {label}",
                lambda r=resolution, s=span: query(single, r, s),
                call,
                False,
            )
        )
    cases.append(("  floor: one bucket row by primary key", lambda: None, lookup, False))

    def fleet(_q: Any) -> Any:
        with unit_of_work(sessions, read_only=True) as session:
            return check_history.fleet_history(
                session,
                actor,
                {"since": until_buckets - timedelta(days=30), "until": until_buckets},
            )

    cases.append(("fleet per source, 30 days, 6-hour", lambda: None, fleet, True))

    for _label, make, fn, _judged in cases:  # warm the pool, the caches and the statements
        for _ in range(3):
            fn(make())
    # as `sigma serve` does once started (server/app.py): the cyclic GC leaves the objects
    # of start-up alone, else a full collection walks them all within whichever call
    gc.collect()
    gc.freeze()
    times: dict[str, list[float]] = {c[0]: [] for c in cases}
    cpu: dict[str, float] = dict.fromkeys(times, 0.0)
    points: dict[str, int] = {}
    for _ in range(runs):  # alternating, so that other load hits every case alike
        for label, make, fn, _judged in cases:
            q = make()
            c0, t0 = time.process_time(), time.perf_counter()
            out = fn(q)
            times[label].append((time.perf_counter() - t0) * 1000)
            cpu[label] += time.process_time() - c0
            if hasattr(out, "series"):
                points[label] = sum(len(s.points) for s in out.series)
    ok = True
    for label, _make, _fn, judged in cases:
        ts = sorted(times[label])
        p50, p90 = statistics.median(ts), ts[max(0, round(0.9 * len(ts)) - 1)]
        verdict = ("PASS" if p50 <= BUDGET_MS else "FAIL") if judged else ""
        ok &= not judged or p50 <= BUDGET_MS
        n = f"{points[label]:,} points" if label in points else "1 row"
        print(
            f"  {label:<44} p50 {p50:7.1f} ms  p90 {p90:7.1f} ms  "
            f"cpu {cpu[label] * 1000 / runs:7.1f} ms  {n:>14}  {verdict}",
            flush=True,
        )
    # what the route adds: the JSON of the 30-day answer
    result = call(query(many[0], "6h", timedelta(days=30)))
    ser = []
    for _ in range(5):
        t0 = time.perf_counter()
        body = result.model_dump_json()
        ser.append((time.perf_counter() - t0) * 1000)
    print(
        f"  (the route's JSON of the 30-day answer: {statistics.median(ser):.1f} ms, "
        f"{len(body) / 1024:,.0f} KB)"
    )
    if profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for _ in range(5):
            call(query(rng.choice(many), "6h", timedelta(days=30)))
        prof.disable()
        print("  cProfile of 5 calls of the 30-day query (internal time, top 25):")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    gc.unfreeze()
    engine.dispose()
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="one IP's check history out of a big rollup table")
    ap.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (database created if absent)")
    ap.add_argument("--sqlite", default=None, help="SQLite file (default: a new temporary one)")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--runs", type=int, default=30, help="calls per query (default 30)")
    ap.add_argument("--reuse", action="store_true", help="keep data already loaded")
    ap.add_argument("--vps", type=int, default=10_000, help="fleet size (default 10,000)")
    ap.add_argument("--ips", type=int, default=300, help="IPs with 18 series (default 300)")
    ap.add_argument("--days", type=int, default=30, help="days of hourly buckets (default 30)")
    ap.add_argument("--days-5m", type=int, default=3, help="days of 5-minute buckets (default 3)")
    ap.add_argument("--raw-hours", type=int, default=48, help="hours of raw checks (default 48)")
    ap.add_argument("--profile", action="store_true", help="cProfile the 30-day query")
    args = ap.parse_args(argv)
    failed = False
    targets = [] if args.skip_pg else [("postgresql", args.pg)]
    if not args.skip_sqlite:
        targets.append(("sqlite", f"sqlite:///{args.sqlite or tempfile.mkdtemp() + '/hist.db'}"))
    for name, url in targets:
        ensure_fleet(url, args.vps, min(2_000, args.vps), reuse=args.reuse, label=name)
        register_probes(url)
        ips = ensure_history(url, args, name)
        print(f"{name}: {args.runs} calls each, alternating", flush=True)
        failed |= not measure(url, ips, args.runs, args.profile)
    verdict = "FAIL" if failed else "PASS"
    print(f"check history p50 <= {BUDGET_MS:.0f} ms: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
