"""Server side of the agents: /api/agent/register and /api/agent/heartbeat (both databases;
on PostgreSQL the heartbeat goes through the coalescing async path), online/offline."""

from __future__ import annotations

from datetime import timedelta

import pytest

REG = {
    "hostname": "hk-exit-01",
    "alias": "hk1",
    "ssh_port": 2222,
    "ip_addresses": [{"ip": "103.1.2.3"}, {"ip": "10.0.0.5", "label": "internal"}],
    "system_info": {"cpu_cores": 2, "ram_mb": 1024},
}


def test_register_creates_then_updates_keeping_operator_labels(api):
    key = api.api_key("agent")
    h = {"X-Api-Key": key}
    r = api.client.post("/api/agent/register", headers=h, json=REG)
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["status"] == "active" and v["provider_id"] is None and v["currency"] == "USD"
    assert (
        v["ssh_port"] == 2222
        and v["monitoring_enabled"] is True
        and v["node_exporter_port"] == 9100
    )
    assert v["extra"]["system_info"] == {"cpu_cores": 2, "ram_mb": 1024}
    assert v["extra"]["last_heartbeat"].endswith("+00:00")
    assert v["online"] is True
    # the operator labels the public IP and adds a key to extra
    r = api.client.put(
        f"/api/vps/{v['id']}",
        headers=api.headers(),
        json={
            "ip_addresses": [{"ip": "103.1.2.3", "label": "china-telecom"}],
            "extra": {**v["extra"], "rack": "A1"},
            "status": "provisioning",
        },
    )
    assert r.status_code == 200, r.text
    again = dict(REG, alias="", ip_addresses=[{"ip": "103.1.2.3"}, {"ip": "2001:db8::1"}])
    r = api.client.post("/api/agent/register", headers=h, json=again)
    assert r.status_code == 200, r.text
    v2 = r.json()
    assert v2["id"] == v["id"] and v2["alias"] == "hk1"  # empty alias keeps the old one
    assert v2["ip_addresses"] == [
        {"ip": "103.1.2.3", "label": "china-telecom"},
        {"ip": "2001:db8::1", "label": ""},
    ]
    assert v2["extra"]["rack"] == "A1" and v2["status"] == "active"
    audit = api.client.get(
        "/api/audit-logs", headers=api.headers(), params={"action": "register"}
    ).json()
    assert audit["total"] == 2


def test_register_never_resurrects_a_retired_vps(api):
    h = {"X-Api-Key": api.api_key("agent")}
    v = api.client.post("/api/agent/register", headers=h, json=REG).json()
    assert api.client.post(f"/api/vps/{v['id']}/retire", headers=api.headers()).status_code == 200
    r = api.client.post("/api/agent/register", headers=h, json=REG)
    assert r.status_code == 409 and "retired" in r.json()["error"]
    r = api.client.post(
        "/api/agent/heartbeat", headers=h, json={"hostname": REG["hostname"], "system_info": {}}
    )
    assert r.status_code == 409
    assert (
        api.client.get(f"/api/vps/{v['id']}", headers=api.headers()).json()["status"] == "retired"
    )
    # a new VPS with the reused hostname: the key still belongs to the retired one...
    new = api.client.post(
        "/api/vps", headers=api.headers(), json={"hostname": REG["hostname"]}
    ).json()
    assert api.client.post("/api/agent/register", headers=h, json=REG).status_code == 409
    # ...until an operator releases it: then it claims the live VPS of its hostname
    r = api.client.post(f"/api/vps/{v['id']}/agent-release", headers=api.headers())
    assert r.status_code == 200 and r.json() == {"released": 1, "revoked": False}
    r = api.client.post("/api/agent/register", headers=h, json=REG)
    assert r.status_code == 200 and r.json()["id"] == new["id"]
    r = api.client.post(
        "/api/agent/heartbeat",
        headers=h,
        json={"hostname": REG["hostname"], "system_info": {"x": 1}},
    )
    assert r.status_code == 200 and r.json()["id"] == new["id"]


