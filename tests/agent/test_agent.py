"""The agent against a real `sigma serve` on loopback: registration, heartbeats, 404 ->
re-register, retired -> refused, server down -> backoff -> recovery; port inventory;
/metrics; signals; bounded memory; systemd unit; no database layer imported."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from serverproc import Server, free_port


def wait_for(cond, timeout=15.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    raise AssertionError("condition not met in time")


def vps_of(server, hostname):
    with server.admin() as c:
        rows = c.get("/api/vps", params={"search": hostname, "per_page": 100}).json()["data"]
    return [v for v in rows if v["hostname"] == hostname]


def test_register_heartbeat_and_reregister_after_404(server, make_agent):
    host = f"agent-{uuid.uuid4().hex[:6]}"
    agent = make_agent(hostname=host, alias="a1", ssh_port=2200)
    agent.start()
    wait_for(lambda: agent.health.heartbeats_ok >= 2)
    [v] = vps_of(server, host)
    assert (
        v["status"] == "active"
        and v["alias"] == "a1"
        and v["ssh_port"] == 2200
        and v["online"] is True
    )
    info = v["extra"]["system_info"]
    for key in (
        "cpu_cores",
        "ram_mb",
        "disk_gb",
        "uptime_seconds",
        "load_avg",
        "cpu_percent",
        "mem_used_mb",
        "disk_used_gb",
    ):
        assert key in info, key
    assert info["cpu_cores"] >= 1 and info["ram_mb"] > 0 and len(info["load_avg"]) == 3
    # the VPS is deleted on the server: the next heartbeat gets 404 and the agent registers again
    with server.admin() as c:
        assert c.delete(f"/api/vps/{v['id']}").status_code == 200
    wait_for(
        lambda: (
            (vs := vps_of(server, host))
            and vs[0]["id"] != v["id"]
            and agent.health.heartbeats_ok > 3
        )
    )
    assert agent.health.registered


def test_retired_vps_is_not_revived(server, make_agent, caplog):
    host = f"agent-{uuid.uuid4().hex[:6]}"
    agent = make_agent(hostname=host)
    assert agent.register_once() == "ok"
    [v] = vps_of(server, host)
    with server.admin() as c:
        c.post(f"/api/vps/{v['id']}/retire").raise_for_status()
    assert agent.heartbeat_once() == "retired" and not agent.health.registered
    with caplog.at_level("ERROR", logger="sigma.agent"):
        assert agent.register_once() == "retired"
    assert "registration refused: API error (409)" in caplog.text and "retired" in caplog.text
    [v2] = vps_of(server, host)
    assert v2["status"] == "retired"


def test_backoff_grows_with_jitter_and_is_capped():
    from sigma.agent.runner import backoff_delay

    for attempt in range(12):
        d = min(300.0, 2**attempt)
        samples = [backoff_delay(attempt, 1.0, 300.0) for _ in range(50)]
        assert all(d / 2 <= s <= d for s in samples)
        if d >= 4:
            assert len({round(s, 6) for s in samples}) > 1  # jitter


def test_server_down_then_backoff_then_recovery(server, agent_key, tmp_path):
    """The agent starts while its server is down, backs off, registers when it comes up,
    keeps going through an outage and heartbeats again after it."""
    from sigma.agent.config import normalise
    from sigma.agent.runner import Agent

    second = Server(server.db_url, tmp_path)  # same database, another port, not started yet
    host = f"agent-{uuid.uuid4().hex[:6]}"
    agent = Agent(
        normalise(
            dict(
                api_url=second.api,
                api_key=agent_key,
                interval=0.2,
                metrics_port=0,
                public_ip_urls=(),
                backoff_max=0.4,
                hostname=host,
                timeout=2,
            )
        )
    )
    agent.start()
    try:
        wait_for(lambda: agent.health.consecutive_failures >= 3)
        assert not agent.health.registered
        second.start()
        wait_for(lambda: agent.health.registered and agent.health.heartbeats_ok >= 1, timeout=20)
        second.stop()
        before = agent.health.heartbeats_failed
        wait_for(lambda: agent.health.heartbeats_failed >= before + 2)
        assert agent.health.consecutive_failures >= 2
        second.start()
        ok = agent.health.heartbeats_ok
        wait_for(
            lambda: agent.health.heartbeats_ok > ok and agent.health.consecutive_failures == 0,
            timeout=20,
        )
        assert len(vps_of(server, host)) == 1  # no duplicate registration
    finally:
        agent.shutdown()
        second.stop()


def test_port_inventory_sees_our_sockets_with_process_name():
    import psutil

    from sigma.agent import ports

    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        tport, uport = tcp.getsockname()[1], udp.getsockname()[1]
        lo, hi = min(tport, uport), max(tport, uport)
        result = ports.scan(lo, hi)
        me = psutil.Process().name()
        assert result.used_by_process[tport] == me and result.used_by_process[uport] == me
        assert result.total_ports == hi - lo + 1
        assert result.available == result.total_ports - sum(result.used_by_source.values())
        assert result.used_by_source.get(ports.classify(me), 0) >= 2
    finally:
        tcp.close()
        udp.close()
    assert tport not in ports.scan(tport, tport).used_by_process


def test_classification_as_the_contract():
    from sigma.agent.ports import classify

    for name in ("envoy", "sshd", "nginx", "node_exporter"):
        assert classify(name) == name
    assert classify("/usr/bin/envoy") == "envoy"
    assert classify("python3") == "other" and classify("java") == "other"
    assert classify(None) == "unknown" and classify("") == "unknown"


def _families(text):
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_rendering_as_the_contract():
    from sigma.agent.metrics import AgentCollector, make_registry, render
    from sigma.agent.ports import PortScan

    empty = render(make_registry(AgentCollector("relay-01"), process=False)).decode()
    fams = _families(empty)
    assert [n for n in fams][:4] == [
        "sigma_ports_total",
        "sigma_ports_available",
        "sigma_ports_used",
        "sigma_port_scan_duration_seconds",
    ]
    values = {(s.labels.get("source")): s.value for s in fams["sigma_ports_used"].samples}
    assert values == {
        "envoy": 0,
        "sshd": 0,
        "nginx": 0,
        "node_exporter": 0,
        "other": 0,
        "unknown": 0,
    }
    assert fams["sigma_ports_total"].samples[0].value == 0
    for name in (
        "sigma_ports_total",
        "sigma_ports_available",
        "sigma_ports_used",
        "sigma_port_scan_duration_seconds",
    ):
        assert f"# HELP {name} " in empty and f"# TYPE {name} gauge" in empty
    scan = PortScan(
        total_ports=20001,
        available=19927,
        scan_duration=0.2874,
        used_by_source={"envoy": 70, "sshd": 1, "unknown": 3, "haproxy": 5},
    )
    text = render(make_registry(AgentCollector("relay-01", scan), process=False)).decode()
    fams = _families(text)
    used = {s.labels["source"]: s.value for s in fams["sigma_ports_used"].samples}
    assert used == {
        "envoy": 70,
        "sshd": 1,
        "nginx": 0,
        "node_exporter": 0,
        "other": 0,
        "unknown": 3,
        "haproxy": 5,
    }
    assert list(used)[:6] == ["envoy", "sshd", "nginx", "node_exporter", "other", "unknown"]
    assert fams["sigma_port_scan_duration_seconds"].samples[0].value == 0.287
    assert 'sigma_ports_used{hostname="relay-01",source="envoy"} 70' in text
    assert fams["sigma_ports_available"].samples[0].value == 19927


def test_metrics_endpoint_with_port_scan_and_health(server, make_agent):
    port = free_port()
    agent = make_agent(
        hostname=f"agent-{uuid.uuid4().hex[:6]}",
        metrics_port=port,
        metrics_addr="127.0.0.1",
        port_scan=True,
        port_scan_range="1-65535",
        port_scan_interval=0.2,
    )
    agent.start()
    wait_for(lambda: agent.health.heartbeats_ok >= 1 and agent.collector.scan.total_ports == 65535)
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert (
        r.status_code == 200
        and r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    )
    fams = _families(r.text)
    assert fams["sigma_ports_total"].samples[0].value == 65535
    used = {s.labels["source"]: s.value for s in fams["sigma_ports_used"].samples}
    assert sum(used.values()) >= 2  # the test server and this metrics server listen
    assert fams["sigma_agent_registered"].samples[0].value == 1
    assert fams["sigma_agent_last_heartbeat_timestamp_seconds"].samples[0].value > time.time() - 60
    assert fams["sigma_agent_consecutive_failures"].samples[0].value == 0
    assert "process_resident_memory_bytes" in fams
    assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=5).status_code == 404


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_agent_within_a_second(server, agent_key, tmp_path, sig):
    host = f"agent-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGMA_", "AGENT_"))}
    env.update(
        SIGMA_API_URL=server.api,
        SIGMA_API_KEY=agent_key,
        AGENT_INTERVAL="0.2",
        AGENT_HOSTNAME=host,
        AGENT_METRICS_PORT=str(free_port()),
        AGENT_METRICS_ADDR="127.0.0.1",
        AGENT_PUBLIC_IP_URLS="",
        AGENT_PORT_SCAN="true",
        SIGMA_CONFIG=str(tmp_path / "c.yaml"),
        SIGMA_DATA_DIR=str(tmp_path),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sigma", "agent", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: vps_of(server, host), timeout=20, step=0.2)
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(5)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read()
    assert code == 0, out
    assert elapsed < 1.0, f"took {elapsed:.2f}s to stop"
    assert "registered as" in out and "stopped" in out and "Traceback" not in out


def test_bad_configuration_is_a_clear_error(cli):
    r = cli("agent", "run", "--port-scan-range", "3000-1000")
    assert r.code == 2 and "port_scan_range: start 3000 is after end 1000" in r.err
    r = cli("agent", "run", "--api-url", "ftp://x")
    assert r.code == 2 and "api_url" in r.err
    r = cli("agent", "run", "--config-file", "/nonexistent/agent.env")
    assert r.code == 2 and "/nonexistent/agent.env" in r.err


def test_config_layers(tmp_path):
    from sigma.agent.config import load

    f = tmp_path / "agent.env"
    f.write_text(
        '# comment\nSIGMA_API_URL="https://sigma.example.com/api/"\nAGENT_INTERVAL=30\n'
        "export AGENT_PORT_SCAN=yes\nAGENT_ALIAS='my box'\n"
    )
    cfg = load({}, environ={}, config_file=str(f))
    assert (cfg.api_url, cfg.interval, cfg.port_scan, cfg.alias) == (
        "https://sigma.example.com/api",
        30,
        True,
        "my box",
    )
    cfg = load(
        {"interval": "5"}, environ={"AGENT_INTERVAL": "10", "RUST_LOG": "debug"}, config_file=str(f)
    )
    assert cfg.interval == 5 and cfg.log_level == "DEBUG"
    assert load({}, environ={"AGENT_INTERVAL": "10"}, config_file=str(f)).interval == 10


def test_memory_is_bounded_over_thousands_of_cycles(server, make_agent):
    """2,000 cycles (metrics rendered every cycle, a heartbeat every fourth, a full port scan
    every 200th): traced allocations do not grow."""
    import gc
    import tracemalloc

    from sigma.agent.metrics import render

    agent = make_agent(hostname=f"agent-{uuid.uuid4().hex[:6]}", port_scan_range="1-65535")
    assert agent.register_once() == "ok"

    def cycles(n):
        for i in range(n):
            render(agent.registry)
            if i % 4 == 0:
                assert agent.heartbeat_once() == "ok"
            if i % 200 == 0:
                agent.scan_once()

    cycles(300)  # warm-up: caches, connection pool, lazily imported modules
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cycles(2000)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 256 * 1024, f"{grown} bytes more after 2,000 cycles"


def test_agent_and_probe_never_import_the_database_layer():
    code = (
        "import sys, json\n"
        "import sigma.agent.runner, sigma.agent.__main__, sigma.agent.install\n"
        "import sigma.probe.runner\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'sqlmodel', 'alembic', 'fastapi', 'psycopg') or m.startswith('sigma.db'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_install_writes_a_unit_that_systemd_accepts(cli, tmp_path):
    import shutil
    import stat

    unit_dir, env_file = tmp_path / "units", tmp_path / "etc" / "agent.env"
    r = cli(
        "agent",
        "install",
        "--api-url",
        "https://sigma.example.com/api",
        "--api-key",
        "sigma_secret123",
        "--port-scan",
        "--interval",
        "30",
        "--unit-dir",
        str(unit_dir),
        "--env-file",
        str(env_file),
    )
    assert r.code == 0, r.err
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "SIGMA_API_KEY=sigma_secret123" in env_file.read_text()
    unit = (unit_dir / "sigma-agent.service").read_text()
    assert f"EnvironmentFile={env_file}" in unit and "-m sigma.agent" in unit
    from sigma.agent.config import load

    cfg = load({}, environ={}, config_file=str(env_file))  # the file the unit uses, read back
    assert (cfg.api_key, cfg.interval, cfg.port_scan) == ("sigma_secret123", 30, True)
    r = cli("agent", "install", "--print", "--api-key", "sigma_secret123")
    assert r.code == 0 and "[Service]" in r.out and "sigma_secret123" not in r.out + r.err
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed (.ci/run installs Debian's systemd)")
    ok = subprocess.run(
        [tool, "verify", str(unit_dir / "sigma-agent.service")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    bad = unit_dir / "broken.service"
    bad.write_text(unit.replace("ExecStart=", "ExecStart=relative/"))
    assert (
        subprocess.run([tool, "verify", str(bad)], capture_output=True, text=True).returncode != 0
    )
