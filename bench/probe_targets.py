"""Probe round time for 10,000 targets, ICMP + TCP, against loopback.

Budget (bench/README.md): <= 60 s a round, probe RSS <= 40 MB. 10,000 active VPS, each with
one loopback address (127.1.x.y) and its SSH port pointing at one asyncio TCP listener
(0.0.0.0, accepts and closes), are loaded into a PostgreSQL database served by a real
`sigma serve`; then `sigma probe run --once` runs one round (20,000 checks with the default
types, results posted in batches) and the wall time of the whole command is reported with
the probe's own progress line and its peak resident memory (ru_maxrss of the probe process
alone, through a small wrapper process). ICMP needs root (raw sockets); each ICMP check is
the probe's default 3 echo requests. With tls in --types, a TLS listener (asyncio, a
self-signed EC certificate made here) answers on its own port, given to the probe as
--tls-port: every target gets one TLS handshake and, with the data probe, a HEAD request
answered with 200.

    python bench/probe_targets.py --targets 10000 --concurrency 300
    python bench/probe_targets.py --targets 10000 --concurrency 300 --types icmp,tcp,tls
"""

from __future__ import annotations

import argparse
import contextlib
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

TLS_LISTENER = """
import asyncio, ssl, sys
async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    async def handle(reader, writer):
        try:
            await asyncio.wait_for(reader.read(1024), 2)
            writer.write(b"HTTP/1.0 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
            await writer.drain()
        except Exception:
            pass
        writer.transport.abort()
    server = await asyncio.start_server(
        handle, "0.0.0.0", int(sys.argv[1]), backlog=4096, ssl=ctx, ssl_handshake_timeout=10
    )
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def self_signed(directory: Path) -> tuple[str, str]:
    """A self-signed EC P-256 certificate and its key (cryptography), as PEM files."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigma-bench")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


# ru_maxrss of a child started from this (large) process would start at this process's own
# peak (Linux keeps the high-water mark across fork and exec): a small wrapper starts the
# probe and reports the peak of its one child
RSS_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def run_measured(cmd: list[str], env: dict[str, str], tmp: Path) -> tuple[int, float, str]:
    """Run cmd; (exit status, peak RSS in MB of that process alone, its stderr)."""
    rss_file, log = tmp / "probe.maxrss", tmp / "probe.log"
    with open(log, "wb") as err:
        code = subprocess.call(
            [sys.executable, "-c", RSS_WRAPPER, str(rss_file), *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return code, int(rss_file.read_text()) / 1024, log.read_text()


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


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
    ap.add_argument(
        "--types",
        "--check-types",
        dest="check_types",
        default="icmp,tcp",
        help="the probe's --check-types (icmp, tcp, tls, http) [default: icmp,tcp]",
    )
    args = ap.parse_args(argv)
    if "icmp" in args.check_types and os.geteuid() != 0:
        raise SystemExit("ICMP needs root here (raw sockets); or pass --types tcp")

    port = free_port()
    listeners = [subprocess.Popen([sys.executable, "-c", LISTENER, str(port)])]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        stack.callback(_stop, listeners)
        tls_port = free_port()
        if "tls" in args.check_types:
            cert, key = self_signed(Path(tmp))
            listeners.append(
                subprocess.Popen([sys.executable, "-c", TLS_LISTENER, str(tls_port), cert, key])
            )
        load_fleet(args.targets, port)
        server = Server(PG, Path(tmp)).start()
        try:
            key = server.api_key("probe")
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
                *(["--tls-port", str(tls_port)] if "tls" in args.check_types else []),
            ]
            t0 = time.perf_counter()
            code, rss_mb, stderr = run_measured(cmd, env, Path(tmp))
            wall = time.perf_counter() - t0
            line = next((ln for ln in stderr.splitlines() if "round 1 [" in ln), stderr[-2000:])
            with server.admin() as c:
                stored = c.get("/api/ip-checks", params={"per_page": 1}).json()["total"]
        finally:
            server.stop()
    m = re.search(r"in ([\d.]+)s", line)
    round_s = float(m.group(1)) if m else float("inf")
    ok = code == 0 and round_s <= 60 and rss_mb <= 40
    print(
        f"probe: {args.targets} targets x {args.check_types}: "
        f"round {m.group(1) if m else '?'} s, whole command "
        f"{wall:.1f} s, probe peak RSS {rss_mb:.1f} MB "
        f"(concurrency {args.concurrency}, batches of {args.batch_size}); "
        f"{stored} checks stored. "
        f"Budget <= 60 s, <= 40 MB: {'PASS' if ok else 'FAIL'}."
    )
    print(f"probe said: {line.split('sigma.probe: ')[-1]}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
