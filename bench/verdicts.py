"""Reachability verdicts at scale (issue 17), server side, in-process, PostgreSQL and SQLite.

Three parts, each beside a floor measured in the same run:

(a) `services.verdicts.decide` over 20,000 IP states of 6 sources x 3 checks (icmp,
    tcp:22, tls:443; the streaks as services.ip_checks._advance keeps them, outcomes
    included): 3 sources inside China (carriers ct, cu, cm) and 3 controls, roles as the probe
    registry gives them; scenarios ok (5 % of them with ICMP filtered by the host),
    degraded, blocked, port-blocked, tls-blocked, down, unknown. Microseconds per IP and for
    all 20,000. Floor: reading every streak once and parsing its timestamp (what any rule over
    this state must do). No database; no budget, the figure is for the pages and the ingest.
(b) `GET /reachability` (the web page, problems first, 25 rows, and the probe registry) and
    `GET /api/ip-checks/status?page=1` at 100,000 VPS + 20,000 checked IPs: budget p50 <=
    100 ms each. The fleet of bench/web_pages.py (`fleet.ensure_fleet`,
    `fleet.ensure_monitoring`), the 6 probes registered through `services.probes.report`
    (carrier, region, control), and every reachability row's state rewritten at each run
    with the states of (a) (fresh timestamps), its verdict decided with the registry's roles.
    On PostgreSQL twice: right after that rewrite (every row just updated, as probe batches
    leave the table between two autovacuums), then after VACUUM. Floor: `GET /healthz`
    through the same client.
(c) Ingest (PostgreSQL by default): `services.ip_checks.record_batch` of 5,000 results, each
    with an outcome and a port (tcp:22 or tls:443), one per IP over 5,000 IPs, from one
    source, in the unit of work of the route (commit included); p50 per batch with the
    rollups write and without it (`sigma.db.rollups.add` replaced by a no-op in this process
    only), runs alternating; the CPU of this process and of the PostgreSQL backend beside the
    wall time, and one more batch statement by statement. No budget: the rollups' cost is
    reported. The validation of the batch (FastAPI's, before the service) is timed apart.

    python bench/verdicts.py                        # PG sigma_bench_verdicts + a new SQLite file
    python bench/verdicts.py --sqlite /tmp/v.db --reuse           # keep the fleets between runs
    python bench/verdicts.py --skip-sqlite --reuse --profile      # + cProfile of one batch

Exit status 1 when a page misses its budget.
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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from fleet import Rng, ensure_fleet, ensure_monitoring  # noqa: E402
from web_pages import EMAIL, PASSWORD, _admin_id  # noqa: E402

BUDGET_MS = 100.0
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/sigma_bench_verdicts"
# the probe registry: (source, carrier, region, control)
PROBES = (
    ("cn-ct", "ct", "Shanghai", False),
    ("cn-cu", "cu", "Beijing", False),
    ("cn-cm", "cm", "Guangzhou", False),
    ("hk", "other", "Hong Kong", True),
    ("jp", "other", "Tokyo", True),
    ("us", "other", "Los Angeles", True),
)
CHINA = tuple(p[0] for p in PROBES if not p[3])
KEYS = ("icmp", "tcp:22", "tls:443")
# share of each scenario (the rest: ok); ok includes 5 % of hosts that filter ICMP
SCENARIOS = (
    ("degraded", 0.06),
    ("blocked", 0.04),
    ("port-blocked", 0.04),
    ("tls-blocked", 0.02),
    ("down", 0.02),
    ("unknown", 0.02),
)
PAGES = (
    ("GET /reachability", "/reachability", False),
    ("GET /api/ip-checks/status?page=1", "/api/ip-checks/status?page=1", True),
)
FLOOR_PAGE = ("floor: GET /healthz", "/healthz", False)


def _iso(dt: datetime) -> str:
    # the reachability state's timestamps: fixed width (services.ip_checks._iso)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(q * len(s)) - 1))]


# ------------------------------------------------------------------ states


def roles() -> dict[str, Any]:
    """The roles decide() gets for the 6 sources, built as the registry builds them."""
    from sigma.db.models.monitoring import Probe
    from sigma.services.probes import role_of

    out = {}
    for source, carrier, region, control in PROBES:
        row = Probe(source=source, carrier=carrier, region=region, control=control)
        row.health = "unknown"
        out[source] = role_of(row, source)
    return out


def scenario_of(rng: random.Random) -> str:
    draw = rng.random()
    for name, share in SCENARIOS:
        if draw < share:
            return name
        draw -= share
    return "ok"


def state_for(rng: random.Random, scenario: str, now: datetime) -> dict[str, Any]:
    """{source: {check key: streak}} of one IP in this scenario (services.ip_checks._advance's
    shape: ok, fails, oks, at, outcome, latency_ms)."""
    state: dict[str, Any] = {}
    broken = rng.choice(CHINA)  # degraded: one carrier's port fails
    icmp_filtered = scenario == "ok" and rng.random() < 0.05
    for source, _carrier, _region, control in PROBES:
        china = not control
        age = timedelta(hours=2) if scenario == "unknown" else timedelta(seconds=rng.randrange(300))
        at = _iso(now - age)
        keys: dict[str, Any] = {}
        for key in KEYS:
            outcome = "ok"
            if scenario == "down" or (scenario == "blocked" and china):
                outcome = "unreachable" if key == "icmp" else "timeout"
            elif scenario == "port-blocked" and china and key == "tcp:22":
                outcome = rng.choice(("reset", "timeout"))
            elif scenario == "tls-blocked" and china and key == "tls:443":
                outcome = "tls_failed"
            elif scenario == "degraded" and source == broken and key == "tcp:22":
                outcome = "timeout"
            elif icmp_filtered and key == "icmp":
                outcome = "unreachable"
            ok = outcome == "ok"
            streak = rng.randint(3, 40)
            keys[key] = {
                "ok": ok,
                "fails": 0 if ok else streak,
                "oks": streak if ok else 0,
                "at": at,
                "outcome": outcome,
                "latency_ms": rng.randint(20, 320) if ok else None,
            }
        state[source] = keys
    return state


def states(n: int, now: datetime, seed: int = 17) -> list[tuple[str, dict[str, Any]]]:
    rng = Rng(seed)
    out = []
    for _ in range(n):
        scenario = scenario_of(rng)
        out.append((scenario, state_for(rng, scenario, now)))
    return out


def _floor(state: dict[str, Any]) -> int:
    """What any rule over this state does at least: read each streak, parse its time."""
    fails = 0
    parse = datetime.fromisoformat
    for streaks in state.values():
        for v in streaks.values():
            parse(v["at"])
            fails += not v["ok"]
    return fails


# ------------------------------------------------------------------ (a) decide


def bench_decide(n: int, passes: int) -> None:
    from sigma.services.verdicts import decide

    now = datetime.now(UTC)
    rl = roles()
    data = states(n, now)
    expected_mismatch: dict[tuple[str, str], int] = {}
    for scenario, st in data:
        got = decide(st, rl, now)[0].verdict
        if got != scenario:
            expected_mismatch[(scenario, got)] = expected_mismatch.get((scenario, got), 0) + 1
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    for scenario, st in data:
        by_scenario.setdefault(scenario, []).append(st)
    all_states = [st for _, st in data]

    def one_pass(fn: Callable[[dict[str, Any]], Any], items: list[dict[str, Any]]) -> float:
        t0 = time.perf_counter()
        for st in items:
            fn(st)
        return time.perf_counter() - t0

    def dec(st: dict[str, Any]) -> Any:
        return decide(st, rl, now)

    gc.collect()
    gc.freeze()  # as `sigma serve` does once started (server/app.py)
    totals, floors = [], []
    per: dict[str, list[float]] = {s: [] for s in by_scenario}
    for _ in range(passes):  # alternating, so that load hits both alike
        totals.append(one_pass(dec, all_states))
        floors.append(one_pass(_floor, all_states))
        for s, items in by_scenario.items():
            per[s].append(one_pass(dec, items) / len(items))
    gc.unfreeze()
    total, floor = statistics.median(totals), statistics.median(floors)
    print(
        f"(a) verdicts.decide, {n:,} IPs x {len(PROBES)} sources x {len(KEYS)} checks, "
        f"median of {passes} passes",
        flush=True,
    )
    print(f"  {'all':<14} {total * 1e6 / n:7.1f} us/IP   {total * 1000:8.1f} ms for {n:,}")
    for s, times in sorted(per.items(), key=lambda kv: -len(by_scenario[kv[0]])):
        print(
            f"  {s:<14} {statistics.median(times) * 1e6:7.1f} us/IP   ({len(by_scenario[s]):,} IPs)"
        )
    print(
        f"  {'floor':<14} {floor * 1e6 / n:7.1f} us/IP   {floor * 1000:8.1f} ms for {n:,}"
        f"   (decide = {total / floor:.1f} x floor)"
    )
    if expected_mismatch:
        shown = ", ".join(f"{a} -> {b}: {k}" for (a, b), k in sorted(expected_mismatch.items()))
        print(f"  scenarios decided otherwise than generated: {shown}")
    else:
        print("  every scenario decided as generated")


# ------------------------------------------------------------------ (b) pages


def register_probes(url: str) -> None:
    """The 6 sources in the probe registry, as their round reports declare them."""
    from sigma.db.engine import make_engine, session_factory, unit_of_work
    from sigma.services import probes
    from sigma.services.actor import Actor

    engine = make_engine(url)
    try:
        actor = Actor(email="bench-probe@sigma.local", role="probe")
        with unit_of_work(session_factory(engine)) as session:
            for source, carrier, region, control in PROBES:
                probes.report(
                    session,
                    actor,
                    {
                        "source": source,
                        "carrier": carrier,
                        "region": region,
                        "control": control,
                        "version": "bench",
                        "round": {"checks": 60_000, "seconds": 41.5},
                    },
                )
    finally:
        engine.dispose()


def rewrite_states(url: str, seed: int = 17) -> dict[str, int]:
    """Every reachability row gets a state of (a) with fresh timestamps, and the verdict the
    server decides for it with the registry's roles; {verdict: rows}."""
    from sqlalchemy import bindparam, select, update

    from sigma.db.engine import make_engine, session_factory
    from sigma.db.models.monitoring import Reachability
    from sigma.services import probes
    from sigma.services.verdicts import decide

    now = datetime.now(UTC)
    engine = make_engine(url)
    rng = Rng(seed + 1)
    counts: dict[str, int] = {}
    try:
        with session_factory(engine)() as session:
            rl = probes.roles(session, [p[0] for p in PROBES])
        table = Reachability.__table__
        with engine.begin() as conn:
            pairs = conn.execute(
                select(table.c.vps_id, table.c.ip).order_by(table.c.vps_id, table.c.ip)
            ).all()
            values = []
            for vps_id, ip in pairs:
                st = state_for(rng, scenario_of(rng), now)
                verdict = decide(st, rl, now)[0].verdict
                counts[verdict] = counts.get(verdict, 0) + 1
                values.append({"k_vps": vps_id, "k_ip": ip, "state": st, "verdict": verdict})
            conn.execute(
                update(table)
                .where(table.c.vps_id == bindparam("k_vps"), table.c.ip == bindparam("k_ip"))
                .values(
                    state=bindparam("state"),
                    verdict=bindparam("verdict"),
                    updated_at=now,
                ),
                values,
            )
    finally:
        engine.dispose()
    return counts


