"""The web side of billing, traffic and replacement (issue 16, part B), without a browser, on
SQLite and PostgreSQL: the VPS form's new fields and their errors, the traffic card of the VPS
page, the renew and replace actions."""

from __future__ import annotations

import pytest
from tests.web.test_web_pages import ADMIN_EMAIL, ADMIN_PASSWORD, Browser


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


def _vps(api, ref):
    return api.client.get(f"/api/vps/{ref}", headers=api.headers()).json()


def test_form_fields(api, admin):
    page = admin.get("/vps/new").text
    for name in (
        "billing_cycle",
        "auto_renew",
        "traffic_quota_gb",
        "traffic_direction",
        "traffic_reset_day",
    ):
        assert f'name="{name}"' in page, name
    r = admin.post(
        "/vps/new",
        {
            "hostname": "hk-1",
            "status": "active",
            "billing_cycle": "0d",
            "traffic_reset_day": "31",
        },
    )
    assert r.status_code == 200 and 'id="err-billing_cycle"' in r.text, r.text[:300]
    assert _vps(api, "hk-1").get("id") is None  # nothing written
    r = admin.post(
        "/vps/new",
        {
            "hostname": "hk-1",
            "status": "active",
            "billing_cycle": "quarterly",
            "auto_renew": "1",
            "traffic_quota_gb": "2000",
            "traffic_direction": "max",
            "traffic_reset_day": "9",
        },
    )
    assert r.status_code == 303, r.text[:300]
    v = _vps(api, "hk-1")
    assert (v["billing_cycle"], v["auto_renew"], v["traffic_quota_gb"]) == ("quarterly", True, 2000)
    assert (v["traffic_direction"], v["traffic_reset_day"]) == ("max", 9)
    edit = admin.get(f"/vps/{v['id']}/edit").text
    assert 'value="quarterly"' in edit and 'value="2000"' in edit
    assert '<option value="max" selected>' in edit
    r = admin.post(
        f"/vps/{v['id']}/edit",
        {"hostname": "hk-1", "status": "active", "traffic_reset_day": "0"},
    )
    assert r.status_code == 200 and 'id="err-traffic_reset_day"' in r.text
    assert _vps(api, "hk-1")["traffic_reset_day"] == 9


def test_vps_page_traffic_and_renew(api, admin):
    h = api.headers()
    v = api.client.post(
        "/api/vps",
        headers=h,
        json={
            "hostname": "jp-2",
            "status": "active",
            "expire_date": "2030-01-31",
            "cost_monthly": "4.00",
            "traffic_quota_gb": 1,
        },
    ).json()
    for rx in (0, 250_000_000):
        r = api.client.post(
            "/api/agent/heartbeat",
            headers=h,
            json={"hostname": "jp-2", "traffic": {"rx_bytes": rx, "tx_bytes": 0}},
        )
        assert r.status_code == 200, r.text
    page = admin.get(f"/vps/{v['id']}").text
    assert 'id="traffic"' in page
    assert "250.0 MB / 1.0 GB (25.0 %)" in page
    assert "monthly" in page
    r = admin.post(f"/vps/{v['id']}/renew", {})
    assert r.status_code == 200 and "from 2030-01-31 to 2030-02-28" in r.text
    assert "4.00 USD" in r.text
    r = admin.post(f"/vps/{v['id']}/renew", {"confirmed": "yes"})
    assert r.status_code == 303 and "flash=vps-renewed" in r.headers["location"]
    assert _vps(api, "jp-2")["expire_date"] == "2030-02-28"


def test_replace_flow(api, admin):
    h = api.headers()
    old = api.client.post(
        "/api/vps", headers=h, json={"hostname": "sg-1", "status": "active", "tags": ["x"]}
    ).json()
    new = api.client.post("/api/vps", headers=h, json={"hostname": "sg-2"}).json()
    page = admin.get(f"/vps/{old['id']}").text
    assert f'href="/vps/{old["id"]}/replace"' in page
    form = admin.get(f"/vps/{old['id']}/replace").text
    assert 'name="with"' in form and 'name="inherit_tags"' in form
    r = admin.post(f"/vps/{old['id']}/replace", {"with": "sg-1", "inherit_tags": "1"})
    assert r.status_code == 200 and 'id="err-with"' in r.text and "cannot replace itself" in r.text
    r = admin.post(f"/vps/{old['id']}/replace", {"with": "nobody"})
    assert r.status_code == 200 and 'id="err-with"' in r.text
    assert _vps(api, "sg-1")["status"] == "active"
    r = admin.post(f"/vps/{old['id']}/replace", {"with": "sg-2", "inherit_purpose": "1"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/vps/{new['id']}")
    assert _vps(api, "sg-1")["status"] == "retiring"
    assert _vps(api, "sg-2")["tags"] == []  # tags not ticked: not inherited
