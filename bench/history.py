"""A VPS's timeline and the IP history at 100,000 VPS with 2 million events, server side.

Budget (bench/README.md): p50 <= 20 ms for each. Measures the service calls behind
`sigma vps history REF` / GET /api/vps/{ref}/history (`services.history.timeline`, first page
of 25, newest first, with and without `--kind` and `--since`) and `sigma ip history` /
GET /api/ip-history (`services.history.ip_history`: an address and a /24; a /16 prefix is
shown beside them, not judged), each in the read-only unit of work the routes use, over the
fleet of bench/fleet.py plus a generated history: 20 events per VPS on average (2,000,000),
and ~400,000 holdings of addresses drawn from a small pool (so an address has had several
holders over two years).

    python bench/history.py --pg postgresql+psycopg://postgres@127.0.0.1/sigma_bench
    python bench/history.py --sqlite /tmp/f100k.db --reuse   # keep and reuse the data
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fleet import ensure_fleet  # noqa: E402

BUDGET_MS = 20.0
# a /16 of the dense address pool holds ~260,000 holdings (the whole fleet's two years): shown,
# not judged (the page is read in index order; counting the range is most of its time)
INFO_CASE = "ip history A.B. (a /16, first page)"
KINDS = (
    ("updated", 8),
    ("agent-offline", 3),
    ("agent-online", 3),
    ("reachability", 3),
    ("ip-added", 1),
    ("ip-removed", 1),
    ("status", 1),
)


def _kinds(rng: random.Random, n: int) -> list[str]:
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    return rng.choices(names, weights, k=n)


def _pool_ip(i: int) -> str:
    """The i-th address of the pool: 103.x.y.z, numbered densely so that /24s hold many."""
    return f"103.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def generate(url: str, n_events: int, seed: int = 16) -> tuple[int, int]:
    """vps_history and ip_assignments rows for the VPS already at `url` (cleared first)."""
    from sqlalchemy import insert, select, text

    from sigma.db.engine import make_engine
    from sigma.db.models.core import Vps
    from sigma.db.models.history import IpAssignment, VpsHistory
    from sigma.vocab import ip_key

    rng = random.Random(seed)
    engine = make_engine(url)
    now = datetime.now(UTC)
    start = now - timedelta(days=730)
    span = (now - start).total_seconds()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM vps_history"))
        conn.execute(text("DELETE FROM ip_assignments"))
        ids = [(r[0], r[1]) for r in conn.execute(select(Vps.id, Vps.hostname))]
    per_vps = max(1, n_events // len(ids))
    pool = len(ids)  # about one address of the pool per VPS: each is held ~4 times in 2 years
    history: list[dict] = []
    holdings: list[dict] = []
    for vps_id, hostname in ids:
        n = rng.randint(per_vps // 2, per_vps + per_vps // 2)
        stamps = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(n))
        for at, kind in zip(stamps, _kinds(rng, n), strict=True):
            history.append(
                {
                    "id": uuid.uuid4(),
                    "vps_id": vps_id,
                    "at": at,
                    "kind": kind,
                    "source": "agent" if kind.startswith(("agent", "ip")) else "user",
                    "actor": "",
                    "hostname": hostname,
                    "details": {"ip": _pool_ip(rng.randrange(pool))},
                }
            )
        t = start + timedelta(seconds=rng.random() * span / 2)
        for _ in range(rng.randint(2, 6)):
            ip = _pool_ip(rng.randrange(pool))
            until = t + timedelta(days=rng.randint(10, 200))
            holdings.append(
                {
                    "id": uuid.uuid4(),
                    "ip": ip,
                    "ip_key": ip_key(ip),
                    "vps_id": vps_id,
                    "hostname": hostname,
                    "label": rng.choice(("", "china-telecom", "china-unicom", "overseas")),
                    "since": t,
                    "until": until if until < now else None,
                }
            )
            t = until
    t0 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        _copy(engine, "vps_history", history)
        _copy(engine, "ip_assignments", holdings)
    else:
        with engine.begin() as conn:
            for table, rows in (
                (VpsHistory.__table__, history),
                (IpAssignment.__table__, holdings),
            ):
                for i in range(0, len(rows), 20_000):
                    conn.execute(insert(table), rows[i : i + 20_000])
    print(
        f"  loaded {len(history)} events and {len(holdings)} holdings "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    engine.dispose()
    return len(history), len(holdings)


def _copy(engine, table: str, rows: list[dict]) -> None:
    import json

    names = list(rows[0])
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        tuple(json.dumps(v) if isinstance(v, dict) else v for v in row.values())
                    )
            cur.execute(f"ANALYZE {table}")
        raw.commit()
    finally:
        raw.close()


def _counts(url: str) -> tuple[int, int]:
    from sqlalchemy import text

    from sigma.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(text("SELECT count(*) FROM vps_history")).scalar() or 0,
                conn.execute(text("SELECT count(*) FROM ip_assignments")).scalar() or 0,
            )
    except Exception:  # noqa: BLE001 - no table yet
        return 0, 0
    finally:
        engine.dispose()


def measure(url: str, runs: int) -> dict[str, float]:
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work
    from sigma.db.models.core import Vps
    from sigma.schemas.history import HistoryFilter, IpHistoryQuery
    from sigma.services import history
    from sigma.services.actor import local_actor

    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    actor = local_actor()
    rng = random.Random(7)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(Vps.id))]
    since = (datetime.now(UTC) - timedelta(days=90)).isoformat()
    pool = len(ids)
    cases = {
        "vps history REF (first page)": lambda: (
            history.timeline,
            rng.choice(ids),
            HistoryFilter(),
        ),
        "vps history REF --kind reachability": lambda: (
            history.timeline,
            rng.choice(ids),
            HistoryFilter(kind="reachability"),
        ),
        "vps history REF --since 90 days": lambda: (
            history.timeline,
            rng.choice(ids),
            HistoryFilter.model_validate({"since": since}),
        ),
        "ip history ADDRESS": lambda: (
            history.ip_history,
            IpHistoryQuery(ip=_pool_ip(rng.randrange(pool))),
        ),
        "ip history A.B.C.0/24": lambda: (
            history.ip_history,
            IpHistoryQuery(ip=_pool_ip(rng.randrange(pool)).rsplit(".", 1)[0] + ".0/24"),
        ),
        INFO_CASE: lambda: (
            history.ip_history,
            IpHistoryQuery(ip=".".join(_pool_ip(rng.randrange(pool)).split(".")[:2]) + "."),
        ),
    }
    out = {}
    for label, make in cases.items():
        for _ in range(5):  # warm caches and the connection pool
            fn, *args = make()
            with unit_of_work(sessions, read_only=True) as s:
                fn(s, actor, *args)
        times, totals = [], []
        for _ in range(runs):
            fn, *args = make()
            t0 = time.perf_counter()
            with unit_of_work(sessions, read_only=True) as s:
                page = fn(s, actor, *args)
            times.append((time.perf_counter() - t0) * 1000)
            totals.append(page.total)
        p50 = statistics.median(times)
        if label != INFO_CASE:
            out[label] = p50
        verdict = "info" if label == INFO_CASE else "PASS" if p50 <= BUDGET_MS else "FAIL"
        print(
            f"  {label:<40} p50 {p50:6.2f} ms  "
            f"p99 {sorted(times)[int(len(times) * 0.99) - 1]:6.2f} ms  "
            f"(median {statistics.median(totals):.0f} rows match)  {verdict}",
            flush=True,
        )
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="VPS timeline and IP history at 2M events")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/sigma_bench")
    ap.add_argument("--vps", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--sqlite", default=None, help="SQLite file (default: a new temporary one)")
    ap.add_argument(
        "--reuse", action="store_true", help="keep a fleet and a history already loaded"
    )
    args = ap.parse_args(argv)
    worst = 0.0
    targets = [] if args.skip_pg else [("postgresql", args.pg)]
    if not args.skip_sqlite:
        targets.append(("sqlite", f"sqlite:///{args.sqlite or tempfile.mkdtemp() + '/fleet.db'}"))
    for name, url in targets:
        ensure_fleet(url, args.vps, 10_000, reuse=args.reuse, label=name)
        events, _ = _counts(url)
        if not (args.reuse and events >= args.events * 0.9):
            generate(url, args.events)
        print(f"{name}:")
        worst = max(worst, *measure(url, args.runs).values())
    verdict = "PASS" if worst <= BUDGET_MS else "FAIL"
    print(f"worst p50 {worst:.2f} ms (budget {BUDGET_MS:.0f} ms): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
