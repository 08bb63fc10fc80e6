"""An agent speaks for its own VPS only (issue 13, attacks 2, 4 and 7).

Replayed on a real server: a second agent key registering a VPS that another key holds is
refused and audited, nothing of the VPS changes; a bound key cannot heartbeat another host;
agent keys are not probes; a probe posts checks only for an address of the VPS; one bad
heartbeat among many sent at once does not fail the others (PostgreSQL coalesces them into
one statement, which also authenticates them); a disabled agent's or a revoked key stops at
once (the gateway used to cache credentials for 10 s), and so does the key of an agent user
who must change the password."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
from liveserver import field_of, raw_json


def _register(live, key: str, **body) -> httpx.Response:
    with live.client(key=key) as c:
        return c.post("/api/agent/register", json=body)


def _heartbeat(live, key: str, hostname: str, system_info=None) -> httpx.Response:
    with live.client(key=key) as c:
        return c.post(
            "/api/agent/heartbeat", json={"hostname": hostname, "system_info": system_info or {}}
        )


def test_second_agent_key_cannot_take_over_a_registered_vps(live):
    key_a, key_b = live.key("agent"), live.key("agent")
    r = _register(
        live,
        key_a,
        hostname="hk-0",
        ip_addresses=[{"ip": "198.51.100.10", "label": "china-telecom"}],
        ssh_port=22,
        alias="the real one",
    )
    assert r.status_code == 200, r.text
    before = live.vps("hk-0")

    attack = {"hostname": "hk-0", "ip_addresses": [{"ip": "203.0.113.66"}], "ssh_port": 2222}
    r = _register(live, key_b, **attack)
    assert r.status_code == 403 and field_of(r) == "hostname", r.text
    r = _register(live, key_b, **{**attack, "alias": "mine now"})
    assert r.status_code == 403, r.text
    after = live.vps("hk-0")
    assert after == before
    assert (
        after["ip_addresses"] == [{"ip": "198.51.100.10", "label": "china-telecom"}]
        and after["ssh_port"] == 22
    )
    refused = [
        e for e in live.audit("agent-register-refused") if e["details"].get("hostname") == "hk-0"
    ]
    assert len(refused) == 2 and all(e["resource_id"] == before["id"] for e in refused), refused

    # the legitimate key still works; the attacker's key is not bound to anything
    assert _heartbeat(live, key_a, "hk-0").status_code == 200
    assert _heartbeat(live, key_b, "hk-0").status_code == 403


def test_bound_key_cannot_speak_for_another_host(live):
    key = live.key("agent")
    assert _register(live, key, hostname="hk-own").status_code == 200
    victim = live.admin.post(
        "/api/vps", json={"hostname": "hk-victim", "ip_addresses": [{"ip": "198.51.100.11"}]}
    )
    assert victim.status_code == 200, victim.text
    before = live.vps("hk-victim")

    r = _heartbeat(live, key, "hk-victim", {"os": "pwned"})
    assert r.status_code == 403, r.text
    r = _register(live, key, hostname="hk-victim", ip_addresses=[{"ip": "203.0.113.66"}])
    assert r.status_code == 403, r.text
    assert live.vps("hk-victim") == before
    assert [
        e
        for e in live.audit("agent-heartbeat-refused")
        if e["details"].get("hostname") == "hk-victim"
    ]
    assert [
        e
        for e in live.audit("agent-register-refused")
        if e["details"].get("hostname") == "hk-victim"
    ]

    # a key made for one VPS (`sigma agent provision`) is bound from the start
    provisioned = live.agent_key("hk-victim")
    assert _heartbeat(live, provisioned, "hk-victim").status_code == 200
    assert _heartbeat(live, provisioned, "hk-own").status_code == 403
    assert _register(live, provisioned, hostname="hk-fresh-host").status_code == 403
    assert live.admin.get("/api/vps/hk-fresh-host").status_code == 404


def test_agent_keys_are_not_probes_and_probes_only_report_addresses_of_the_vps(live):
    r = live.admin.post(
        "/api/vps",
        json={
            "hostname": "probe-target",
            "status": "active",
            "ip_addresses": [{"ip": "198.51.100.20"}, {"ip": "2001:db8::20"}],
        },
    )
    assert r.status_code == 200, r.text
    vps_id = r.json()["id"]
    agent = live.key("agent")
    assert _register(live, agent, hostname="probe-agent").status_code == 200
    check = {
        "vps_id": vps_id,
        "ip": "198.51.100.20",
        "check_type": "tcp",
        "source": "cn-test",
        "success": True,
        "latency_ms": 12,
    }
    with live.client(key=agent) as c:
        assert c.post("/api/ip-checks", json=check).status_code == 403
        assert c.post("/api/ip-checks/batch", json={"checks": [check]}).status_code == 403
        assert c.get("/api/ip-checks/targets").status_code == 403
        assert c.get("/api/vps").status_code == 403
    assert live.admin.get("/api/ip-checks", params={"vps_id": vps_id}).json()["total"] == 0

    operator = live.user("operator")
    op = live.client(token=live.login(operator.email, operator.password))
    r = op.post("/api/ip-checks/probe-keys", json={"name": "cn-probe"})
    assert r.status_code == 200, r.text
    with live.client(key=r.json()["key"]) as probe:
        assert probe.get("/api/ip-checks/targets").status_code == 200
        assert probe.get("/api/vps").status_code == 200
        assert probe.post("/api/ip-checks", json=check).status_code == 200
        r = probe.post("/api/ip-checks", json={**check, "ip": "203.0.113.99"})
        assert r.status_code == 422 and field_of(r) == "ip", r.text
        r = probe.post(
            "/api/ip-checks/batch",
            json={
                "checks": [
                    {**check, "id": str(uuid.uuid4()), "ip": "2001:db8::20"},
                    {**check, "id": str(uuid.uuid4()), "ip": "203.0.113.99"},
                ]
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["inserted"] == 1 and [x["index"] for x in r.json()["rejected"]] == [1], (
            r.json()
        )
        # and a probe is no writer of the inventory
        assert probe.post("/api/vps", json={"hostname": "by-probe"}).status_code == 403
    op.close()
    stored = live.admin.get("/api/ip-checks", params={"vps_id": vps_id}).json()
    assert sorted(c["ip"] for c in stored["data"]) == ["198.51.100.20", "2001:db8::20"]


def test_one_bad_heartbeat_does_not_fail_the_others_sent_with_it(live):
    hosts = [f"batch-{i:02d}" for i in range(30)]
    keys = []
    for h in hosts:
        assert (
            live.admin.post("/api/vps", json={"hostname": h, "status": "active"}).status_code == 200
        )
        keys.append(live.agent_key(h))
    bad = [
        json.dumps({"hostname": hosts[i], "system_info": {"os": "x"}}).replace('"x"', '"a\\u0000b"')
        for i in (3, 13, 23)
    ]

    async def fire():
        async with httpx.AsyncClient(
            base_url=live.base, timeout=30, limits=httpx.Limits(max_connections=40)
        ) as c:
            good = [
                c.post(
                    "/api/agent/heartbeat",
                    headers={"X-Api-Key": k},
                    json={"hostname": h, "system_info": {"round": "one", "host": h}},
                )
                for h, k in zip(hosts, keys, strict=True)
            ]
            evil = [
                c.post(
                    "/api/agent/heartbeat",
                    content=body.encode(),
                    headers={"X-Api-Key": keys[i], "Content-Type": "application/json"},
                )
                for i, body in zip((3, 13, 23), bad, strict=True)
            ]
            return await asyncio.gather(*good, *evil)

    answers = asyncio.run(fire())
    statuses = [r.status_code for r in answers]
    assert statuses[:30] == [200] * 30, [
        (r.status_code, r.text[:200]) for r in answers[:30] if r.status_code != 200
    ]
    assert statuses[30:] == [422] * 3, [r.text for r in answers[30:]]
    assert all(field_of(r) == "system_info" for r in answers[30:]), [r.text for r in answers[30:]]
    for h in hosts:
        assert live.vps(h)["extra"]["system_info"] == {"round": "one", "host": h}


def test_heartbeat_with_invalid_text_is_refused_before_the_database(live):
    key = live.key("agent")
    assert _register(live, key, hostname="hb-text", system_info={"os": "debian"}).status_code == 200
    with live.client(key=key) as c:
        for value in ("a\\u0000b", "\\ud800", "\\udfff tail"):
            r = raw_json(
                c,
                "POST",
                "/api/agent/heartbeat",
                f'{{"hostname":"hb-text","system_info":{{"os":"{value}"}}}}',
            )
            assert r.status_code == 422, (value, r.text)
    assert live.vps("hb-text")["extra"]["system_info"] == {"os": "debian"}


def test_disabled_agent_user_is_refused_at_once(live):
    agent = live.user("agent")
    key = live.key_of(agent)
    assert _register(live, key, hostname="hb-disabled").status_code == 200
    with live.client(key=key) as c:
        # a heartbeat first: a credential cache, if any, would now hold this key
        assert c.post("/api/agent/heartbeat", json={"hostname": "hb-disabled"}).status_code == 200
        r = live.admin.put(f"/api/users/{agent.id}", json={"active": False})
        assert r.status_code == 200 and r.json()["active"] is False, r.text
        r = c.post("/api/agent/heartbeat", json={"hostname": "hb-disabled"})
        assert r.status_code == 401, r.text
        assert c.post("/api/agent/register", json={"hostname": "hb-disabled"}).status_code == 401

    # the same for a revoked key
    other = live.key("agent")
    with live.client(key=other) as c:
        assert c.post("/api/agent/register", json={"hostname": "hb-revoked"}).status_code == 200
        assert c.post("/api/agent/heartbeat", json={"hostname": "hb-revoked"}).status_code == 200
        prefix = other[: len("sigma_") + 6]
        assert live.admin.delete(f"/api/auth/api-keys/{prefix}").status_code == 200
        assert c.post("/api/agent/heartbeat", json={"hostname": "hb-revoked"}).status_code == 401


def test_agent_key_of_a_user_who_must_change_the_password_is_refused(live):
    agent = live.user("agent")
    key = live.key_of(agent)
    with live.client(key=key) as c:
        assert c.post("/api/agent/register", json={"hostname": "hb-forced"}).status_code == 200
        assert c.post("/api/agent/heartbeat", json={"hostname": "hb-forced"}).status_code == 200
        r = live.admin.put(f"/api/users/{agent.id}", json={"force_password_change": True})
        assert r.status_code == 200, r.text
        before = live.vps("hb-forced")
        assert (
            c.post(
                "/api/agent/heartbeat", json={"hostname": "hb-forced", "system_info": {"x": "1"}}
            ).status_code
            == 403
        )
        assert (
            c.post("/api/agent/register", json={"hostname": "hb-forced", "alias": "x"}).status_code
            == 403
        )
    assert live.vps("hb-forced") == before


def test_a_look_alike_host_name_is_the_same_host(live):
    """Host names are compared without case (RFC 1123): a second key cannot claim `HK-0`
    beside another key's `hk-0`, nor heartbeat it."""
    a, b = live.key("agent"), live.key("agent")
    with live.client(key=a) as c:
        assert c.post("/api/agent/register", json={"hostname": "case-0"}).status_code == 200
    with live.client(key=b) as c:
        for host in ("case-0", "CASE-0", "Case-0"):
            r = c.post(
                "/api/agent/register",
                json={"hostname": host, "ip_addresses": [{"ip": "203.0.113.66"}]},
            )
            assert r.status_code == 403, (host, r.text)
            assert c.post("/api/agent/heartbeat", json={"hostname": host}).status_code == 403
    rows = live.admin.get("/api/vps", params={"search": "case-0"}).json()["data"]
    assert [v["hostname"] for v in rows] == ["case-0"] and rows[0]["ip_addresses"] == []
