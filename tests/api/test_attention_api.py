"""Issue 18, part A, over HTTP on both databases: GET /api/attention (auth, pagination,
filters, counts) and POST /api/attention/ack|snooze|unack (roles, the key in the body, bad
input, one audit row each)."""

from __future__ import annotations

import pytest
from tests.services.test_attention import make_fleet


@pytest.fixture
def fleet(api):
    from sqlalchemy.orm import sessionmaker

    return make_fleet(sessionmaker(api.app.state.engine, expire_on_commit=False))


def test_listing_auth_pagination_and_filters(api, fleet):
    c = api.client
    assert c.get("/api/attention").status_code == 401
    reader = api.headers(api.user("readonly"))
    whole = c.get("/api/attention", headers=reader, params={"per_page": 100}).json()
    assert whole["total"] == len(whole["data"]) > 10 and whole["critical"] > 0
    assert sum(n["count"] for n in whole["counts"]) == whole["total"]
    pages = [
        c.get("/api/attention", headers=reader, params={"page": p, "per_page": 4}).json()
        for p in (1, 2, 3)
    ]
    assert [len(p["data"]) for p in pages] == [4, 4, 4] and pages[0]["total"] == whole["total"]
    assert [i["key"] for p in pages for i in p["data"]] == [i["key"] for i in whole["data"][:12]]
    r = c.get("/api/attention", headers=reader, params={"kind": "blocked,down", "per_page": 100})
    assert {i["kind"] for i in r.json()["data"]} == {"blocked", "down"}
    r = c.get(
        "/api/attention",
        headers=reader,
        params=[("severity", "info"), ("severity", "warning"), ("per_page", "100")],
    )
    assert {i["severity"] for i in r.json()["data"]} == {"info", "warning"}
    r = c.get("/api/attention", headers=reader, params={"vps": fleet["flaky"]})
    assert {i["kind"] for i in r.json()["data"]} == {"degraded", "reach-alert"}
    for params, field in (({"kind": "nope"}, "kind"), ({"severity": "dire"}, "severity")):
        r = c.get("/api/attention", headers=reader, params=params)
        assert r.status_code == 422 and r.json()["field"] == field
    assert c.get("/api/attention", headers=reader, params={"vps": "nosuch"}).status_code == 404
    # agents and probes do not read it
    agent = {"X-Api-Key": api.api_key("agent")}
    assert c.get("/api/attention", headers=agent).status_code == 403


def test_ack_snooze_unack_roles_and_refusals(api, fleet):
    c = api.client
    key = f"blocked:ip:{fleet['walled']}/203.0.113.14"  # '/' and ':' in the body
    reader = api.headers(api.user("readonly"))
    operator = api.headers(api.user("operator"))
    assert c.post("/api/attention/ack", headers=reader, json={"key": key}).status_code == 403
    r = c.post("/api/attention/ack", headers=operator, json={"key": key, "note": "ticket open"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "acknowledged" and r.json()["by"].startswith("operator-")
    listed = c.get("/api/attention", headers=reader, params={"per_page": 100}).json()
    assert key not in {i["key"] for i in listed["data"]} and listed["handled"] == 1
    handled = c.get(
        "/api/attention", headers=reader, params={"handled": "true", "kind": "blocked"}
    ).json()
    assert handled["data"][0]["state"] == "acknowledged"
    assert handled["data"][0]["note"] == "ticket open"

    r = c.post("/api/attention/snooze", headers=operator, json={"key": key, "until": "4h"})
    assert r.status_code == 200 and r.json()["state"] == "snoozed" and r.json()["until"]
    r = c.post("/api/attention/unack", headers=api.headers(), json={"key": key})
    assert r.status_code == 200
    entries = c.get(
        "/api/audit-logs", headers=api.headers(), params={"resource": "attention"}
    ).json()["data"]
    assert sorted(e["action"] for e in entries) == ["acknowledge", "snooze", "unacknowledge"]

    refusals = [
        ("/api/attention/ack", {"key": "overdue:vps:nothing-here"}, 404, "key"),
        ("/api/attention/ack", {"key": key, "note": "a\x1bb"}, 422, "note"),
        ("/api/attention/ack", {"key": key, "note": "n" * 501}, 422, "note"),
        ("/api/attention/ack", {"key": key, "extra": 1}, 422, None),
        ("/api/attention/snooze", {"key": key, "until": "2000-01-01T00:00:00Z"}, 422, "until"),
        ("/api/attention/snooze", {"key": key, "until": "tomorrowish"}, 422, "until"),
        ("/api/attention/snooze", {"key": key}, 422, None),
        ("/api/attention/unack", {"key": key}, 404, "key"),
    ]
    for path, body, status, field in refusals:
        r = c.post(path, headers=operator, json=body)
        assert r.status_code == status, (path, body, r.text)
        if field:
            assert r.json()["field"] == field, r.text
