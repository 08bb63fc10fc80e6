"""Provider account sync (issue 19): an account of 1,000 Hetzner Cloud instances, server side.

Budgets (bench/README.md; the issue sets none, these are ours), on SQLite and on PostgreSQL:

  1. first import, 1,000 new VPS (with their history, audit and provider traffic): <= 20 s;
  2. an unchanged re-sync (1,000 unchanged): <= 3 s;
  3. a re-sync where 100 instances changed (renamed, a new IPv4) and 50 disappeared
     (100 updated, 50 gone -> retiring): <= 5 s.

Each is `services.sync.sync(sessions, settings, local_actor(), account)` (what `sigma sync`
and the scheduled job call: lease, listing, one transaction, the account's status), timed
against a loopback stand-in of `GET /v1/servers` on 127.0.0.1 (the pages are encoded once,
50 servers to a page: 20 pages). Beside each, in the same run and alternating with it, the
floor: the adapter's listing alone (`cloud.hetzner.instances(Api(...))` against the same
stand-in), so that sync minus floor is what applying the listing costs. Medians of --runs
cycles; each cycle starts from a fresh database (a new SQLite file; the PostgreSQL database
`sigma_bench_sync` dropped and created again). Printed beside: this process's CPU seconds
(SQLite's work included, PostgreSQL's not), the SQL statements the sync ran, ms per listed
instance and the process's peak RSS. Exit status 1 when a budget is missed.

    python bench/sync.py                          # SQLite, plus PostgreSQL if reachable
    python bench/sync.py --instances 1000 --runs 3 --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/sync.py --pg '' --profile first  # cProfile of one case (first, unchanged, changed)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

BUDGETS_S = {"first": 20.0, "unchanged": 3.0, "changed": 5.0}
CASES = {
    "first": "first import",
    "unchanged": "unchanged re-sync",
    "changed": "re-sync, 100 changed + 50 gone",
}
TOKEN = "hz-bench-Tok3n-4f19"
PG_DB = "sigma_bench_sync"
PER_PAGE = 50
CHANGED, GONE = 100, 50
LOCATIONS = (
    ("fsn1", "DE", "Falkenstein"),
    ("nbg1", "DE", "Nuremberg"),
    ("hel1", "FI", "Helsinki"),
    ("ash", "US", "Ashburn"),
    ("hil", "US", "Hillsboro"),
    ("sin", "SG", "Singapore"),
)
TYPES = (
    ("cx22", 2, 4.0, 40, "4.5101"),
    ("cx32", 4, 8.0, 80, "8.3300"),
    ("cpx41", 8, 16.0, 240, "30.5900"),
)


# ------------------------------------------------------------- the Hetzner API, on loopback


def server(i: int, *, renamed: bool = False) -> dict[str, Any]:
    """The i-th server as `GET /v1/servers` lists it (tests/accounts/fakes.py's shape)."""
    location, country, city = LOCATIONS[i % len(LOCATIONS)]
    type_name, cores, memory, disk, price = TYPES[i % len(TYPES)]
    traffic = 21990232555520
    third = 200 + i // 250 + (50 if renamed else 0)
    return {
        "id": 40_000_000 + i,
        "name": f"web-{i:04d}.example.net" if not renamed else f"web-{i:04d}-new.example.net",
        "status": "running" if i % 97 else "off",
        "created": "2026-01-02T03:04:05+00:00",
        "public_net": {
            "ipv4": {"ip": f"5.75.{third}.{i % 250 + 1}", "blocked": False},
            "ipv6": {"ip": f"2a01:4f8:c0c:{i:x}::/64", "blocked": False},
            "floating_ips": [],
        },
        "server_type": {
            "name": type_name,
            "cores": cores,
            "memory": memory,
            "disk": disk,
            "prices": [
                {
                    "location": loc,
                    "price_monthly": {"net": "3.79", "gross": price},
                    "included_traffic": traffic,
                }
                for loc, _, _ in LOCATIONS
            ],
        },
        "datacenter": {"name": f"{location}-dc1"},
        "location": {"name": location, "country": country, "city": city},
        "image": {"name": "debian-12"},
        "labels": {"env": "prod", "role": "web"},
        "included_traffic": traffic,
        "outgoing_traffic": 123_456_789 + i,
        "ingoing_traffic": 987_654_321,
    }


class FakeHetzner:
    """`GET /v1/servers?page=N&per_page=50` for one token on 127.0.0.1, the pages encoded
    once per listing (`set_servers`), so that the stand-in costs next to nothing."""

    def __init__(self) -> None:
        self.pages: list[bytes] = []
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                fake.requests += 1
                if parts.path != "/v1/servers":
                    self._send(404, b'{"error": {"code": "not_found"}}')
                elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, b'{"error": {"code": "unauthorized"}}')
                else:
                    page = int(parse_qs(parts.query).get("page", ["1"])[0])
                    pages = fake.pages
                    self._send(200, pages[page - 1] if 1 <= page <= len(pages) else pages[-1])

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def set_servers(self, servers: list[dict[str, Any]]) -> None:
        last = max(1, -(-len(servers) // PER_PAGE))
        pages = []
        for page in range(1, last + 1):
            body = {
                "servers": servers[(page - 1) * PER_PAGE : page * PER_PAGE],
                "meta": {
                    "pagination": {
                        "page": page,
                        "per_page": PER_PAGE,
                        "previous_page": page - 1 or None,
                        "next_page": page + 1 if page < last else None,
                        "last_page": last,
                        "total_entries": len(servers),
                    }
                },
            }
            pages.append(json.dumps(body).encode())
        self.pages = pages

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------ databases


def fresh_db(pg_admin: str | None, workdir: Path, tag: str) -> str:
    """A new empty database: a SQLite file, or PostgreSQL's `sigma_bench_sync` made again."""
    if pg_admin is None:
        path = workdir / f"{tag}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(_plain(pg_admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB}"')
    return pg_admin.rsplit("/", 1)[0] + "/" + PG_DB


def drop_db(pg_admin: str | None) -> None:
    if pg_admin is None:
        return
    import psycopg

    with psycopg.connect(_plain(pg_admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')


def _plain(url: str) -> str:
    return url.replace("+psycopg", "")


def pg_reachable(url: str) -> str | None:
    """None when `url` answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(_plain(url), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class Target:
    """One fresh database with the schema and one Hetzner account pointing at the stand-in."""

    def __init__(self, db_url: str, api_url: str) -> None:
        from cryptography.fernet import Fernet

        from sigma.db.engine import ensure_schema, make_engine, session_factory, unit_of_work
        from sigma.services import accounts
        from sigma.services.actor import local_actor
        from sigma.settings import Settings

        self.settings = Settings(database_url=db_url, account_key=Fernet.generate_key().decode())
        self.engine = make_engine(db_url)
        ensure_schema(self.engine, auto_upgrade=True)
        self.sessions = session_factory(self.engine, **self.settings.session_info())
        self.actor = local_actor()
        self.statements = 0

        def count(*_args: Any) -> None:
            self.statements += 1

        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", count)
        with unit_of_work(self.sessions) as session:
            self.account = accounts.create(
                session,
                self.actor,
                self.settings,
                {"kind": "hetzner", "name": "hz-bench", "api_base": api_url, "token": TOKEN},
            ).id

    def sync(self) -> Any:
        from sigma.services import sync

        return sync.sync(self.sessions, self.settings, self.actor, self.account)

    def close(self) -> None:
        self.engine.dispose()


def listing(api_url: str) -> int:
    """The floor: the adapter's listing alone, as sync makes it."""
    from sigma.cloud import hetzner
    from sigma.cloud.base import Api, Credentials

    creds = Credentials(api_base=api_url, token=TOKEN)
    with Api(creds, headers=hetzner.headers(creds)) as api:
        return len(hetzner.instances(api))


# ---------------------------------------------------------------------------- measuring


def timed(fn: Callable[[], Any], cpu: list[float] | None = None) -> tuple[float, Any]:
    """Wall seconds of fn(); its CPU seconds in this process appended to `cpu` (the
    stand-in's thread included: next to nothing; PostgreSQL's own work not)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return elapsed, out


def expect(case: str, report: Any, n: int) -> None:
    """The run did what the case says (else its time means nothing)."""
    if not report.ok:
        raise SystemExit(f"{case}: the sync failed: {report.error}")
    want = {
        "first": {"created": n, "updated": 0, "gone": 0},
        "unchanged": {"created": 0, "unchanged": n, "gone": 0},
        "changed": {"created": 0, "updated": CHANGED, "gone": GONE},
    }[case]
    got = {k: getattr(report, k) for k in want}
    if got != want:
        raise SystemExit(f"{case}: expected {want}, the report says {got}")


def listings(n: int) -> dict[str, list[dict[str, Any]]]:
    """The servers the stand-in lists in each case: 100 renamed with a new IPv4 (spread over
    the account), 50 gone (spread too)."""
    base = [server(i) for i in range(n)]
    step = max(1, n // (CHANGED + GONE))
    picked = list(range(0, n, step))[: CHANGED + GONE]
    gone = set(picked[2::3][:GONE])
    renamed = {i for i in picked if i not in gone}
    changed = [server(i, renamed=i in renamed) for i in range(n) if i not in gone]
    return {"first": base, "unchanged": base, "changed": changed}


def cycle(
    fake: FakeHetzner, db_url: str, n: int, lists: dict[str, list[dict[str, Any]]], profile: str
) -> tuple[
    dict[str, float], dict[str, float], dict[str, float], dict[str, int], dict[str, int], str
]:
    """One cycle on a fresh database: floor, first import, floor, unchanged, floor, changed."""
    target = Target(db_url, fake.url)
    sync_s: dict[str, float] = {}
    cpu_s: dict[str, float] = {}
    stmts: dict[str, int] = {}
    floor_s: dict[str, float] = {}
    listed: dict[str, int] = {}
    stats = ""
    try:
        for case in CASES:
            fake.set_servers(lists[case])
            floor_s[case], listed[case] = timed(lambda: listing(fake.url))
            if case == profile:
                prof = cProfile.Profile()
                prof.enable()
            cpu: list[float] = []
            statements = target.statements
            sync_s[case], report = timed(target.sync, cpu)
            cpu_s[case] = cpu[0]
            stmts[case] = target.statements - statements
            if case == profile:
                prof.disable()
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
                stats = buf.getvalue()
            expect(case, report, n)
    finally:
        target.close()
    return sync_s, cpu_s, floor_s, listed, stmts, stats


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench(
    label: str,
    pg_admin: str | None,
    fake: FakeHetzner,
    n: int,
    runs: int,
    workdir: Path,
    profile: str,
) -> tuple[list[str], bool]:
    lists = listings(n)
    sync_runs: dict[str, list[float]] = {c: [] for c in CASES}
    cpu_runs: dict[str, list[float]] = {c: [] for c in CASES}
    floor_runs: dict[str, list[float]] = {c: [] for c in CASES}
    listed: dict[str, int] = {}
    for r in range(runs):
        db_url = fresh_db(pg_admin, workdir, f"sync{r}")
        try:
            s, cpu, f, listed, stmts, stats = cycle(
                fake, db_url, n, lists, profile if r == 0 else ""
            )
        finally:
            drop_db(pg_admin)
        if stats:
            print(f"{label}: cProfile of the {CASES[profile]} (sorted by cumtime, top 25)")
            print(stats, flush=True)
        for case in CASES:
            sync_runs[case].append(s[case])
            cpu_runs[case].append(cpu[case])
            floor_runs[case].append(f[case])
        print(
            f"{label}: cycle {r + 1}/{runs}: "
            + ", ".join(
                f"{c} {s[c]:.2f} s ({cpu[c]:.2f} s CPU, {stmts[c]:,} SQL statements; "
                f"floor {f[c]:.3f} s)"
                for c in CASES
            ),
            flush=True,
        )
    ok = True
    lines = [
        f"{label} ({n:,} instances, median of {runs}; load average {os.getloadavg()[0]:.1f}, "
        f"peak RSS of this process {peak_rss_mb():.0f} MB):",
        f"  {'case':<34} {'sync':>8} {'CPU':>8} {'floor':>8} {'sync-floor':>10} {'ms/inst':>8} "
        f"{'budget':>7}  verdict",
    ]
    for case, title in CASES.items():
        sync_med = statistics.median(sync_runs[case])
        floor_med = statistics.median(floor_runs[case])
        passed = sync_med <= BUDGETS_S[case]
        ok &= passed
        lines.append(
            f"  {title:<34} {sync_med:>6.2f} s {statistics.median(cpu_runs[case]):>6.2f} s "
            f"{floor_med:>6.3f} s {sync_med - floor_med:>8.2f} s "
            f"{sync_med * 1000 / listed[case]:>8.2f} {BUDGETS_S[case]:>5.0f} s  "
            f"{'PASS' if passed else 'FAIL'}"
            f"  (runs {', '.join(f'{x:.2f}' for x in sync_runs[case])}; "
            f"{listed[case]} listed, {-(-listed[case] // PER_PAGE)} pages)"
        )
    return lines, ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", type=int, default=1000)
    p.add_argument("--runs", type=int, default=3, help="cycles per database (median)")
    p.add_argument(
        "--pg",
        default=os.environ.get(
            "SIGMA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help=f"PostgreSQL admin URL (the database {PG_DB} is made there each cycle); '' to skip",
    )
    p.add_argument("--skip-sqlite", action="store_true")
    p.add_argument(
        "--profile",
        choices=[*CASES, ""],
        default="",
        help="cProfile this case in the first cycle of each database (top 25 by cumtime)",
    )
    args = p.parse_args(argv)
    if args.instances < CHANGED + GONE:
        p.error(f"--instances must be at least {CHANGED + GONE}")
    fake = FakeHetzner()
    lines: list[str] = []
    ok = True
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            targets: list[tuple[str, str | None]] = []
            if not args.skip_sqlite:
                targets.append(("SQLite", None))
            if args.pg:
                why = pg_reachable(args.pg)
                if why is None:
                    targets.append(("PostgreSQL", args.pg))
                else:
                    lines.append(f"PostgreSQL: skipped ({why})")
            for label, pg_admin in targets:
                more, passed = bench(
                    label, pg_admin, fake, args.instances, args.runs, workdir, args.profile
                )
                lines += more
                ok &= passed
    finally:
        fake.stop()
    print("\n".join(lines))
    budgets = ", ".join(f"{CASES[c]} <= {b:.0f} s" for c, b in BUDGETS_S.items())
    print(f"verdict: {'PASS' if ok else 'FAIL'} (budgets: {budgets})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
