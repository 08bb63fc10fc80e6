"""The server stopped for a while under a running agent and a running probe.

A real `sigma serve` (SQLite, then PostgreSQL), a real `sigma agent run` (heartbeat every
0.5 s) and a real `sigma probe run` (TCP checks of two loopback targets every second, its spool
in tmp) run against it. The server is killed (SIGKILL: requests in flight are lost, some
perhaps after their commit), stays away for a few seconds, and is started again on the same
port and database (and once more with SIGTERM, a clean stop). Then:
- the agent and the probe are still running, stop cleanly on SIGTERM, and printed no traceback;
- the agent registered once (one "register" audit row, one VPS, one "registered as" line):
  a failed heartbeat is no reason to register again, only a 404 is; its heartbeats resume;
- the probe spooled what it measured during the outage and delivered it after: every check
  of every round it logged is in the database exactly once, and nothing was dropped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from serverproc import Server

SOURCE = "cn-outage"
ROUND = re.compile(
    rf"round \d+ \[{SOURCE}\]: (\d+) checks of \d+ targets .*?; posted (\d+), spooled (\d+), "
    r"dropped (\d+); delivered from spool (\d+); spool (\d+) batches"
)


def wait_for(what, predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Db:
    """Reads the server's database directly (the server may be down)."""

    def __init__(self, url: str):
        from sigma.db.engine import make_engine

        self.engine = make_engine(url)

    def scalar(self, sql: str, **params):
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def check_ids(self) -> set[str]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id FROM ip_checks WHERE source = :s"), {"s": SOURCE})
            return {str(uuid.UUID(str(r[0]))) for r in rows}


def _rounds(log: Path) -> list[tuple[int, ...]]:
    return [
        tuple(int(g) for g in m.groups()) for m in ROUND.finditer(log.read_text(errors="replace"))
    ]


