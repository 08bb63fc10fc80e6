"""Issue 18, part A, on the dashboard without a browser, both databases: the attention list
first, worst first, escaped; acknowledge, snooze and reopen by forms with CSRF; a reader sees
no buttons and cannot post; an item gone is said so."""

from __future__ import annotations

import re

import pytest
from test_web_pages import ADMIN_EMAIL, ADMIN_PASSWORD, Browser


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def admin(api):
    b = Browser(api.app)
    assert b.login(ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
    return b


@pytest.fixture
def fleet(api):
    from sqlalchemy.orm import sessionmaker
    from tests.services.test_attention import make_fleet

    ids = make_fleet(sessionmaker(api.app.state.engine, expire_on_commit=False))
    r = api.client.post(
        "/api/tickets",
        headers=api.headers(),
        json={"title": "<script>alert(1)</script>", "priority": "critical"},
    )
    assert r.status_code == 200, r.text
    ids["t-hostile"] = r.json()["id"]
    for n in range(12):  # more than the dashboard shows: the rest behind "Show all"
        r = api.client.post(
            "/api/vps", headers=api.headers(), json={"hostname": f"bare-{n}", "status": "active"}
        )
        assert r.status_code == 200, r.text
    return ids


def rows(html: str) -> list[tuple[str, str, str]]:
    """(key, kind, state) of the list's rows, in order."""
    return re.findall(r'<tr data-key="([^"]+)" data-kind="([^"]+)" data-state="([^"]+)">', html)


def test_dashboard_opens_with_the_list_worst_first_and_escaped(api, admin, fleet):
    page = admin.get("/").text
    assert page.index('id="attention-list"') < page.index('id="attention"')
    assert page.index('id="attention-list"') < page.index('class="charts"')
    found = rows(page)
    assert len(found) == 25  # DASHBOARD_ITEMS; the rest behind "Show all"
    severities = re.findall(r'<span class="badge sev-(\w+)">', page)
    ranks = [("critical", "warning", "info").index(s) for s in severities]
    assert ranks == sorted(ranks)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    every = admin.get("/?attention=all").text
    assert len(rows(every)) > 25 and "Show all" not in every
    # a page of 100 at a time: a page past the end is empty, a bad page number is the first
    assert rows(admin.get("/?attention=all&apage=2").text) == []
    assert rows(admin.get("/?attention=all&apage=x").text) == rows(every)
    assert f'href="/vps/{fleet["walled"]}"' in page


def test_acknowledge_snooze_and_reopen_by_forms(api, admin, fleet):
    key = f"blocked:ip:{fleet['walled']}/203.0.113.14"
    r = admin.post("/attention/ack", {"key": key})
    assert r.status_code == 303 and r.headers["location"].startswith("/?flash=attention-acked")
    page = admin.get(r.headers["location"]).text
    assert "Item acknowledged" in page and key not in [k for k, _, _ in rows(page)]
    handled = admin.get("/?handled=1&attention=all").text
    assert (key, "blocked", "acknowledged") in rows(handled)
    r = admin.post("/attention/unack", {"key": key, "handled": "1"})
    assert r.status_code == 303 and r.headers["location"].startswith("/?handled=1&flash=")
    r = admin.post("/attention/snooze", {"key": key, "until": "1d"})
    assert r.status_code == 303 and "attention-snoozed" in r.headers["location"]
    assert (key, "blocked", "snoozed") in rows(admin.get("/?handled=1&attention=all").text)
    # a bad duration is a 422 page naming the field; a vanished item a notice, not an error
    r = admin.post("/attention/snooze", {"key": key, "until": "eventually"})
    assert r.status_code == 422 and "until" in r.text
    r = admin.post("/attention/ack", {"key": "overdue:vps:00000000-0000-0000-0000-000000000000"})
    assert r.status_code == 303 and "attention-gone" in r.headers["location"]
    assert "no longer needs attention" in admin.get(r.headers["location"]).text
    # without the form's CSRF token: refused, nothing changed
    other = f"overdue:vps:{fleet['late']}"
    r = admin.post("/attention/ack", {"key": other}, csrf=False)
    assert r.status_code == 403
    assert (other, "overdue", "open") in rows(admin.get("/").text)


def test_a_reader_sees_the_list_without_buttons(api, fleet):
    api.user("readonly", email="ro-attention@example.com")
    b = Browser(api.app)
    assert b.login("ro-attention@example.com", "password-123").status_code == 303
    page = b.get("/").text
    assert rows(page) and 'action="/attention/ack"' not in page
    r = b.post("/attention/ack", {"key": f"overdue:vps:{fleet['late']}"})
    assert r.status_code == 403
