"""Issue 16: the addresses an agent reports with its heartbeats become events of the VPS's
timeline on both heartbeat paths: the ORM one (SQLite, and what the batch does not take) and
PostgreSQL's batch statement, which leaves a VPS whose address set changed to the ORM path
(in order, nothing lost to coalescing) and takes every other heartbeat as before. A VPS in
the trash is as unknown to a heartbeat as a deleted one."""

from __future__ import annotations

import asyncio

import pytest

REG = {
    "hostname": "hb-hist-01",
    "ip_addresses": [{"ip": "103.1.2.3"}, {"ip": "10.0.0.5", "label": "internal"}],
    "system_info": {"cpu_cores": 2},
}


def timeline(api, vps_id, **params):
    r = api.client.get(
        f"/api/vps/{vps_id}/history", headers=api.headers(), params={"per_page": 100, **params}
    )
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["data"]))


def beat(api, headers, ips=None, hostname=REG["hostname"]):
    body = {"hostname": hostname, "system_info": {"load": 1}}
    if ips is not None:
        body["ip_addresses"] = [{"ip": ip} for ip in ips]
    return api.client.post("/api/agent/heartbeat", headers=headers, json=body)


def test_reported_addresses_become_events_when_the_set_changes(api):
    h = {"X-Api-Key": api.api_key("agent")}
    v = api.client.post("/api/agent/register", headers=h, json=REG).json()
    api.client.put(
        f"/api/vps/{v['id']}",
        headers=api.headers(),
        json={"ip_addresses": [{"ip": "103.1.2.3", "label": "china-telecom"}, {"ip": "10.0.0.5"}]},
    )
    n = len(timeline(api, v["id"]))
    for _ in range(3):  # the same set, in another order: nothing recorded, labels kept
        r = beat(api, h, ["10.0.0.5", "103.1.2.3"])
        assert r.status_code == 200, r.text
    assert len(timeline(api, v["id"])) == n
    assert r.json()["ip_addresses"][0] == {"ip": "103.1.2.3", "label": "china-telecom"}
    r = beat(api, h, ["103.1.2.3", "103.1.2.4"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == api.client.get(f"/api/vps/{v['id']}", headers=api.headers()).json()
    assert body["ip_addresses"] == [
        {"ip": "103.1.2.3", "label": "china-telecom"},
        {"ip": "103.1.2.4", "label": ""},
    ]
    new = timeline(api, v["id"])[n:]
    assert [(e["kind"], e["details"]["ip"], e["source"]) for e in new] == [
        ("ip-removed", "10.0.0.5", "agent"),
        ("ip-added", "103.1.2.4", "agent"),
    ]
    r = api.client.get("/api/ip-history", headers=api.headers(), params={"ip": "103.1.2.4"})
    assert [(x["hostname"], x["until"]) for x in r.json()["data"]] == [(REG["hostname"], None)]
    # without addresses (an older agent), a heartbeat changes none
    assert beat(api, h).status_code == 200
    assert len(timeline(api, v["id"])) == n + 2


def test_a_heartbeat_for_a_vps_in_the_trash_is_refused_like_an_unknown_host(api):
    key = api.api_key("agent")
    h = {"X-Api-Key": key}
    v = api.client.post("/api/agent/register", headers=h, json=REG).json()
    assert api.client.delete(f"/api/vps/{v['id']}", headers=api.headers()).json() == {
        "deleted": True
    }
    r = beat(api, h, ["103.1.2.3"])
    assert r.status_code == 404, r.text
    r = beat(api, api.headers(), ["103.1.2.3"])  # a fleet principal, by hostname
    assert r.status_code == 404, r.text
    assert api.client.get("/api/vps/trash", headers=api.headers()).json()["total"] == 1
    assert timeline(api, v["id"])[-1]["kind"] == "deleted"  # nothing revived it


# ------------------------------------------------------------------ PostgreSQL's batch path


@pytest.fixture
def pg_api(api, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("the batch statement is PostgreSQL's")
    return api


def _register(api, hostname, ips):
    key = api.api_key("agent")
    h = {"X-Api-Key": key}
    body = {"hostname": hostname, "ip_addresses": [{"ip": ip} for ip in ips]}
    r = api.client.post("/api/agent/register", headers=h, json=body)
    assert r.status_code == 200, r.text
    return r.json(), key


def _scope(app, key):
    return {
        "type": "http",
        "app": app,
        "method": "POST",
        "path": "/api/agent/heartbeat",
        "raw_path": b"/api/agent/heartbeat",
        "query_string": b"",
        "headers": [(b"x-api-key", key.encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
    }


def test_the_batch_statement_leaves_changed_address_sets_to_the_orm_path(pg_api, db_url):
    import psycopg

    from sigma.db.types import utcnow
    from sigma.schemas.monitoring import AgentHeartbeat
    from sigma.services import agents, auth

    api = pg_api
    settings = api.app.state.settings
    same, k1 = _register(api, "hb-same", ["198.51.100.1"])
    moved, k2 = _register(api, "hb-moved", ["198.51.100.2"])
    legacy, k3 = _register(api, "hb-old-agent", ["198.51.100.3"])

    def item(key, hostname, ips):
        hb = {"hostname": hostname, "system_info": {"n": 1}}
        if ips is not None:
            hb["ip_addresses"] = [{"ip": ip} for ip in ips]
        cred = auth.heartbeat_credential(settings, bearer=None, api_key=key)
        return cred, AgentHeartbeat.model_validate(hb)

    batch = [
        item(k1, "hb-same", ["198.51.100.1"]),
        item(k2, "hb-moved", ["198.51.100.2", "198.51.100.22"]),
        item(k3, "hb-old-agent", None),
        item(k1, "hb-same", ["198.51.100.1"]),
    ]
    params = agents.heartbeat_batch_params(batch, utcnow())
    with psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True) as conn:
        rows = conn.execute(agents.HEARTBEAT_BATCH_SQL, params).fetchall()
        names = [d.name for d in conn.execute(agents.HEARTBEAT_BATCH_SQL, params).description]
    taken = {r[names.index("hostname")]: sorted(r[names.index("batch_positions")]) for r in rows}
    assert taken == {"hb-same": [1, 4], "hb-old-agent": [3]}  # position 2 goes alone
    got = api.client.get(f"/api/vps/{moved['id']}", headers=api.headers()).json()
    assert [e["ip"] for e in got["ip_addresses"]] == ["198.51.100.2"]  # untouched by the batch
    assert same and legacy


def test_coalesced_heartbeats_keep_every_address_change_in_order(pg_api):
    from sigma.schemas.monitoring import AgentHeartbeat
    from sigma.server.heartbeats import HeartbeatWriter
    from sigma.services import auth

    api = pg_api
    app = api.app
    settings = app.state.settings
    mover, key = _register(api, "hb-mover", ["192.0.2.1"])
    still, key2 = _register(api, "hb-still", ["192.0.2.50"])
    reports = [
        (key, "hb-mover", ["192.0.2.1", "192.0.2.2"]),  # +2
        (key2, "hb-still", ["192.0.2.50"]),
        (key, "hb-mover", ["192.0.2.2"]),  # -1
        (key, "hb-mover", ["192.0.2.2", "192.0.2.3"]),  # +3, the last word
        (key2, "hb-still", ["192.0.2.50"]),
    ]
    url = app.state.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def burst():
        writer = HeartbeatWriter(url, app)
        try:
            futures = []
            for k, host, ips in reports:
                data = AgentHeartbeat.model_validate(
                    {"hostname": host, "ip_addresses": [{"ip": ip} for ip in ips]}
                )
                cred = auth.heartbeat_credential(settings, bearer=None, api_key=k)
                futures.append(writer.submit(cred, _scope(app, k), data))
            # submitted in one loop turn: one batch
            return await asyncio.gather(*futures)
        finally:
            await writer.close()

    answers = asyncio.run(burst())
    assert len(answers) == len(reports)
    v = api.client.get(f"/api/vps/{mover['id']}", headers=api.headers()).json()
    assert [e["ip"] for e in v["ip_addresses"]] == ["192.0.2.2", "192.0.2.3"]
    changes = [
        (e["kind"], e["details"]["ip"])
        for e in timeline(api, mover["id"])
        if e["kind"].startswith("ip-")
    ]
    assert changes == [
        ("ip-added", "192.0.2.2"),
        ("ip-removed", "192.0.2.1"),
        ("ip-added", "192.0.2.3"),
    ]
    assert [e["kind"] for e in timeline(api, still["id"])] == ["created"]
    held = api.client.get("/api/ip-history", headers=api.headers(), params={"ip": "192.0.2.0/24"})
    current = {(x["ip"], x["until"] is None) for x in held.json()["data"]}
    assert current == {
        ("192.0.2.1", False),
        ("192.0.2.2", True),
        ("192.0.2.3", True),
        ("192.0.2.50", True),
    }
