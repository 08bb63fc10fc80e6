"""Prometheus targets and Ansible inventory at 10,000 active VPS, first build (uncached).

Budgets (bench/README.md): Prometheus targets <= 100 ms, Ansible inventory <= 200 ms. Measures the
service calls `prometheus.targets_json` and `ansible.inventory_json` (what GET
/api/prometheus/targets and GET /api/ansible/inventory serve, minus HTTP framing), each in
one unit of work, with the rendered-document cache cleared before every run, so each run is
a first build; medians of `--runs`. The fleet is bench/fleet.py's (100,000 VPS of which
10,000 active), on PostgreSQL and SQLite. The cached repeat is printed for information.

    python bench/exports.py --runs 15
    python bench/exports.py --reuse         # the databases already hold the fleet
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fleet import ensure_fleet  # noqa: E402

BUDGETS = {"prometheus": 100.0, "ansible": 200.0}


def measure(url: str, runs: int) -> dict[str, dict[str, float]]:
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work
    from sigma.services import exports
    from sigma.services.actor import local_actor
    from sigma.services.exports import ansible, prometheus

    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    actor = local_actor()
    calls = {"prometheus": prometheus.targets_json, "ansible": ansible.inventory_json}
    out: dict[str, dict[str, float]] = {}
    for name, fn in calls.items():
        for _ in range(2):  # warm the pool, the statement caches and the database's buffers
            exports._cache.clear()
            with unit_of_work(sessions) as s:
                fn(s, actor)
        first, cpu = [], []
        for _ in range(runs):
            exports._cache.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            with unit_of_work(sessions) as s:
                doc = fn(s, actor)
            first.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        cached = []
        for _ in range(runs):
            t0 = time.perf_counter()
            with unit_of_work(sessions) as s:
                again = fn(s, actor)
            cached.append((time.perf_counter() - t0) * 1000)
        assert again == doc
        p50 = statistics.median(first)
        verdict = "PASS" if p50 <= BUDGETS[name] else "FAIL"
        print(
            f"  {name:<10} first build p50 {p50:7.1f} ms "
            f"(min {min(first):6.1f}, max {max(first):6.1f}, "
            f"CPU p50 {statistics.median(cpu):6.1f} ms)  "
            f"cached p50 {statistics.median(cached):5.1f} ms  "
            f"{len(doc):,} bytes sha256 {hashlib.sha256(doc.encode()).hexdigest()[:12]}  "
            f"budget {BUDGETS[name]:.0f} ms: {verdict}",
            flush=True,
        )
        out[name] = {
            "first_p50_ms": p50,
            "cpu_p50_ms": statistics.median(cpu),
            "cached_p50_ms": statistics.median(cached),
        }
    engine.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Prometheus targets / Ansible inventory at 10k active VPS"
    )
    ap.add_argument(
        "--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/sigma_bench_exports"
    )
    ap.add_argument("--sqlite", default=None, help="SQLite file (default: a new temporary one)")
    ap.add_argument("--vps", type=int, default=100_000)
    ap.add_argument("--active", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument(
        "--reuse", action="store_true", help="skip loading a database that already holds --vps VPS"
    )
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args(argv)
    targets = []
    if not args.skip_pg:
        targets.append(("postgresql", args.pg))
    if not args.skip_sqlite:
        targets.append(("sqlite", f"sqlite:///{args.sqlite or tempfile.mkdtemp() + '/fleet.db'}"))
    failed = False
    for name, url in targets:
        ensure_fleet(url, args.vps, args.active, reuse=args.reuse, label=name)
        for kind, fig in measure(url, args.runs).items():
            failed |= fig["first_p50_ms"] > BUDGETS[kind]
    print("exports: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