def test_heartbeat_rules(api):
    h = {"X-Api-Key": api.api_key("agent")}
    v = api.client.post("/api/agent/register", headers=h, json=REG).json()
    api.client.put(
        f"/api/vps/{v['id']}", headers=api.headers(), json={"extra": {**v["extra"], "rack": "B"}}
    )
    before = api.client.get(f"/api/vps/{v['id']}", headers=api.headers()).json()
    r = api.client.post(
        "/api/agent/heartbeat",
        headers=h,
        json={"hostname": "hk-exit-01", "system_info": {"cpu_percent": 3.5}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    after = api.client.get(f"/api/vps/{v['id']}", headers=api.headers()).json()
    assert body == after  # the lean path renders exactly what the ORM route renders
    assert after["extra"]["system_info"] == {"cpu_percent": 3.5} and after["extra"]["rack"] == "B"
    assert after["updated_at"] == before["updated_at"] and after["status"] == before["status"]
    assert after["extra"]["last_heartbeat"] >= before["extra"]["last_heartbeat"]
    # the agent's key speaks for its own VPS only; an operator's for any, by hostname
    r = api.client.post(
        "/api/agent/heartbeat", headers=h, json={"hostname": "nope", "system_info": None}
    )
    assert r.status_code == 403 and "belongs to VPS hk-exit-01" in r.json()["error"]
    r = api.client.post(
        "/api/agent/heartbeat",
        headers=api.headers(),
        json={"hostname": "nope", "system_info": None},
    )
    assert r.status_code == 404 and r.json()["error"].startswith("Not found")
    r = api.client.post("/api/agent/heartbeat", headers=h, json={"hostname": "  "})
    assert r.status_code == 422 and r.json()["field"] == "hostname"
    r = api.client.post("/api/agent/heartbeat", headers=h, content=b"{not json")
    assert r.status_code == 422
    # no audit row for heartbeats
    audit = api.client.get(
        "/api/audit-logs", headers=api.headers(), params={"resource": "vps"}
    ).json()
    assert all(e["action"] != "heartbeat" for e in audit["data"])


@pytest.mark.parametrize(
    "role,code", [("agent", 200), ("operator", 200), ("admin", 200), ("readonly", 403)]
)
def test_agent_routes_roles(api, role, code):
    api.client.post("/api/vps", headers=api.headers(), json={"hostname": "hk-exit-01"})
    h = {"X-Api-Key": api.api_key(role)}
    assert api.client.post("/api/agent/register", headers=h, json=REG).status_code == code
    assert (
        api.client.post(
            "/api/agent/heartbeat", headers=h, json={"hostname": "hk-exit-01"}
        ).status_code
        == code
    )
    assert (
        api.client.post("/api/agent/heartbeat", json={"hostname": "hk-exit-01"}).status_code == 401
    )


def test_offline_recorded_once_and_online_again(sessions):
    from sigma.db.engine import unit_of_work
    from sigma.db.types import utcnow
    from sigma.services import agents
    from sigma.services.actor import SYSTEM

    with unit_of_work(sessions) as s:
        v = agents.register(s, SYSTEM, REG)
    with unit_of_work(sessions) as s:
        assert agents.detect_offline(s, 180) == []
        row = agents.match(s, "hk-exit-01")  # silent for 200 s
        row.extra = {**row.extra, "last_heartbeat": (utcnow() - timedelta(seconds=200)).isoformat()}
    with unit_of_work(sessions) as s:
        evs = agents.detect_offline(s, 180)
    assert [e.kind for e in evs] == ["agent-offline"] and evs[0].vps_id == v.id
    with unit_of_work(sessions) as s:
        assert agents.detect_offline(s, 180, utcnow() + timedelta(seconds=60)) == []  # once
    with unit_of_work(sessions) as s:
        agents.heartbeat(s, SYSTEM, {"hostname": "hk-exit-01", "system_info": {}})
    with unit_of_work(sessions) as s:
        evs = agents.detect_offline(s, 180, utcnow())
    assert [e.kind for e in evs] == ["agent-online"]
    with unit_of_work(sessions) as s:
        kinds = [e.kind for e in agents.list_events(s, SYSTEM, "hk-exit-01")]
    assert kinds == ["agent-online", "agent-offline"]


def test_vps_list_marks_online_and_offline(cli, sessions):
    from sigma.db.engine import unit_of_work
    from sigma.services import agents, vps
    from sigma.services.actor import SYSTEM

    with unit_of_work(sessions) as s:
        agents.register(s, SYSTEM, REG)
        agents.register(s, SYSTEM, dict(REG, hostname="old-agent"))
        vps.create(s, SYSTEM, {"hostname": "no-agent"})
        row = agents.match(s, "old-agent")
        row.extra = {**row.extra, "last_heartbeat": "2020-01-01T00:00:00+00:00"}
    r = cli("vps", "list", "--format", "json")
    assert r.code == 0, r.err
    online = {v["hostname"]: v["online"] for v in r.json()}
    assert online == {"hk-exit-01": True, "old-agent": False, "no-agent": None}
    r = cli("vps", "list")
    assert "online" in r.out and "offline" in r.out
    r = cli("vps", "show", "old-agent")
    assert "offline" in r.out


def test_offline_job_is_registered_and_runs_under_its_lease(sessions, settings):
    from datetime import timedelta

    from sigma.db.engine import unit_of_work
    from sigma.db.types import utcnow
    from sigma.server.jobs import jobs, run_once
    from sigma.services import agents
    from sigma.services.actor import SYSTEM

    [job] = [j for j in jobs() if j.name == "agent-offline"]
    assert job.interval(settings) == 60  # 3 x 60 s / 3
    with unit_of_work(sessions) as s:
        agents.register(s, SYSTEM, REG)
        row = agents.match(s, "hk-exit-01")
        row.extra = {**row.extra, "last_heartbeat": (utcnow() - timedelta(hours=1)).isoformat()}
    assert run_once(job, sessions, settings) is True
    assert run_once(job, sessions, settings) is False  # ran less than an interval ago
    _finished_long_ago(sessions, job.name)
    assert run_once(job, sessions, settings) is True  # runs again, records nothing new
    with unit_of_work(sessions) as s:
        assert [e.kind for e in agents.list_events(s, SYSTEM)] == ["agent-offline"]


def _finished_long_ago(sessions, name: str) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from sigma.db.engine import unit_of_work
    from sigma.db.models.jobs import JobLease
    from sigma.db.types import utcnow

    with unit_of_work(sessions) as s:
        s.execute(
            update(JobLease)
            .where(JobLease.name == name)
            .values(last_finished=utcnow() - timedelta(days=1))
        )