def vacuum(pg_url: str) -> None:
    """What autovacuum does some time after the updates (it is off on the benchmark machine)."""
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as c:
        for t in ("vps", "reachability", "probes", "ip_checks", "ip_check_rollups", "tickets"):
            c.execute(f"VACUUM (ANALYZE) {t}")


def dead_rows(pg_url: str) -> int:
    """Row versions of reachability left by updates (the index-only scans' heap fetches)."""
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as c:
        c.execute("SELECT pg_stat_force_next_flush()")
        row = c.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'reachability'"
        ).fetchone()
        return int(row[0]) if row else 0


def _settings(url: str):
    from sigma.settings import Settings

    return Settings(
        database_url=url,
        jwt_secret="bench-jwt-secret-0123456789abcdef0123",
        rate_limit_requests=10_000_000,
        rate_limit_login=1_000,
        jobs_enabled=False,
    )


def measure_pages(url: str, runs: int) -> list[tuple[str, float, bool]]:
    """[(page, p50 ms, judged)], the floor and the pages alternating request by request."""
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app

    out: list[tuple[str, float, bool]] = []
    with TestClient(create_app(_settings(url)), follow_redirects=False) as client:
        r = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        client.cookies.set("sigma_session", token)
        bearer = {"authorization": f"Bearer {token}"}
        pages = [FLOOR_PAGE, *PAGES]
        for _label, path, api in pages:
            for _ in range(5):  # warm the caches, the pool and the templates
                r = client.get(path, headers=bearer if api else None)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
        times: dict[str, list[float]] = {p[0]: [] for p in pages}
        cpu: dict[str, float] = dict.fromkeys(times, 0.0)
        size: dict[str, int] = {}
        for _ in range(runs):
            for label, path, api in pages:
                c0, t0 = time.process_time(), time.perf_counter()
                r = client.get(path, headers=bearer if api else None)
                times[label].append((time.perf_counter() - t0) * 1000)
                cpu[label] += time.process_time() - c0
                size[label] = len(r.content)
        for label, _path, _api in pages:
            p50, p90 = statistics.median(times[label]), _pct(times[label], 0.9)
            judged = label != FLOOR_PAGE[0]
            verdict = ("PASS" if p50 <= BUDGET_MS else "FAIL") if judged else "floor"
            print(
                f"  {label:<34} p50 {p50:6.1f} ms  p90 {p90:6.1f} ms  "
                f"cpu {cpu[label] * 1000 / runs:6.1f} ms  {size[label] / 1024:6.1f} KB  {verdict}",
                flush=True,
            )
            out.append((label, p50, judged))
    return out


