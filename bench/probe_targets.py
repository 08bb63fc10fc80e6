"""Probe round time for 10,000 targets, ICMP + TCP, against loopback.

Budget (bench/README.md): <= 60 s. 10,000 active VPS, each with one loopback address
(127.1.x.y) and its SSH port pointing at one asyncio TCP listener (0.0.0.0, accepts and
closes), are loaded into a PostgreSQL database served by a real `sigma serve`; then
`sigma probe run --once` runs one round (20,000 checks, results posted in batches) and the
wall time of the whole command is reported with the probe's own progress line. ICMP needs
root (raw sockets).

    python bench/probe_targets.py --targets 10000 --concurrency 300
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from serverproc import Server, free_port  # noqa: E402

PG = os.environ.get(
    "SIGMA_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/sigma_bench_probe"
)

LISTENER = """
import asyncio, sys
async def main():
    async def handle(reader, writer):
        writer.close()
    server = await asyncio.start_server(handle, "0.0.0.0", int(sys.argv[1]), backlog=4096)
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def load_fleet(n: int, port: int) -> None:
    import psycopg
    from sqlalchemy import insert

    from sigma.db.engine import make_engine, upgrade
    from sigma.db.models.core import Vps
    from sigma.db.types import utcnow

    base, name = PG.rsplit("/", 1)
    with psycopg.connect(base.replace("+psycopg", "") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(PG)
    upgrade(engine)
    now = utcnow()
    rows = [
        dict(
            id=uuid.uuid4(),
            hostname=f"probe-{i:05d}",
            alias="",
            provider_id=None,
            ip_addresses=[{"ip": f"127.1.{i // 250}.{i % 250 + 1}", "label": "china-telecom"}],
            ssh_port=port,
            country="",
            city="",
            dc_name="",
            currency="USD",
            status="active",
            purpose="",
            vpn_protocol="",
            tags=[],
            monitoring_enabled=True,
            node_exporter_port=9100,
            extra={},
            notes="",
            created_at=now,
            updated_at=now,
        )
        for i in range(n)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Vps), rows)
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--check-types", default="icmp,tcp")
    args = ap.parse_args(argv)
    if "icmp" in args.check_types and os.geteuid() != 0:
        raise SystemExit("ICMP needs root here (raw sockets); or pass --check-types tcp")

    port = free_port()
    listener = subprocess.Popen([sys.executable, "-c", LISTENER, str(port)])
    with tempfile.TemporaryDirectory() as tmp:
        load_fleet(args.targets, port)
        server = Server(PG, Path(tmp)).start()
        try:
            key = server.api_key("agent")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGMA_", "PROBE_"))}
            env.update(
                SIGMA_API_URL=server.api, SIGMA_API_KEY=key, SIGMA_DATA_DIR=str(Path(tmp) / "data")
            )
            cmd = [
                sys.executable,
                "-m",
                "sigma",
                "probe",
                "run",
                "--source",
                "cn-bench",
                "--once",
                "--check-types",
                args.check_types,
                "--concurrency",
                str(args.concurrency),
                "--batch-size",
                str(args.batch_size),
                "--tcp-timeout",
                "5",
                "--icmp-timeout",
                "3",
                "--spool-dir",
                str(Path(tmp) / "spool"),
            ]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            line = next((ln for ln in r.stderr.splitlines() if "round 1 [" in ln), r.stderr[-2000:])
            with server.admin() as c:
                stored = c.get("/api/ip-checks", params={"per_page": 1}).json()["total"]
        finally:
            server.stop()
            listener.send_signal(signal.SIGTERM)
            listener.wait(10)
    m = re.search(r"in ([\d.]+)s", line)
    print(
        f"probe: {args.targets} targets x {args.check_types}: "
        f"round {m.group(1) if m else '?'} s, whole command "
        f"{wall:.1f} s (concurrency {args.concurrency}, batches of {args.batch_size}); "
        f"{stored} checks stored. "
        f"Budget <= 60 s."
    )
    print(f"probe said: {line.split('sigma.probe: ')[-1]}")
    round_s = float(m.group(1)) if m else float("inf")
    return 0 if r.returncode == 0 and round_s <= 60 else 1


if __name__ == "__main__":
    sys.exit(main())
