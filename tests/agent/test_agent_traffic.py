"""The agent's interface counters (issue 16, part B) against a real `sigma serve`: each
heartbeat carries them, the server turns them into the billing period's usage, and a
counter that goes backwards (a reboot) is a reset, never an error to the agent."""

from __future__ import annotations

import time
import uuid

from sigma.agent import system


def wait_for(cond, timeout=15.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    raise AssertionError("condition not met in time")


def test_counters_are_the_host_interfaces():
    counters = system.traffic_counters()
    assert counters is not None
    assert set(counters) == {"rx_bytes", "tx_bytes"}
    assert all(isinstance(v, int) and 0 <= v <= 2**62 for v in counters.values())


def test_counters_leave_out_loopback_containers_and_tunnels(monkeypatch):
    from collections import namedtuple

    nic = namedtuple("nic", "bytes_recv bytes_sent")
    fake = {
        "lo": nic(10**12, 10**12),
        "eth0": nic(1_000, 2_000),
        "ens3": nic(30, 40),
        "docker0": nic(10**9, 10**9),
        "veth12ab": nic(10**9, 10**9),
        "wg0": nic(10**9, 10**9),
        "tun0": nic(10**9, 10**9),
    }
    monkeypatch.setattr(system.psutil, "net_io_counters", lambda pernic=False: fake)
    assert system.traffic_counters() == {"rx_bytes": 1_030, "tx_bytes": 2_040}

    def broken(pernic=False):
        raise OSError("no /proc/net/dev")

    monkeypatch.setattr(system.psutil, "net_io_counters", broken)
    assert system.traffic_counters() is None  # the heartbeat goes without them


def test_agent_reports_usage_and_survives_a_reboot(server, make_agent, monkeypatch):
    host = f"traffic-{uuid.uuid4().hex[:6]}"
    counters = {"rx_bytes": 5_000, "tx_bytes": 7_000}
    monkeypatch.setattr(system, "traffic_counters", lambda: dict(counters))
    agent = make_agent(hostname=host)
    agent.start()
    wait_for(lambda: agent.health.heartbeats_ok >= 1)
    with server.admin() as c:
        [v] = [x for x in c.get("/api/vps", params={"search": host}).json()["data"]]
        assert c.put(f"/api/vps/{v['id']}", json={"traffic_quota_gb": 1}).status_code == 200
    counters.update(rx_bytes=5_000 + 300_000_000, tx_bytes=7_000 + 100_000_000)
    ok = agent.health.heartbeats_ok
    wait_for(lambda: agent.health.heartbeats_ok >= ok + 2)
    counters.update(rx_bytes=1_000, tx_bytes=0)  # a reboot: the counters start again
    ok = agent.health.heartbeats_ok
    wait_for(lambda: agent.health.heartbeats_ok >= ok + 2)
    assert agent.health.heartbeats_failed == 0
    with server.admin() as c:
        t = c.get(f"/api/vps/{v['id']}").json()["traffic"]
    assert (t["bytes_in"], t["bytes_out"]) == (300_001_000, 100_000_000)
    assert (t["used_bytes"], t["percent"]) == (400_001_000, 40.0)
