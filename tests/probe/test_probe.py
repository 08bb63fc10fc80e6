"""The probe against a real `sigma serve` and loopback targets: TCP and HTTP servers (IPv4
and IPv6), a closed port, a listener that drops SYNs, ICMP to 127.0.0.1 as root; results
posted in batches; the spool survives a kill and a restart and is delivered exactly once.
(Every outcome class: test_outcomes.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from serverproc import free_port

ROOT = os.geteuid() == 0


def _fleet(server, listeners, closed_port):
    tag = uuid.uuid4().hex[:6]
    with server.admin() as c:
        for v in c.get("/api/vps", params={"per_page": 100}).json()["data"]:
            c.delete(f"/api/vps/{v['id']}")
        up = c.post(
            "/api/vps",
            json={
                "hostname": f"up-{tag}",
                "status": "active",
                "ssh_port": listeners,
                "ip_addresses": [{"ip": "127.0.0.1", "label": "china-telecom"}, {"ip": "::1"}],
            },
        ).json()
        closed = c.post(
            "/api/vps",
            json={
                "hostname": f"closed-{tag}",
                "status": "active",
                "ssh_port": closed_port,
                "ip_addresses": [{"ip": "127.0.0.2"}],
            },
        ).json()
        return up, closed


def _env(server, key, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGMA_", "PROBE_", "AGENT_"))}
    env.update(
        SIGMA_API_URL=server.api,
        SIGMA_API_KEY=key,
        SIGMA_CONFIG=str(tmp_path / "c.yaml"),
        SIGMA_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def _checks(server, source=None):
    with server.admin() as c:
        out, page = [], 1
        while True:
            params = {"per_page": 100, "page": page, **({"source": source} if source else {})}
            r = c.get("/api/ip-checks", params=params).json()
            out += r["data"]
            if page * 100 >= r["total"]:
                return out
            page += 1


@pytest.mark.skipif(not ROOT, reason="ICMP with raw sockets needs root")
def test_one_round_against_loopback_targets(server, listeners, tmp_path):
    key = server.api_key("probe")
    closed_port = free_port()
    up, closed = _fleet(server, listeners, closed_port)
    cmd = [
        sys.executable,
        "-m",
        "sigma",
        "probe",
        "run",
        "--source",
        "cn-test",
        "--once",
        "--check-types",
        "icmp,tcp,http",
        "--http-scheme",
        "http",
        "--http-port",
        str(listeners),
        "--tcp-timeout",
        "1",
        "--http-timeout",
        "2",
        "--icmp-timeout",
        "1",
        "--batch-size",
        "3",
        "--spool-dir",
        str(tmp_path / "spool"),
    ]
    r = subprocess.run(
        cmd, env=_env(server, key, tmp_path), capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "round 1 [cn-test]: 9 checks of 3 targets" in r.stderr and "posted 9" in r.stderr, (
        r.stderr
    )
    got = {(c["ip"], c["check_type"]): c for c in _checks(server)}
    assert len(got) == 9 and all(c["source"] == "cn-test" for c in got.values())
    for ip in ("127.0.0.1", "::1"):
        for t in ("icmp", "tcp", "http"):
            assert got[(ip, t)]["success"] is True, (ip, t)
            assert got[(ip, t)]["outcome"] == "ok", (ip, t)
            assert got[(ip, t)]["latency_ms"] is not None
        assert got[(ip, "icmp")]["loss_pct"] == 0.0 and got[(ip, "icmp")]["port"] is None
        assert got[(ip, "tcp")]["port"] == got[(ip, "http")]["port"] == listeners
    assert got[("127.0.0.2", "icmp")]["success"] is True  # the host answers...
    # ...but the port refuses: an RST is a failure, with the time it took to come
    assert got[("127.0.0.2", "tcp")]["success"] is False
    assert got[("127.0.0.2", "tcp")]["outcome"] == "refused"
    assert got[("127.0.0.2", "tcp")]["latency_ms"] is not None
    assert got[("127.0.0.2", "http")]["success"] is False
    assert got[("127.0.0.2", "http")]["outcome"] == "refused"
    with server.admin() as c:
        status = {row["ip"]: row for row in c.get("/api/ip-checks/status").json()}
    assert status["127.0.0.1"]["sources"]["cn-test"]["state"] == "ok"
    assert status["127.0.0.1"]["label"] == "china-telecom"
    # a refusal is the host answering (issue 17: refused counts as a reachable host)
    assert status["127.0.0.2"]["sources"]["cn-test"]["state"] == "ok"


def test_checks_drop_refuse_and_answer():
    """Only a completed handshake is a TCP success: a refusal (RST) and a dropped SYN fail.
    A SYN is dropped on loopback by a listener whose accept queue is full (TCP to outside
    addresses is intercepted by this sandbox). An echo request to the broadcast address is
    refused by the kernel (no SO_BROADCAST): nothing leaves loopback."""
    import socket

    from sigma.probe import checks

    async def main():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            ok = await checks.tcp("127.0.0.1", s.getsockname()[1], 2)
        refused = await checks.tcp("127.0.0.1", free_port(), 2)
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = []
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(full.getsockname())  # EINPROGRESS: fills the accept queue
            fillers.append(c)
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        dropped = await checks.tcp("127.0.0.1", full.getsockname()[1], 0.5)
        waited = time.monotonic() - t0
        for c in (*fillers, full):
            c.close()
        icmp_dropped = (
            await checks.icmp("255.255.255.255", 0.5, privileged=True)
            if ROOT
            else checks.Outcome("unreachable", None, 100.0)
        )
        icmp_ok = (
            await checks.icmp("127.0.0.1", 1, privileged=True, count=2)
            if ROOT
            else checks.Outcome("ok", 0, 0.0, 0)
        )
        v6 = await checks.tcp("::1", free_port(), 1)
        return ok, refused, dropped, waited, icmp_dropped, icmp_ok, v6

    ok, refused, dropped, waited, icmp_dropped, icmp_ok, v6 = asyncio.run(main())
    assert ok.success is True and ok.outcome == "ok" and isinstance(ok.latency_ms, int)
    assert refused.success is False and refused.outcome == "refused"
    assert dropped == checks.Outcome("timeout")
    assert icmp_dropped == checks.Outcome("unreachable", None, 100.0)
    assert icmp_ok.success is True and icmp_ok.loss_pct == 0.0 and icmp_ok.jitter_ms is not None
    assert v6.outcome == "refused"
    assert 0.4 <= waited < 2
    assert checks.http_url("2001:db8::1", "https", None) == "https://[2001:db8::1]/"
    assert checks.http_url("1.2.3.4", "http", 8080) == "http://1.2.3.4:8080/"


def test_icmp_without_privileges_is_a_clear_startup_error(monkeypatch):
    from sigma.probe import checks
    from sigma.probe.config import ConfigError

    monkeypatch.setattr(checks.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(checks.os, "getegid", lambda: 1000)
    monkeypatch.setattr(checks.os, "getgroups", lambda: [1000])
    monkeypatch.setattr(checks, "_has_cap", lambda bit: False)
    monkeypatch.setattr(checks.Path, "read_text", lambda self, *a, **k: "1\t0\n")
    with pytest.raises(ConfigError, match=r"net\.ipv4\.ping_group_range"):
        checks.icmp_privileged()
    monkeypatch.setattr(checks.Path, "read_text", lambda self, *a, **k: "0\t2147483647\n")
    assert checks.icmp_privileged() is False  # unprivileged ICMP sockets allowed


def test_probe_configuration_errors(cli):
    r = cli("probe", "run", "--once")
    assert r.code == 2 and "source: required" in r.err
    r = cli("probe", "run", "--source", "cn-bj", "--check-types", "icmp,udp", "--once")
    assert r.code == 2 and "udp" in r.err


def test_spool_survives_kill_and_restart_and_is_delivered_once(server, listeners, tmp_path):
    from sigma.probe.spool import Spool

    key = server.api_key("probe")
    _fleet(server, listeners, free_port())
    spool_dir = tmp_path / "spool"
    cmd = [
        sys.executable,
        "-m",
        "sigma",
        "probe",
        "run",
        "--source",
        "de-control",
        "--check-types",
        "tcp,http",
        "--http-scheme",
        "http",
        "--http-port",
        str(listeners),
        "--tcp-timeout",
        "0.5",
        "--http-timeout",
        "1",
        "--interval",
        "1",
        "--batch-size",
        "2",
        "--spool-dir",
        str(spool_dir),
    ]
    env = _env(server, key, tmp_path)
    log = open(tmp_path / "probe.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        # round 1 delivered (this probe's own: the module's server keeps earlier tests' checks)
        while len(_checks(server, "de-control")) < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_checks(server, "de-control")) >= 6, (tmp_path / "probe.log").read_text()
        server.stop()  # the server goes away: the next rounds go to the spool
        before = _count_in_db(server, "de-control")
        deadline = time.monotonic() + 30
        while len(Spool(spool_dir, 1 << 30).files()) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        log.close()
    spool = Spool(spool_dir, 1 << 30)
    spooled = [c for f in spool.files() for c in spool.load(f)]
    assert len(spooled) >= 6, (tmp_path / "probe.log").read_text()
    server.start()
    r = subprocess.run(cmd + ["--once"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"delivered from spool {len(spooled)}" in r.stderr, r.stderr
    assert spool.files() == []
    # this probe's checks only: the listing leaves out those of the VPS earlier tests deleted
    stored = _checks(server, "de-control")
    ids = [c["id"] for c in stored]
    assert len(ids) == len(set(ids)) == before + len(spooled) + 6
    assert {c["id"] for c in spooled} <= set(ids)
    # delivering the same batch again (a crash between post and delete) changes nothing
    import httpx

    r = httpx.post(
        server.api + "/ip-checks/batch", headers={"X-Api-Key": key}, json={"checks": spooled[:2]}
    )
    assert r.json()["inserted"] == 0 and r.json()["duplicates"] == 2
    assert len(_checks(server, "de-control")) == len(stored)


def _count_in_db(server, source: str) -> int:
    import sqlite3

    with sqlite3.connect(server.db_url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT count(*) FROM ip_checks WHERE source = ?", (source,)).fetchone()[
            0
        ]


def test_spool_is_bounded(tmp_path):
    from sigma.probe.spool import Spool

    spool = Spool(tmp_path / "s", max_bytes=4096)
    batch = [{"id": str(uuid.uuid4()), "pad": "x" * 400} for _ in range(3)]
    for _ in range(10):
        spool.put(batch)
    batches, size = spool.size()
    assert size <= 4096 and batches >= 1 and spool.dropped >= 3 * 6
    (tmp_path / "s" / "00000000000000000000-bad.json").write_text("{not json")
    assert spool.load(spool.files()[0]) is None and spool.files()[0].suffix == ".json"