def _env(server: Server, key: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGMA_", "AGENT_", "PROBE_"))}
    env.update(
        SIGMA_API_URL=server.api,
        SIGMA_API_KEY=key,
        SIGMA_CONFIG=str(tmp / "none.yaml"),
        SIGMA_DATA_DIR=str(tmp / "client-data"),
        **extra,
    )
    return env


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_agent_and_probe_ride_out_a_server_outage(db_url, tmp_path, sig):
    # a loopback TCP target that accepts (and at once closes) every connection
    listener = socketserver.ThreadingTCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    listener.daemon_threads = True
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    server = Server(db_url, tmp_path).start()
    db = Db(db_url)
    procs: list[subprocess.Popen] = []
    logs: list = []
    try:
        with server.admin() as c:
            target = c.post(
                "/api/vps",
                json={
                    "hostname": f"target-{uuid.uuid4().hex[:6]}",
                    "status": "active",
                    "ssh_port": listener.server_address[1],
                    "ip_addresses": [{"ip": "127.0.0.1"}, {"ip": "127.0.0.2"}],  # open / refused
                },
            )
            assert target.status_code == 200, target.text
        key = server.api_key("agent")
        probe_key = server.api_key("probe")

        # the agent: registers, then heartbeats every 0.5 s
        host = f"outage-agent-{uuid.uuid4().hex[:6]}"
        agent_log = tmp_path / "agent.log"
        logs.append(open(agent_log, "w"))  # noqa: SIM115 - closed in finally
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "sigma", "agent", "run"],
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
                env=_env(
                    server,
                    key,
                    tmp_path,
                    AGENT_HOSTNAME=host,
                    AGENT_INTERVAL="0.5",
                    AGENT_METRICS_PORT="0",
                    AGENT_PUBLIC_IP_URLS="",
                    AGENT_PORT_SCAN="false",
                    AGENT_TIMEOUT="5",
                    AGENT_BACKOFF_MAX="1",
                ),
            )
        )
        agent_proc = procs[-1]

        def agent_vps():
            with server.admin() as c:
                found = [
                    v
                    for v in c.get("/api/vps", params={"search": host}).json()["data"]
                    if v["hostname"] == host
                ]
            return found[0] if found else None

        vps = wait_for("the agent's registration", agent_vps, 20, 0.2)
        # its addresses are this host's interfaces: keep it out of the probe's targets
        with server.admin() as c:
            r = c.put(f"/api/vps/{vps['id']}", json={"status": "retiring"})
            assert r.status_code == 200, r.text

        # the probe: one batch per round (batch size over the checks of a round), every second
        spool = tmp_path / "spool"
        probe_log = tmp_path / "probe.log"
        logs.append(open(probe_log, "w"))  # noqa: SIM115 - closed in finally
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sigma",
                    "probe",
                    "run",
                    "--source",
                    SOURCE,
                    "--check-types",
                    "tcp",
                    "--interval",
                    "1",
                    "--tcp-timeout",
                    "0.5",
                    "--batch-size",
                    "5000",
                    "--spool-dir",
                    str(spool),
                ],
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
                env=_env(server, probe_key, tmp_path),
            )
        )
        probe_proc = procs[-1]
        wait_for(
            "the probe's first round",
            lambda: db.scalar("SELECT count(*) FROM ip_checks WHERE source = :s", s=SOURCE) >= 2,
            20,
        )

        vps_before = db.scalar("SELECT count(*) FROM vps")
        registrations = "SELECT count(*) FROM audit_logs WHERE action = 'register'"
        assert db.scalar(registrations) == 1

        # the outage: killed or stopped, a few seconds away, started again on the same port
        # and database
        os.killpg(server.proc.pid, sig)
        server.proc.wait(15)
        server.proc = None
        rounds_before = len(_rounds(probe_log))
        wait_for(
            "rounds spooled during the outage",
            lambda: len(_rounds(probe_log)) >= rounds_before + 2,
            15,
        )
        assert any(r[2] for r in _rounds(probe_log)[rounds_before:]), probe_log.read_text()[-3000:]
        assert "heartbeat failed" in agent_log.read_text(), agent_log.read_text()[-3000:]
        restarted = datetime.now(UTC)
        server.start()

        # recovery: the spool is delivered and empty; heartbeats are stored again
        def delivered():
            rounds = _rounds(probe_log)
            return any(r[4] for r in rounds) and rounds[-1][5] == 0 and rounds[-1][2] == 0

        wait_for("delivery of the spool", delivered, 20)

        def beat_after_restart():
            with server.admin() as c:
                extra = c.get(f"/api/vps/{vps['id']}").json()["extra"]
            return (
                datetime.fromisoformat(extra["last_heartbeat"].replace("Z", "+00:00")) > restarted
            )

        wait_for("a heartbeat after the restart", beat_after_restart, 10)
        assert agent_proc.poll() is None and probe_proc.poll() is None, (
            "the agent or the probe exited"
        )

        # stop the probe between two rounds (just after one was logged), then the agent
        seen = len(_rounds(probe_log))
        wait_for("one more round", lambda: len(_rounds(probe_log)) > seen, 5, 0.02)
        for p in (probe_proc, agent_proc):
            p.send_signal(signal.SIGTERM)
        assert probe_proc.wait(10) == 0 and agent_proc.wait(10) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)
        for f in logs:
            f.close()
        server.stop()
        listener.shutdown()
        listener.server_close()

    agent_out, probe_out = agent_log.read_text(), probe_log.read_text()
    for name, out in (("agent", agent_out), ("probe", probe_out)):
        assert "Traceback" not in out and " ERROR " not in out, f"{name}:\n{out[-4000:]}"
    # the agent registered once and only once
    assert agent_out.count("registered as") == 1, agent_out[-4000:]
    assert db.scalar(registrations) == 1
    assert db.scalar("SELECT count(*) FROM vps") == vps_before == 2

    # the probe: every check of every logged round is stored once; none dropped
    rounds = _rounds(probe_log)
    measured = sum(r[0] for r in rounds)
    assert sum(r[3] for r in rounds) == 0, "results were dropped"
    assert sum(r[2] for r in rounds) == sum(r[4] for r in rounds) > 0, (
        "spooled != delivered from the spool"
    )
    stored = db.check_ids()
    # a round cut short by the SIGTERM is not logged: its results are in the spool (and
    # perhaps also stored, if the server answered just before): count them out
    left = {
        c["id"] for f in sorted(spool.glob("*.json")) for c in json.loads(f.read_text())["checks"]
    }
    assert len(stored - left) == measured, (len(stored), len(left), measured, probe_out[-3000:])
    assert db.scalar("SELECT count(*) FROM ip_checks WHERE source = :s", s=SOURCE) == len(stored)
    distinct = (
        "SELECT count(*) FROM (SELECT DISTINCT ip, check_type, checked_at FROM ip_checks "
        "WHERE source = :s) AS d"
    )
    assert db.scalar(distinct, s=SOURCE) == len(stored), "the same measurement was stored twice"
    db.engine.dispose()
