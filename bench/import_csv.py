"""Benchmark: import of 10,000 VPS from CSV (budget: <= 5 s, bench/README.md).

Generates a realistic CSV in the export format (ids, provider names, 1-3 labelled IPv4/IPv6
addresses, tags, exact decimal costs in several currencies, dates, JSON extra), then times:

  1. `sigma import vps FILE` as a subprocess (CLI start, parse, validate, bulk INSERT, commit)
     into a fresh database holding only the providers;
  2. the same file again (10,000 records matched by id, all unchanged);
  3. the service call alone (transfer.import_vps in one unit of work) into a fresh database.

    python bench/import_csv.py                      # SQLite, plus PostgreSQL if reachable
    python bench/import_csv.py --rows 10000 --pg postgresql+psycopg://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sigma.services.transfer import VPS_CSV_COLUMNS

BUDGET_S = 5.0
COLUMNS = VPS_CSV_COLUMNS  # the header `sigma export vps` writes
COUNTRIES = ["HK", "JP", "SG", "US", "DE", "NL", "GB", "FR", "KR", "TW", "CA", "RU"]
LABELS = ["china-telecom", "china-unicom", "china-mobile", "overseas", "internal", "", "anycast"]
PURPOSES = ["vpn-exit", "vpn-relay", "vpn-entry", "monitor", "management", ""]
STATUSES = ["active"] * 6 + ["provisioning", "retiring", "retired", "suspended"]
CURRENCIES = ["USD", "USD", "USD", "EUR", "CNY", "JPY", "HKD"]


def providers(n: int = 60) -> list[str]:
    return [f"Provider {i:02d}" for i in range(n)]


def generate_csv(rows: int, seed: int = 4) -> str:
    rnd = random.Random(seed)
    names = providers()
    today = date.today()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for i in range(rows):
        country = rnd.choice(COUNTRIES)
        ips = []
        for k in range(rnd.randint(1, 3)):
            if rnd.random() < 0.3:
                ip = f"2001:db8:{i:x}::{k + 1}"
            else:
                ip = f"{rnd.randint(1, 223)}.{rnd.randint(0, 255)}.{(i >> 8) & 255}.{(i + k) & 255}"
            ips.append({"ip": ip, "label": rnd.choice(LABELS)})
        bought = today - timedelta(days=rnd.randint(0, 900))
        tags = [f"p:{rnd.choice(['airport', 'aoxvpn', 'purevpn'])}"] + (
            ["cn-optimized"] if rnd.random() < 0.5 else []
        )
        w.writerow(
            [
                str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                f"{country.lower()}-{i:05d}",
                f"node {i}",
                rnd.choice(names),
                json.dumps(ips, separators=(",", ":")),
                22,
                country,
                "",
                f"DC-{i % 17}",
                rnd.choice([1, 2, 4]),
                rnd.choice([512, 1024, 2048]),
                rnd.choice([10, 20, 40]),
                f"{rnd.randint(1, 40) / 4:.2f}",
                f"{rnd.randint(100, 9999) / 100:.2f}",
                rnd.choice(CURRENCIES),
                rnd.choice(STATUSES),
                bought.isoformat(),
                (bought + timedelta(days=30)).isoformat(),
                rnd.choice(PURPOSES),
                rnd.choice(["wireguard", "xray", ""]),
                ";".join(tags),
                "true",
                9100,
                json.dumps({"batch": i // 1000}),
                "",
            ]
        )
    return buf.getvalue()


def fresh_db(url: str | None, workdir: Path, tag: str) -> str:
    """A migrated database holding only the providers: a new SQLite file, or a new PG database."""
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work, upgrade
    from sigma.services import providers as provider_service
    from sigma.services.actor import local_actor

    if url is None:
        db = f"sqlite:///{workdir / f'{tag}.db'}"
    else:
        import psycopg

        name = f"sigma_bench_import_{os.getpid()}_{tag}"
        admin = url.replace("+psycopg", "")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        db = url.rsplit("/", 1)[0] + "/" + name
    eng = make_engine(db)
    upgrade(eng)
    with unit_of_work(sessionmaker(eng)) as s:
        for name in providers():
            provider_service.create(s, local_actor(), {"name": name})
    eng.dispose()
    return db


def drop_db(url: str | None, db: str) -> None:
    if url is None:
        return
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db.rsplit("/", 1)[1]}" WITH (FORCE)')


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def cli_import(db: str, path: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the sigma process, its last line on stderr)."""
    env = {**os.environ, "SIGMA_DATABASE_URL": db, "SIGMA_CONFIG": str(path.parent / "none.yaml")}
    env.pop("SIGMA_SERVER", None)
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "sigma", "import", "vps", str(path)],
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"import failed ({r.returncode}): {r.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu0, r.stderr.strip().splitlines()[-1]


def service_import(db: str, text: str) -> float:
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work
    from sigma.services import transfer
    from sigma.services.actor import local_actor

    eng = make_engine(db)
    factory = sessionmaker(eng)
    t0 = time.perf_counter()
    with unit_of_work(factory) as s:
        report = transfer.import_vps(s, local_actor(), text, "csv")
    elapsed = time.perf_counter() - t0
    eng.dispose()
    assert report.created == text.count("\n") - 1, report
    return elapsed


def bench(
    label: str, url: str | None, rows: int, workdir: Path, text: str, path: Path
) -> tuple[list[str], bool]:
    out = []
    db = fresh_db(url, workdir, "cli")
    try:
        first, first_cpu, line = cli_import(db, path)
        again, again_cpu, line2 = cli_import(db, path)
    finally:
        drop_db(url, db)
    db = fresh_db(url, workdir, "svc")
    try:
        svc = service_import(db, text)
    finally:
        drop_db(url, db)
    verdict = "OK" if first <= BUDGET_S else "OVER BUDGET"
    out.append(
        f"{label}: `sigma import vps` {rows:,} new rows: {first:.2f} s wall, {first_cpu:.2f} s CPU "
        f"({verdict}, budget {BUDGET_S:.0f} s; load average {os.getloadavg()[0]:.1f})"
    )
    out.append(f"{label}:   -> {line}")
    out.append(
        f"{label}: same file again ({rows:,} unchanged): {again:.2f} s wall, {again_cpu:.2f} s CPU"
    )
    out.append(f"{label}: service call alone ({rows:,} new rows, one transaction): {svc:.2f} s")
    return out, first <= BUDGET_S


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument(
        "--pg",
        default=os.environ.get(
            "SIGMA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL admin URL (a throwaway database is created); '' to skip",
    )
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        text = generate_csv(args.rows)
        path = workdir / "fleet.csv"
        path.write_text(text)
        print(f"CSV: {args.rows:,} rows, {len(text) / 1e6:.1f} MB")
        lines, ok = bench("SQLite", None, args.rows, workdir, text, path)
        if args.pg:
            try:
                more, pg_ok = bench("PostgreSQL", args.pg, args.rows, workdir, text, path)
                lines, ok = lines + more, ok and pg_ok
            except Exception as exc:  # noqa: BLE001
                lines.append(
                    f"PostgreSQL: skipped ({type(exc).__name__}: {str(exc).splitlines()[0]})"
                )
        print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
