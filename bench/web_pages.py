"""The web UI's busiest pages at fleet scale, server side, on PostgreSQL and SQLite.

Budget (bench/README.md): each page p50 <= 100 ms and <= 200 KB of HTML. The fleet: 100,000
VPS (10,000 active) from bench/fleet.py, 20,000 of their IPs with reachability verdicts and
their latest checks from 6 probe sources (3 in China, 3 controls), 500 tickets, and an agent
on every active VPS (3% silent). Each page is asked of the ASGI app in-process (Starlette's
TestClient: routing, the session cookie, the service calls, the template), signed in as an
admin, so the figure is the server's work for that page minus the network:

- the dashboard `/` (the attention strip's counts, the totals and charts, the 20 soonest
  expiries);
- `/vps` filtered by status and country, sorted by cost, most expensive first;
- `/reachability` (problems first, one page);
- `/costs`;
- `/attention.json` (what the dashboard polls every minute).

    python bench/web_pages.py --pg postgresql+psycopg://postgres@127.0.0.1/sigma_bench
    python bench/web_pages.py --sqlite /tmp/f100k.db --reuse   # keep and reuse the fleets
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fleet import ensure_fleet, ensure_monitoring, stamp_heartbeats  # noqa: E402

BUDGET_MS = 100.0
BUDGET_KB = 200.0
PAGES = [
    ("dashboard", "/"),
    ("vps active+HK by cost desc", "/vps?status=active&country=HK&sort=cost&dir=desc"),
    ("reachability problems first", "/reachability"),
    ("costs", "/costs"),
    ("attention.json", "/attention.json"),
]
EMAIL, PASSWORD = "bench-admin@sigma.local", "bench-admin-password-1"


def _vacuum(pg_url: str) -> None:
    """The steady state after a bulk load (see bench/list_filtered.py)."""
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        for table in ("vps", "reachability", "ip_checks", "tickets"):
            conn.execute(f"VACUUM (ANALYZE) {table}")


def _admin_id(url: str):
    """The benchmark's admin (created once), whose id the tickets carry."""
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work
    from sigma.db.models.identity import User
    from sigma.schemas.identity import UserCreate
    from sigma.services import users
    from sigma.services.actor import SYSTEM

    engine = make_engine(url)
    try:
        with unit_of_work(sessionmaker(engine, expire_on_commit=False)) as session:
            found = session.scalar(select(User.id).where(User.email == EMAIL))
            if found is None:
                created = users.create(
                    session, SYSTEM, UserCreate(email=EMAIL, password=PASSWORD, role="admin")
                )
                found = created.id
            return found
    finally:
        engine.dispose()


def measure(url: str, runs: int) -> list[tuple[str, float, float, float]]:
    """[(page, p50 ms, p90 ms, KB of HTML)]. Also printed: this process's CPU time per
    request (the app, and SQLite, which runs in it; PostgreSQL's work is in its own
    processes), a figure other load on the machine disturbs less than the wall time."""
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app
    from sigma.settings import Settings

    settings = Settings(
        database_url=url,
        jwt_secret="bench-jwt-secret-0123456789abcdef0123",
        rate_limit_requests=10_000_000,
        rate_limit_login=1_000,
        jobs_enabled=False,
    )
    out = []
    with TestClient(create_app(settings), follow_redirects=False) as client:
        r = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.cookies.set("sigma_session", r.json()["token"])
        for label, path in PAGES:
            for _ in range(5):  # warm the caches, the pool and the templates
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
            times = []
            cpu0 = time.process_time()
            for _ in range(runs):
                t0 = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
            cpu = (time.process_time() - cpu0) * 1000 / runs
            size = len(r.content) / 1024
            p50 = statistics.median(times)
            p90 = sorted(times)[int(len(times) * 0.9) - 1]
            verdict = "PASS" if p50 <= BUDGET_MS and size <= BUDGET_KB else "FAIL"
            print(
                f"  {label:<30} p50 {p50:6.1f} ms  p90 {p90:6.1f} ms  cpu {cpu:6.1f} ms  "
                f"{size:6.1f} KB  {verdict}",
                flush=True,
            )
            out.append((label, p50, p90, size))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="web pages at 100k VPS")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/sigma_bench")
    ap.add_argument("--vps", type=int, default=100_000)
    ap.add_argument("--ips", type=int, default=20_000, help="IPs with verdicts (default 20,000)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--sqlite", default=None, help="SQLite file (default: a new temporary one)")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="skip loading a database that already holds --vps VPS and --ips verdicts",
    )
    args = ap.parse_args(argv)
    failed = False
    targets = [] if args.skip_pg else [("postgresql", args.pg)]
    if not args.skip_sqlite:
        targets.append(("sqlite", f"sqlite:///{args.sqlite or tempfile.mkdtemp() + '/fleet.db'}"))
    for name, url in targets:
        ensure_fleet(url, args.vps, 10_000, reuse=args.reuse, label=name)
        ensure_monitoring(url, args.ips, created_by=_admin_id(url), reuse=args.reuse, label=name)
        offline = stamp_heartbeats(url)
        print(f"{name}: agents on the active VPS, {offline} of them silent", flush=True)
        if name == "postgresql":
            _vacuum(url)
        print(f"{name}:", flush=True)
        for _label, p50, _p90, size in measure(url, args.runs):
            failed |= p50 > BUDGET_MS or size > BUDGET_KB
    verdict = "FAIL" if failed else "PASS"
    print(f"every page p50 <= {BUDGET_MS:.0f} ms and <= {BUDGET_KB:.0f} KB: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
