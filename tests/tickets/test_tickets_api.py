"""/api/tickets over both databases: the contract's behaviours (9.6) and the validation the
original lacked (status/priority values, workflow, links, assignee, empty title/comment)."""

from __future__ import annotations

import uuid

NIL = "00000000-0000-0000-0000-000000000000"


def _ticket(api, token=None, **body):
    body = {"title": "disk full", **body}
    r = api.client.post("/api/tickets", headers=api.headers(token), json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _audit(api, **params):
    r = api.client.get(
        "/api/audit-logs", headers=api.headers(), params={"resource": "ticket", **params}
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_contract_crud_filters_and_comments(api):
    h = api.headers()
    t = _ticket(api, title="Broken", description="ping fails", priority="high")
    assert t["status"] == "open" and t["priority"] == "high" and t["description"] == "ping fails"
    # the original's fields, then the names behind the ids (docs/COMPATIBILITY.md)
    assert set(t) == {
        "id",
        "title",
        "description",
        "status",
        "priority",
        "vps_id",
        "provider_id",
        "created_by",
        "assigned_to",
        "created_at",
        "updated_at",
        "vps_hostname",
        "provider_name",
        "created_by_email",
        "assigned_to_email",
    }
    me = api.client.get("/api/auth/me", headers=h).json()
    assert t["created_by"] == me["id"] and t["created_by_email"] == me["email"]
    assert t["vps_hostname"] is None and t["assigned_to_email"] is None
    low = _ticket(api, title="Low one", priority="low")
    crit = _ticket(api, title="Critical one", priority="critical")
    assert api.client.get("/api/tickets", headers=h).json()["total"] == 3
    r = api.client.get("/api/tickets", headers=h, params={"priority": "critical"}).json()
    assert r["total"] == 1 and r["data"][0]["title"] == "Critical one"
    # newest first
    assert [x["title"] for x in api.client.get("/api/tickets", headers=h).json()["data"]][
        0
    ] == "Critical one"
    assert api.client.get(f"/api/tickets/{crit['id']}", headers=h).json()["priority"] == "critical"

    r = api.client.put(
        f"/api/tickets/{low['id']}",
        headers=h,
        json={"title": "Renamed", "status": "in-progress", "priority": "high"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["title"], r.json()["status"], r.json()["priority"]) == (
        "Renamed",
        "in-progress",
        "high",
    )
    assert r.json()["updated_at"] > low["updated_at"]
    r = api.client.put(f"/api/tickets/{crit['id']}", headers=h, json={"status": "closed"})
    assert r.status_code == 200
    for status, title in (("closed", "Critical one"), ("in-progress", "Renamed")):
        r = api.client.get("/api/tickets", headers=h, params={"status": status}).json()
        assert r["total"] == 1 and r["data"][0]["title"] == title

    c = api.client.post(f"/api/tickets/{t['id']}/comments", headers=h, json={"body": "looking"})
    assert c.status_code == 200, c.text
    assert c.json()["user_email"] == "admin@test.local" and c.json()["ticket_id"] == t["id"]
    api.client.post(f"/api/tickets/{t['id']}/comments", headers=h, json={"body": "fixed"})
    bodies = [
        x["body"] for x in api.client.get(f"/api/tickets/{t['id']}/comments", headers=h).json()
    ]
    assert bodies == ["looking", "fixed"]
    # the contract: comments of an unknown ticket are [], posting to one is 404
    unknown = str(uuid.uuid4())
    assert api.client.get(f"/api/tickets/{unknown}/comments", headers=h).json() == []
    assert (
        api.client.post(
            f"/api/tickets/{unknown}/comments", headers=h, json={"body": "x"}
        ).status_code
        == 404
    )

    r = api.client.delete(f"/api/tickets/{t['id']}", headers=h)
    assert r.status_code == 200 and r.json() == {"deleted": True}
    assert api.client.get(f"/api/tickets/{t['id']}", headers=h).status_code == 404
    assert api.client.delete(f"/api/tickets/{t['id']}", headers=h).status_code == 404
    # comments cascaded
    assert api.client.get(f"/api/tickets/{t['id']}/comments", headers=h).json() == []

    actions = [(a["action"], a["resource_id"]) for a in _audit(api)]
    assert ("delete", t["id"]) in actions and ("comment", t["id"]) in actions
    update = next(a for a in _audit(api, action="update") if a["resource_id"] == low["id"])
    assert update["details"]["changes"]["status"] == {"from": "open", "to": "in-progress"}
    assert "created_by" not in update["details"]["changes"]


def test_workflow_is_enforced_and_reopen_allowed(api):
    h = api.headers()
    t = _ticket(api)
    for status in ("in-progress", "resolved", "closed", "open"):
        r = api.client.put(f"/api/tickets/{t['id']}", headers=h, json={"status": status})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    api.client.put(f"/api/tickets/{t['id']}", headers=h, json={"status": "closed"})
    r = api.client.put(f"/api/tickets/{t['id']}", headers=h, json={"status": "resolved"})
    assert r.status_code == 409 and r.json()["field"] == "status"
    assert "closed" in r.json()["error"] and "open" in r.json()["error"]
    for bad in (
        {"status": "done"},
        {"priority": "urgent"},
        {"title": "  "},
        {"title": None},
        {"colour": "red"},
    ):
        r = api.client.put(f"/api/tickets/{t['id']}", headers=h, json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["field"] == next(iter(bad)), r.json()
    assert api.client.get(f"/api/tickets/{t['id']}", headers=h).json()["status"] == "closed"
    r = api.client.post("/api/tickets", headers=h, json={"title": "x", "priority": "whenever"})
    assert r.status_code == 422 and r.json()["field"] == "priority"
    r = api.client.post("/api/tickets", headers=h, json={"title": ""})
    assert r.status_code == 422 and r.json()["field"] == "title"
    r = api.client.post(f"/api/tickets/{t['id']}/comments", headers=h, json={"body": "   "})
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = api.client.get("/api/tickets", headers=h, params={"status": "nope"})
    assert r.status_code == 422 and r.json()["field"] == "status"


def test_links_and_assignee_are_validated_and_clearable(api):
    h = api.headers()
    p = api.client.post("/api/providers", headers=h, json={"name": "DMIT"}).json()
    v = api.client.post(
        "/api/vps", headers=h, json={"hostname": "hk-1", "provider_id": p["id"]}
    ).json()
    op_token = api.user("operator", email="ops@example.com")
    ops = api.client.get("/api/auth/me", headers=api.headers(op_token)).json()
    for field in ("vps_id", "provider_id"):
        r = api.client.post(
            "/api/tickets", headers=h, json={"title": "x", field: str(uuid.uuid4())}
        )
        assert r.status_code == 422 and r.json()["field"] == field, r.text
        r = api.client.post("/api/tickets", headers=h, json={"title": "x", field: "not-a-uuid"})
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    r = api.client.post(
        "/api/tickets", headers=h, json={"title": "x", "assigned_to": "ghost@example.com"}
    )
    assert r.status_code == 422 and r.json()["field"] == "assigned_to"
    assert api.client.get("/api/tickets", headers=h).json()["total"] == 0

    t = _ticket(api, vps_id=v["id"], provider_id=p["id"], assigned_to="OPS@example.com")
    assert (t["vps_id"], t["provider_id"], t["assigned_to"]) == (v["id"], p["id"], ops["id"])
    assert (
        api.client.get("/api/tickets", headers=h, params={"vps_id": v["id"]}).json()["total"] == 1
    )
    assert (
        api.client.get("/api/tickets", headers=h, params={"assigned_to": ops["id"]}).json()["total"]
        == 1
    )
    r = api.client.put(
        f"/api/tickets/{t['id']}", headers=h, json={"assigned_to": None, "provider_id": None}
    )
    assert (
        r.status_code == 200 and r.json()["assigned_to"] is None and r.json()["provider_id"] is None
    )
    # purging the VPS unlinks the ticket (ON DELETE SET NULL), the ticket stays (a VPS in
    # the trash keeps its tickets until it is purged)
    r = api.client.delete(f"/api/vps/{v['id']}", headers=h, params={"purge": "true"})
    assert r.status_code == 200
    assert api.client.get(f"/api/tickets/{t['id']}", headers=h).json()["vps_id"] is None


def test_roles(api):
    ro = api.user("readonly")
    op = api.user("operator")
    assert api.client.get("/api/tickets", headers=api.headers(ro)).status_code == 200
    assert (
        api.client.post("/api/tickets", headers=api.headers(ro), json={"title": "x"}).status_code
        == 403
    )
    t = _ticket(api, op)
    assert (
        api.client.put(
            f"/api/tickets/{t['id']}", headers=api.headers(ro), json={"status": "closed"}
        ).status_code
        == 403
    )
    assert (
        api.client.post(
            f"/api/tickets/{t['id']}/comments", headers=api.headers(ro), json={"body": "x"}
        ).status_code
        == 403
    )
    assert (
        api.client.post(
            f"/api/tickets/{t['id']}/comments", headers=api.headers(op), json={"body": "x"}
        ).status_code
        == 200
    )
    assert api.client.delete(f"/api/tickets/{t['id']}", headers=api.headers(op)).status_code == 403
    assert api.client.delete(f"/api/tickets/{t['id']}", headers=api.headers()).status_code == 200
    # an operator's API key acts as the nil user
    key = api.api_key("operator")
    r = api.client.post("/api/tickets", headers={"X-Api-Key": key}, json={"title": "from a script"})
    assert r.status_code == 200
    # a managed key belongs to a user: created_by is that user (the legacy key would be nil)
    assert r.json()["created_by"] != NIL
    assert api.client.get("/api/tickets").status_code == 401