# ------------------------------------------------------------------ (c) ingest


def _outcome(verdict: str, source: str, key: str) -> str:
    china = source in CHINA
    if verdict == "down" or (verdict == "blocked" and china):
        return "timeout"
    if verdict == "port-blocked" and china and key == "tcp":
        return "reset"
    if verdict == "tls-blocked" and china and key == "tls":
        return "tls_failed"
    if verdict == "degraded" and source == "cn-cm" and key == "tcp":
        return "timeout"
    return "ok"


def _batch(pairs: list[tuple[Any, str, str]], source: str, check: str, rng: random.Random):
    from sigma.schemas.monitoring import IpCheckBatch

    check_type, port = ("tcp", 22) if check == "tcp" else ("tls", 443)
    now = datetime.now(UTC)
    checks = []
    for vps_id, ip, verdict in pairs:
        outcome = _outcome(verdict, source, check_type)
        checks.append(
            {
                "id": str(uuid.uuid4()),  # new each run: a --reuse run inserts anew
                "vps_id": str(vps_id),
                "ip": ip,
                "check_type": check_type,
                "port": port,
                "source": source,
                "outcome": outcome,
                "latency_ms": rng.randint(20, 320) if outcome == "ok" else None,
                "checked_at": _iso(now - timedelta(milliseconds=rng.randrange(30_000))),
            }
        )
    t0 = time.perf_counter()
    batch = IpCheckBatch.model_validate({"checks": checks})
    return batch, time.perf_counter() - t0


