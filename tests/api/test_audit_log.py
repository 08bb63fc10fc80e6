"""/api/audit-logs (contract 2.12, 9.5), and failed mutations leaving no audit row."""

from __future__ import annotations

import uuid

from apidriver import ADMIN_EMAIL, audit_count


def logs(api, **params):
    r = api.client.get("/api/audit-logs", params=params, headers=api.headers())
    assert r.status_code == 200, r.text
    return r.json()


def test_audit_log_listing_and_filters(api):
    h = api.headers()
    body = logs(api)
    assert isinstance(body["data"], list) and isinstance(body["total"], int)
    assert (body["page"], body["per_page"]) == (1, 50)
    first = logs(api, action="login")["data"][0]
    assert (first["action"], first["resource"], first["user_email"]) == (
        "login",
        "user",
        ADMIN_EMAIL,
    )

    p = api.client.post(
        "/api/providers", headers=h, json={"name": "Original", "country": "US"}
    ).json()
    api.client.put(f"/api/providers/{p['id']}", headers=h, json={"name": "Renamed"})
    api.client.delete(f"/api/providers/{p['id']}", headers=h)
    rows = logs(api, resource="provider")["data"]
    assert [r["action"] for r in rows] == ["delete", "update", "create"]
    assert {r["resource_id"] for r in rows} == {p["id"]} and {r["resource"] for r in rows} == {
        "provider"
    }
    assert rows[2]["details"]["name"] == "Original" and rows[1]["details"]["name"] == "Renamed"
    assert rows[1]["details"]["changes"]["name"] == {"from": "Original", "to": "Renamed"}
    assert rows[0]["user_email"] == ADMIN_EMAIL and rows[0]["client_ip"]

    v = api.client.post(
        "/api/vps",
        headers=h,
        json={
            "hostname": "jp-1",
            "country": "JP",
            "status": "active",
            "ip_addresses": [{"ip": "203.0.113.7", "label": "china-telecom"}],
        },
    ).json()
    assert api.client.post(f"/api/vps/{v['id']}/retire", headers=h).status_code == 200
    rows = logs(api, resource="vps", resource_id=v["id"])["data"]
    assert [r["action"] for r in rows] == ["retire", "create"]
    assert rows[1]["details"]["hostname"] == "jp-1" and rows[1]["details"]["country"] == "JP"

    u = api.client.post(
        "/api/users",
        headers=h,
        json={"email": "op@example.com", "password": "password-123", "role": "operator"},
    ).json()
    api.client.delete(f"/api/users/{u['id']}", headers=h)
    created = [
        r
        for r in logs(api, resource="user", action="create")["data"]
        if r["resource_id"] == u["id"]
    ]
    assert created[0]["details"] == {"email": "op@example.com", "role": "operator"}

    for i in range(5):
        api.client.post("/api/providers", headers=h, json={"name": f"page-{i}"})
    page1 = logs(api, resource="provider", action="create", per_page=2, page=1)
    assert (len(page1["data"]), page1["total"], page1["page"], page1["per_page"]) == (2, 6, 1, 2)
    page2 = logs(api, resource="provider", action="create", per_page=2, page=2)
    assert (len(page2["data"]), page2["page"]) == (2, 2)
    assert not {r["id"] for r in page1["data"]} & {r["id"] for r in page2["data"]}

    me = api.client.get("/api/auth/me", headers=h).json()
    mine = logs(api, user_id=me["id"], per_page=100)
    assert {r["user_id"] for r in mine["data"]} == {me["id"]}
    # everything but the bootstrap of the first admin (by the system, no user id) was me
    assert mine["total"] == logs(api)["total"] - 1
    assert logs(api, since="2999-01-01")["total"] == 0
    assert logs(api, until="2000-01-01")["total"] == 0
    assert (
        logs(api, since="2000-01-01T00:00:00Z", until="2999-12-31")["total"] == logs(api)["total"]
    )
    r = api.client.get("/api/audit-logs", params={"since": "yesterday-ish"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "since"
    r = api.client.get("/api/audit-logs", params={"user_id": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "user_id"
    assert (
        api.client.get("/api/audit-logs", headers=api.headers(api.user("readonly"))).status_code
        == 403
    )
    assert (
        api.client.get("/api/audit-logs", headers=api.headers(api.user("operator"))).status_code
        == 403
    )


def test_failed_mutations_leave_no_audit_row(api):
    h = api.headers()
    p = api.client.post("/api/providers", headers=h, json={"name": "Taken"}).json()
    v = api.client.post("/api/vps", headers=h, json={"hostname": "v-1"}).json()
    readonly = api.headers(api.user("readonly"))
    before = audit_count(api)
    failures = [
        # validation errors, in the route's parsing and in the service
        ("POST", "/api/vps", h, {"hostname": "v-2", "country": "Japan"}, 422),
        ("POST", "/api/vps", h, {"hostname": "v-2", "unknown": 1}, 422),
        ("PUT", f"/api/vps/{v['id']}", h, {"ssh_port": 0}, 422),
        ("POST", "/api/providers", h, {"name": ""}, 422),
        # not found, including a reference that fails half-way through the service
        ("PUT", f"/api/providers/{uuid.uuid4()}", h, {"name": "x"}, 404),
        ("DELETE", f"/api/vps/{uuid.uuid4()}", h, None, 404),
        ("POST", f"/api/vps/{uuid.uuid4()}/retire", h, None, 404),
        ("POST", "/api/vps", h, {"hostname": "v-3", "provider_id": str(uuid.uuid4())}, 422),
        # conflicts
        ("POST", "/api/providers", h, {"name": "taken"}, 409),
        ("POST", "/api/users", h, {"email": ADMIN_EMAIL, "password": "password-123"}, 409),
        # refused
        ("POST", "/api/providers", readonly, {"name": "ro"}, 403),
        ("DELETE", f"/api/providers/{p['id']}", readonly, None, 403),
        ("POST", "/api/vps", {}, {"hostname": "anon"}, 401),
    ]
    for method, path, headers, body, status in failures:
        r = api.client.request(method, path, headers=headers, json=body)
        assert r.status_code == status, (method, path, body, r.text)
        assert audit_count(api) == before, (method, path, body)
    assert api.client.get("/api/vps", headers=h).json()["total"] == 1  # nothing half-written
