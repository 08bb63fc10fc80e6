"""Issue 16, part A, over HTTP on SQLite and PostgreSQL: GET /api/vps/{ref}/history,
GET /api/ip-history, GET /api/vps/duplicates, POST /api/vps/merge, GET /api/vps/trash,
POST /api/vps/{ref}/restore and DELETE /api/vps/{ref} (trash; ?purge=true), with the
statuses of their refusals (422, 404, 409, 403) naming the field, nothing written."""

from __future__ import annotations


def audit_total(api) -> int:
    return api.client.get("/api/audit-logs", headers=api.headers()).json()["total"]


def create(api, **body):
    r = api.client.post("/api/vps", headers=api.headers(), json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_history_route_pages_newest_first(api):
    h = api.headers()
    v = create(api, hostname="hk-1", ip_addresses=[{"ip": "103.1.2.3"}])
    for n in range(3):
        r = api.client.put(f"/api/vps/{v['id']}", headers=h, json={"notes": f"n{n}"})
        assert r.status_code == 200, r.text
    r = api.client.get(f"/api/vps/{v['id']}/history", headers=h, params={"per_page": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "total", "page", "per_page"}
    assert body["total"] == 4 and body["page"] == 1 and body["per_page"] == 2
    assert [e["details"]["changes"]["notes"]["to"] for e in body["data"]] == ["n2", "n1"]
    event = body["data"][0]
    assert set(event) == {"id", "vps_id", "at", "kind", "source", "actor", "hostname", "details"}
    assert event["actor"] == "admin@test.local" and event["at"].endswith("Z")
    r = api.client.get("/api/vps/hk-1/history", headers=h, params={"kind": "created"})
    assert [e["kind"] for e in r.json()["data"]] == ["created"]
    # readers may read it; probes and agents may not
    ro = api.user("readonly")
    assert api.client.get("/api/vps/hk-1/history", headers=api.headers(ro)).status_code == 200
    probe = {"X-Api-Key": api.api_key("probe")}
    assert api.client.get("/api/vps/hk-1/history", headers=probe).status_code == 403


def test_history_and_ip_history_refusals(api):
    h = api.headers()
    create(api, hostname="hk-1")
    cases = [
        ("/api/vps/ghost/history", {}, 404, "vps"),
        ("/api/vps/hk-1/history", {"kind": "boom"}, 422, "kind"),
        ("/api/vps/hk-1/history", {"since": "tuesday"}, 422, "since"),
        ("/api/ip-history", {"ip": "103.1.2.x"}, 422, "ip"),
        ("/api/ip-history", {"ip": "10.0.0.0/99"}, 422, "ip"),
        ("/api/ip-history", {}, 422, "ip"),
        ("/api/ip-history", {"ip": "10.0.0.1", "until": "later"}, 422, "until"),
    ]
    for path, params, status, field in cases:
        r = api.client.get(path, headers=h, params=params)
        assert r.status_code == status, (path, params, r.text)
        assert r.json()["field"] == field, (path, params, r.text)


def test_ip_history_route(api):
    h = api.headers()
    a = create(api, hostname="a", ip_addresses=[{"ip": "103.1.2.3", "label": "ct"}])
    api.client.put(f"/api/vps/{a['id']}", headers=h, json={"ip_addresses": []})
    b = create(api, hostname="b", ip_addresses=[{"ip": "103.1.2.3"}, {"ip": "2001:db8::7"}])
    r = api.client.get("/api/ip-history", headers=h, params={"ip": "103.1.2.3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and set(body) == {"data", "total", "page", "per_page"}
    assert [(x["vps_id"], x["label"], x["until"] is None) for x in body["data"]] == [
        (b["id"], "", True),
        (a["id"], "china-telecom", False),
    ]
    assert set(body["data"][0]) == {
        "ip",
        "label",
        "vps_id",
        "hostname",
        "since",
        "until",
        "vps_state",
    }
    r = api.client.get("/api/ip-history", headers=h, params={"ip": "2001:db8::/48"})
    assert [x["ip"] for x in r.json()["data"]] == ["2001:db8::7"]
    r = api.client.get("/api/ip-history", headers=h, params={"ip": "103.1.", "per_page": 1})
    assert r.json()["total"] == 2 and len(r.json()["data"]) == 1


def test_duplicates_merge_and_their_refusals(api):
    h = api.headers()
    keep = create(api, hostname="hk-1", ip_addresses=[{"ip": "103.1.2.3"}], country="HK")
    other = create(api, hostname="hk-1", ip_addresses=[{"ip": "103.1.2.3"}], country="JP")
    r = api.client.get("/api/vps/duplicates", headers=h)
    assert r.status_code == 200, r.text
    pairs = r.json()["data"]
    assert len(pairs) == 1 and {pairs[0]["a"]["id"], pairs[0]["b"]["id"]} == {
        keep["id"],
        other["id"],
    }
    assert {(x["reason"], x["value"]) for x in pairs[0]["reasons"]} == {
        ("hostname", "hk-1"),
        ("ip", "103.1.2.3"),
    }
    op = api.user("operator")
    before = audit_total(api)
    refusals = [
        ({"keep": keep["id"], "other": keep["id"]}, 422, "other"),
        ({"keep": keep["id"], "other": "ghost"}, 404, "other"),
        ({"keep": "ghost", "other": other["id"]}, 404, "keep"),
        ({"keep": keep["id"]}, 422, "other"),
        ({"keep": keep["id"], "other": other["id"], "extra": 1}, 422, "extra"),
    ]
    for body, status, field in refusals:
        r = api.client.post("/api/vps/merge", headers=h, json=body)
        assert r.status_code == status and r.json()["field"] == field, (body, r.text)
    dry = api.client.post(
        "/api/vps/merge",
        headers=h,
        json={"keep": keep["id"], "other": other["id"], "dry_run": True},
    )
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert audit_total(api) == before
    assert [c["field"] for c in dry.json()["conflicts"]] == ["country"]
    r = api.client.post(
        "/api/vps/merge", headers=api.headers(op), json={"keep": keep["id"], "other": other["id"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["removed"]["id"] == other["id"] and audit_total(api) == before + 1
    assert api.client.get(f"/api/vps/{other['id']}", headers=h).status_code == 404
    # a VPS in the trash cannot be merged: 409 naming its side
    gone = create(api, hostname="gone")
    api.client.delete(f"/api/vps/{gone['id']}", headers=h)
    r = api.client.post("/api/vps/merge", headers=h, json={"keep": gone["id"], "other": keep["id"]})
    assert r.status_code == 409 and r.json()["field"] == "keep"
    ro = api.user("readonly")
    r = api.client.post(
        "/api/vps/merge", headers=api.headers(ro), json={"keep": keep["id"], "other": gone["id"]}
    )
    assert r.status_code == 403


def test_delete_keeps_its_answer_and_the_trash_routes(api):
    h = api.headers()
    v = create(api, hostname="hk-1", ip_addresses=[{"ip": "192.0.2.1"}], status="active")
    op = api.user("operator")
    r = api.client.delete(f"/api/vps/{v['id']}", headers=h)
    assert r.status_code == 200 and r.json() == {"deleted": True}
    assert api.client.get(f"/api/vps/{v['id']}", headers=h).status_code == 404
    assert api.client.get("/api/vps", headers=h).json()["total"] == 0
    assert api.client.delete(f"/api/vps/{v['id']}", headers=h).status_code == 404
    assert api.client.get("/api/stats", headers=h).json()["total_vps"] == 0
    assert api.client.get("/api/prometheus/targets", headers=h).json() == []
    trash = api.client.get("/api/vps/trash", headers=h).json()
    assert trash["total"] == 1 and trash["data"][0]["id"] == v["id"]
    # the history of a VPS in the trash is readable
    kinds = [e["kind"] for e in api.client.get("/api/vps/hk-1/history", headers=h).json()["data"]]
    assert kinds == ["deleted", "created"]
    r = api.client.post(f"/api/vps/{v['id']}/restore", headers=h)
    assert r.status_code == 200 and r.json()["id"] == v["id"]
    r = api.client.post(f"/api/vps/{v['id']}/restore", headers=h)
    assert r.status_code == 404 and "not in the trash" in r.json()["error"]
    assert api.client.get("/api/vps", headers=h).json()["total"] == 1
    # purge: admins only, from the trash or at once
    before = audit_total(api)
    r = api.client.delete(f"/api/vps/{v['id']}", headers=api.headers(op), params={"purge": "true"})
    assert r.status_code == 403 and audit_total(api) == before
    r = api.client.delete(f"/api/vps/{v['id']}", headers=h, params={"purge": "true"})
    assert r.status_code == 200
    assert r.json() == {"deleted": True, "purged": True, "id": v["id"], "hostname": "hk-1"}
    assert api.client.get("/api/vps/trash", headers=h).json()["total"] == 0
    r = api.client.delete(f"/api/vps/{v['id']}", headers=h, params={"purge": "true"})
    assert r.status_code == 404
    # its history stays, by id
    r = api.client.get(f"/api/vps/{v['id']}/history", headers=h)
    assert r.status_code == 200 and r.json()["data"][0]["kind"] == "purged"