def _backend(session: Any) -> Any:
    """The PostgreSQL backend serving this session (psutil.Process), None on SQLite."""
    dbapi = session.connection().connection.dbapi_connection
    pid = getattr(getattr(dbapi, "info", None), "backend_pid", None)
    if pid is None:
        return None
    import psutil

    return psutil.Process(pid)


def _cpu(proc: Any) -> float:
    if proc is None:
        return 0.0
    t = proc.cpu_times()
    return t.user + t.system


def _statement_times(engine: Any, work: Callable[[], None]) -> list[tuple[str, int, float]]:
    """[(statement's start, executions, seconds)] of what `work` sent, slowest first."""
    from sqlalchemy import event

    acc: dict[str, list[float]] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        key = " ".join(statement.split())[:70]
        acc.setdefault(key, []).append(time.perf_counter() - conn.info.pop("bench_t0"))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    return sorted(((k, len(v), sum(v)) for k, v in acc.items()), key=lambda r: -r[2])


def bench_ingest(url: str, runs: int, size: int, profile: bool) -> None:
    from sqlalchemy import select

    import sigma.db.rollups as rollups_module
    from sigma.db.engine import make_engine, session_factory, unit_of_work
    from sigma.db.models.monitoring import Reachability
    from sigma.services import ip_checks
    from sigma.services.actor import Actor

    engine = make_engine(url)
    sessions = session_factory(engine, **_settings(url).session_info())
    actor = Actor(email="bench-probe@sigma.local", role="probe")
    with engine.connect() as conn:
        t = Reachability.__table__
        pairs = [
            (r[0], r[1], r[2])
            for r in conn.execute(select(t.c.vps_id, t.c.ip, t.c.verdict).order_by(t.c.ip))
        ]
    groups = max(1, len(pairs) // size)
    rng = Rng(1717)
    real_add = rollups_module.add
    add_times: list[float] = []
    written: list[int] = []

    def timed_add(session, checks):
        t0 = time.perf_counter()
        n = real_add(session, checks)
        add_times.append(time.perf_counter() - t0)
        written.append(n)
        return n

    def no_add(session, checks):
        return 0

    times: dict[str, list[float]] = {"with rollups": [], "without rollups": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    db_cpu: dict[str, list[float]] = {k: [] for k in times}
    validation: list[float] = []
    i = 0

    def one(variant: str, prof: Any = None) -> None:
        nonlocal i
        group = pairs[(i % groups) * size : (i % groups + 1) * size]
        source = PROBES[i % len(PROBES)][0]
        check = "tcp" if (i // len(PROBES)) % 2 == 0 else "tls"
        i += 1
        batch, v = _batch(group, source, check, rng)
        validation.append(v)
        rollups_module.add = timed_add if variant == "with rollups" else no_add
        try:
            with unit_of_work(sessions) as session:
                backend = _backend(session)
                c0, b0, t0 = time.process_time(), _cpu(backend), time.perf_counter()
                if prof is not None:
                    prof.enable()
                result = ip_checks.record_batch(session, actor, batch)
            if prof is not None:
                prof.disable()
            times[variant].append(time.perf_counter() - t0)
            cpu[variant].append(time.process_time() - c0)
            db_cpu[variant].append(_cpu(backend) - b0)
        finally:
            rollups_module.add = real_add
        assert result.inserted == len(group) and not result.rejected, result

    try:
        for variant in times:  # warm-up: one of each, not counted
            one(variant)
        for d in (times, cpu, db_cpu):
            for v in d.values():
                v.clear()
        gc.collect()
        gc.freeze()  # as `sigma serve` does once started (server/app.py)
        add_times.clear()
        written.clear()
        for r in range(runs):
            order = list(times) if r % 2 == 0 else list(reversed(times))
            for variant in order:
                one(variant)
        print(
            f"(c) ingest: ip_checks.record_batch of {size:,} results (1 per IP, outcome + port, "
            f"one source), unit of work + commit, {runs} runs each, alternating",
            flush=True,
        )
        for variant, ts in times.items():
            pg = (
                f"  + PostgreSQL backend {statistics.median(db_cpu[variant]) * 1000:6.0f} ms"
                if any(db_cpu[variant])
                else ""
            )
            print(
                f"  {variant:<16} p50 {statistics.median(ts) * 1000:7.1f} ms  "
                f"min {min(ts) * 1000:7.1f} ms  max {max(ts) * 1000:7.1f} ms  "
                f"= {statistics.median(ts) * 1e6 / size:5.1f} us/result;  CPU: this process "
                f"{statistics.median(cpu[variant]) * 1000:6.0f} ms{pg}"
            )
        with_, without = (statistics.median(times[k]) for k in times)
        print(
            f"  rollups: +{(with_ - without) * 1000:.1f} ms per batch "
            f"({(with_ - without) / with_ * 100:.0f} % of it); rollups.add alone p50 "
            f"{statistics.median(add_times) * 1000:.1f} ms, {statistics.median(written):,.0f} "
            f"bucket rows upserted per batch"
        )
        print(
            f"  (validation of the batch, before the service: p50 "
            f"{statistics.median(validation) * 1000:.1f} ms)"
        )
        statements = _statement_times(engine, lambda: one("with rollups"))
        print("  one more batch with rollups, per statement (wall, client side included):")
        for text, n, seconds in statements[:8]:
            print(f"    {seconds * 1000:8.1f} ms  x{n:<3} {text}")
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            one("with rollups", prof)
            print("  cProfile of one batch with rollups (cumulative, top 30):")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    finally:
        gc.unfreeze()
        rollups_module.add = real_add
        engine.dispose()


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="reachability verdicts, pages and ingest at scale")
    ap.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (database created if absent)")
    ap.add_argument("--sqlite", default=None, help="SQLite file (default: a new temporary one)")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--runs", type=int, default=50, help="requests per page (default 50)")
    ap.add_argument("--reuse", action="store_true", help="keep a fleet already loaded")
    ap.add_argument("--vps", type=int, default=100_000)
    ap.add_argument("--ips", type=int, default=20_000, help="checked IPs (default 20,000)")
    ap.add_argument("--decide-passes", type=int, default=5)
    ap.add_argument("--ingest-runs", type=int, default=6, help="batches per variant")
    ap.add_argument("--batch", type=int, default=5000, help="results per batch (max 5,000)")
    ap.add_argument(
        "--ingest-on",
        choices=("postgresql", "both", "none"),
        default="postgresql",
        help="databases the ingest is timed on (default postgresql)",
    )
    ap.add_argument("--profile", action="store_true", help="cProfile one ingest batch")
    args = ap.parse_args(argv)

    bench_decide(args.ips, args.decide_passes)
    failed = False
    targets = [] if args.skip_pg else [("postgresql", args.pg)]
    if not args.skip_sqlite:
        targets.append(("sqlite", f"sqlite:///{args.sqlite or tempfile.mkdtemp() + '/fleet.db'}"))
    for name, url in targets:
        ensure_fleet(url, args.vps, 10_000, reuse=args.reuse, label=name)
        ensure_monitoring(url, args.ips, created_by=_admin_id(url), reuse=args.reuse, label=name)
        register_probes(url)
        counts = rewrite_states(url)
        shares = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{name}: 6 probes registered; states rewritten: {shares}", flush=True)
        rounds = [("", None)]
        if name == "postgresql":
            # every row was just updated, as a probe round does; autovacuum has not passed yet
            rounds = [("every row just updated, ", False), ("after VACUUM, ", True)]
        for when, vacuumed in rounds:
            if vacuumed:
                vacuum(url)
            dead = f"{dead_rows(url):,} dead row versions, " if vacuumed is not None else ""
            print(f"(b) {name}, {when}{dead}{args.runs} requests each, alternating", flush=True)
            for _label, p50, judged in measure_pages(url, args.runs):
                failed |= judged and p50 > BUDGET_MS
        if args.ingest_on == "both" or args.ingest_on == name:
            bench_ingest(url, args.ingest_runs, args.batch, args.profile)
    verdict = "FAIL" if failed else "PASS"
    print(f"reachability pages p50 <= {BUDGET_MS:.0f} ms: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
