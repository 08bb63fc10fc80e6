"""Two `sigma serve` replicas on one PostgreSQL through a real PgBouncer in transaction mode
(the production setup of CloudNativePG's Pooler): migrations, every request and the jobs go
through the pooler; each job runs once per interval across both replicas, heartbeats sent to
either land, and the Redis rate limit is one budget for both."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from serverproc import Server, free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
PG_ADMIN_URL = os.environ.get(
    "SIGMA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = "redis://127.0.0.1:6379/0"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(ok: bool, why: str) -> None:
    if not ok:
        if IN_CI:
            pytest.fail(f"required under CI=true: {why}")
        pytest.skip(why)


@pytest.fixture
def database(pg_database) -> Iterator[str]:  # pg_database: PostgreSQL is there (or skip/fail)
    import psycopg

    name = f"sigma_pooler_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pooler(database: str, tmp_path: Path) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of `database`, with fewer server connections
    than the replicas have clients: sessions are spread over server connections."""
    _need(Path(PGBOUNCER).exists(), "pgbouncer is not installed (Debian package pgbouncer)")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _need(False, f"Redis must run on 127.0.0.1:6379: {exc}")
    # not under tmp_path: its parents are private to this user, and PgBouncer drops root
    work = Path(tempfile.mkdtemp(prefix="sigma-pgbouncer-"))
    port = free_port()
    (work / "users.txt").write_text('"postgres" ""\n')
    (work / "pgbouncer.ini").write_text(f"""
[databases]
{database} = host=127.0.0.1 port=5432 dbname={database} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {work}/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
""")
    cmd = [PGBOUNCER, str(work / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(work, "postgres")
        for f in work.iterdir():
            shutil.chown(f, "postgres")
        cmd[1:1] = ["-u", "postgres"]
    log = tmp_path / "pgbouncer.log"
    with open(log, "wb") as out:  # the child keeps its own copy
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
    deadline = time.monotonic() + 15
    import psycopg

    while True:
        try:
            psycopg.connect(
                url.replace("+psycopg", ""), prepare_threshold=None, connect_timeout=2
            ).close()
            break
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait(5)
                shutil.rmtree(work, ignore_errors=True)
                pytest.fail(f"pgbouncer did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(work, ignore_errors=True)


class Webhook(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_two_replicas_behind_pgbouncer_in_transaction_mode(
    pooler: str, webhook: Webhook, tmp_path: Path
):
    # the schema is created through the pooler (alembic's transaction, its xact-scoped lock)
    cli_env = {
        **os.environ,
        "SIGMA_DATABASE_URL": pooler,
        "SIGMA_DATABASE_POOLER": "true",
        "SIGMA_DATA_DIR": str(tmp_path / "cli"),
        "SIGMA_CONFIG": str(tmp_path / "cli.yaml"),
    }
    for argv in (
        ["db", "upgrade"],
        # the local CLI through the pooler too; expires in 3 days: one notice is due
        [
            "vps",
            "add",
            "due-01",
            "--status",
            "active",
            "--expire-date",
            str(date.today() + timedelta(days=3)),
        ],
    ):
        done = subprocess.run(
            ["sigma", *argv], env=cli_env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr

    env = {
        "SIGMA_DATABASE_POOLER": "true",
        "SIGMA_REDIS_URL": REDIS_URL,
        "SIGMA_JOBS_ENABLED": "true",
        "SIGMA_RATE_LIMIT_REQUESTS": "40",
        "SIGMA_RATE_LIMIT_WINDOW": "60",
        # offline detection every 5 s (its shortest interval), an agent silent for 3 s is offline
        "SIGMA_AGENT_INTERVAL": "1",
        "SIGMA_OFFLINE_AFTER": "3",
        "SIGMA_WEBHOOK_URL": f"http://127.0.0.1:{webhook.server_address[1]}/hook",
        "SIGMA_NOTIFY_BEFORE_DAYS": "3",
    }
    replicas = [Server(pooler, tmp_path / name, extra_env=env) for name in ("a", "b")]
    for r in replicas:
        r.workdir.mkdir()
    started = time.monotonic()
    try:
        replicas[0].start()
        agent_keys = [replicas[0].api_key("agent") for _ in range(2)]
        replicas[1].start()
        for n, (host, key) in enumerate(zip(("edge-a", "edge-b"), agent_keys, strict=True)):
            r = httpx.post(
                replicas[n].api + "/agent/register",
                headers={"X-Api-Key": key},
                json={"hostname": host, "ip_addresses": [{"ip": f"10.0.0.{n + 1}"}]},
                timeout=10,
            )
            assert r.status_code == 200, r.text

        # heartbeats, alternately to each replica, from two agents, land whichever replica took them
        for i in range(20):
            for n, (host, key) in enumerate(zip(("edge-a", "edge-b"), agent_keys, strict=True)):
                target = replicas[(i + n) % 2]
                r = httpx.post(
                    target.api + "/agent/heartbeat",
                    headers={"X-Api-Key": key},
                    json={"hostname": host, "system_info": {"beat": i}},
                    timeout=10,
                )
                assert r.status_code == 200, r.text
        with replicas[1].admin() as admin:
            rows = {
                v["hostname"]: v
                for v in admin.get("/api/vps", params={"per_page": 100}).json()["data"]
            }
        assert rows["edge-a"]["extra"]["system_info"] == {"beat": 19}
        assert rows["edge-b"]["extra"]["system_info"] == {"beat": 19}

        # one rate-limit budget in Redis for both replicas: 40 requests a minute for this key
        key = replicas[0].api_key("readonly")
        codes = [
            httpx.get(
                replicas[i % 2].api + "/providers", headers={"X-Api-Key": key}, timeout=10
            ).status_code
            for i in range(50)
        ]
        assert codes.count(200) <= 40 and codes[-1] == 429, codes
        assert (
            429 in codes[::2] and 429 in codes[1::2]
        )  # both replicas refuse once the shared budget is spent

        # the agents fall silent: each goes offline once, recorded by one replica's job run
        with replicas[0].admin() as admin:

            def offline() -> list[dict]:
                return [
                    e
                    for e in admin.get("/api/vps-events", params={"kind": "agent-offline"}).json()
                    if e["kind"] == "agent-offline"
                ]

            _wait(lambda: len(offline()) >= 2, 30, "the agents to be recorded offline")
            time.sleep(11)  # two more runs of the offline job: nothing new to record
            assert sorted(e["details"]["hostname"] for e in offline()) == ["edge-a", "edge-b"]
        _wait(lambda: len(webhook.received) >= 1, 30, "the expiry notice")
    finally:
        for r in replicas:
            r.stop()
    elapsed = time.monotonic() - started

    assert [n["hostname"] for n in webhook.received] == ["due-01"], webhook.received
    runs = {name: 0 for name in ("agent-offline", "expiry-notifications")}
    for r in replicas:
        for job in re.findall(r"job (\S+) ran", r.log.read_text()):
            runs[job] = runs.get(job, 0) + 1
    # each job once per interval across both replicas, never once per replica
    assert runs["expiry-notifications"] == 1, runs
    assert 1 <= runs["agent-offline"] <= elapsed / (5 * 0.9) + 1, (runs, elapsed)
    for r in replicas:
        assert "prepared statement" not in r.log.read_text()
