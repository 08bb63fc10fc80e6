"""The web UI without a browser, on SQLite and PostgreSQL: every page for each role, the
session cookie, CSRF, forged posts, the TOTP login step, export and import."""

from __future__ import annotations

import json
import re
import time

import pytest

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@test.local", "testpass123"  # the `api` fixture's admin


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class Browser:
    """A cookie-keeping client that signs in through the login form and posts forms with
    the page's CSRF token."""

    def __init__(self, app, base_url: str = "http://testserver"):
        from fastapi.testclient import TestClient

        self.http = TestClient(app, base_url=base_url, follow_redirects=False)
        self.token = ""

    def get(self, path: str, **kw):
        r = self.http.get(path, **kw)
        m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
        if m:
            self.token = m.group(1)
        return r

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw):
        if csrf and not self.token:
            self.get("/login")
        body = {"csrf_token": self.token, **(data or {})} if csrf else (data or {})
        return self.http.post(path, data=body, **kw)

    def login(self, email: str, password: str):
        """Sign in, then load the page the browser is sent to, as a browser does: the CSRF
        tokens of a session's forms are that session's own."""
        self.get("/login")
        r = self.post("/login", {"email": email, "password": password})
        if r.status_code == 303:
            self.get(r.headers["location"])
        return r


@pytest.fixture
def admin(api):
    b = Browser(api.app)
    r = b.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return b


def _seed(api) -> dict:
    h = api.headers()
    p = api.client.post(
        "/api/providers", headers=h, json={"name": "DMIT <b>", "country": "US"}
    ).json()
    v = api.client.post(
        "/api/vps",
        headers=h,
        json={
            "hostname": "hk-1",
            "provider_id": p["id"],
            "status": "active",
            "country": "HK",
            "ip_addresses": [
                {"ip": "203.0.113.1", "label": "china-telecom"},
                {"ip": "2001:db8::1", "label": "overseas"},
            ],
            "tags": ["cn-optimized", "p:airport"],
            "expire_date": "2000-01-02",
            "cost_monthly": "9.99",
            "extra": {
                "last_heartbeat": "2000-01-01T00:00:00+00:00",
                "system_info": {"cpu_cores": 2, "ram_mb": 2048},
            },
        },
    ).json()
    t = api.client.post(
        "/api/tickets", headers=h, json={"title": "route <i>loss</i>", "vps_id": v["id"]}
    ).json()
    return {"provider": p, "vps": v, "ticket": t}


PAGES = [
    "/",
    "/vps",
    "/vps?tag=cn-optimized&status=active",
    "/providers",
    "/tickets",
    "/tickets?status=open",
    "/settings",
    "/change-password",
    "/costs",
    "/reachability",
]


def test_every_page_renders_for_admin_and_readonly(api, admin):
    s = _seed(api)
    vps_id, ticket_id = s["vps"]["id"], s["ticket"]["id"]
    detail = [
        f"/vps/{vps_id}",
        f"/vps/{vps_id}/edit",
        f"/tickets/{ticket_id}",
        f"/tickets/{ticket_id}/edit",
        "/vps/new",
        "/tickets/new",
        "/providers/new",
        f"/providers/{s['provider']['id']}/edit",
        "/users",
        "/users/new",
        "/audit-log",
        "/audit-log?resource=vps&action=create",
    ]
    for path in PAGES + detail:
        r = admin.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        assert "text/html" in r.headers["content-type"]
        assert "<script>" not in r.text  # no inline script anywhere
        assert (
            "content-security-policy" in r.headers
            and "frame-ancestors 'none'" in r.headers["content-security-policy"]
        )
    page = admin.get("/vps").text
    assert "DMIT &lt;b&gt;" in page and "<b>" not in page
    assert "Offline" in page and 'class="iplabel lbl-china-telecom"' in page
    detail = admin.get(f"/vps/{vps_id}").text
    # the related tickets and the timeline's ticket-opened event (issue 16), escaped both times
    assert detail.count("route &lt;i&gt;loss&lt;/i&gt;") == 2 and "<i>loss" not in detail
    dash = admin.get("/").text
    assert dash.count('<svg class="chart') == 3
    assert (
        "Expiring Within 14 Days" in dash and "hk-1" in dash
    )  # overdue ones included, as the contract
    assert admin.get("/vps/00000000-0000-0000-0000-000000000000").status_code == 404

    ro = Browser(api.app)
    api.user("readonly", email="ro@example.com")
    assert ro.login("ro@example.com", "password-123").status_code == 303
    for path in PAGES + [f"/vps/{vps_id}", f"/tickets/{ticket_id}"]:
        r = ro.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert (
            'href="/vps/new"' not in r.text
            and "/edit" not in r.text
            and "Retire</button>" not in r.text
        )
    for path in (
        "/users",
        "/audit-log",
        "/vps/new",
        "/tickets/new",
        "/providers/new",
        f"/vps/{vps_id}/edit",
    ):
        assert ro.get(path).status_code == 403, path


def test_dashboard_lists_what_expires_within_14_days(api, admin):
    from datetime import date, timedelta

    h = api.headers()
    soon = (date.today() + timedelta(days=2)).isoformat()
    api.client.post(
        "/api/vps",
        headers=h,
        json={
            "hostname": "soon-1",
            "status": "active",
            "expire_date": soon,
            "ip_addresses": [{"ip": "198.51.100.9"}],
        },
    )
    page = admin.get("/").text
    assert "Expiring Within 14 Days" in page and "soon-1" in page
    assert re.search(r'class="num danger-text">2<', page)


def test_session_cookie_csrf_and_forged_posts(api):
    b = Browser(api.app, base_url="https://testserver")
    r = b.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    cookie = r.headers["set-cookie"]
    assert (
        "sigma_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie
        and "Secure" in cookie
    )
    # no token, a wrong token, another site's Origin: refused, nothing written
    assert b.post("/providers/new", {"name": "A"}, csrf=False).status_code == 403
    assert (
        b.post("/providers/new", {"name": "B", "csrf_token": "0" * 64}, csrf=False).status_code
        == 403
    )
    r = b.post("/providers/new", {"name": "C"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert b.post("/providers/new", {"name": "D"}).status_code == 303
    names = [
        p["name"] for p in api.client.get("/api/providers", headers=api.headers()).json()["data"]
    ]
    assert names == ["D"]
    # a readonly user with a valid token: the services refuse
    api.user("readonly", email="ro@example.com")
    ro = Browser(api.app)
    ro.login("ro@example.com", "password-123")
    ro.get("/vps")
    for path, data in (
        ("/vps/new", {"hostname": "forged"}),
        ("/providers/new", {"name": "E"}),
        ("/tickets/new", {"title": "x"}),
        ("/users/new", {"email": "x@y.z", "password": "p" * 9}),
    ):
        assert ro.post(path, data).status_code == 403, path
    assert api.client.get("/api/vps", headers=api.headers()).json()["total"] == 0
    assert api.client.get("/api/tickets", headers=api.headers()).json()["total"] == 0
    # logout clears the session
    r = b.post("/logout")
    assert r.status_code == 303 and 'sigma_session=""' in r.headers["set-cookie"]
    b.http.cookies.delete("sigma_session")
    r = b.get("/vps")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fvps"
    # no open redirect through ?next=
    b.get("/login")
    r = b.post(
        "/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "//evil.example/x"}
    )
    assert r.headers["location"] == "/"


def test_totp_login_step_and_forced_password_change(api):
    import pyotp

    b = Browser(api.app)
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    b.get("/settings")
    page = b.post("/settings/mfa/setup").text
    secret = re.search(r'id="mfa-secret">([A-Z2-7]+)<', page).group(1)
    assert '<img src="data:image/png;base64,iVBORw0KGgo' in page  # a PNG
    totp = pyotp.TOTP(secret)
    assert "Invalid code" in b.post("/settings/mfa/verify", {"code": "12345"}).text
    assert (
        b.post("/settings/mfa/verify", {"code": totp.now()}).headers["location"]
        == "/settings?flash=mfa-enabled"
    )

    c = Browser(api.app)
    r = c.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert (
        r.status_code == 200
        and 'action="/login/totp"' in r.text
        and "sigma_session" not in r.headers.get("set-cookie", "")
    )
    assert "Invalid TOTP code" in c.post("/login/totp", {"code": "000000"}).text
    r = c.post("/login/totp", {"code": totp.at(time.time() + 30), "next": "/tickets"})
    assert r.status_code == 303 and r.headers["location"] == "/tickets"
    assert c.get("/tickets").status_code == 200

    # a user whose password must be changed sees only the change-password page
    r = api.client.post(
        "/api/users",
        headers=api.headers(),
        json={
            "email": "new@example.com",
            "password": "first-pass-1",
            "role": "operator",
            "force_password_change": True,
        },
    )
    assert r.status_code == 200
    n = Browser(api.app)
    assert n.login("new@example.com", "first-pass-1").headers["location"] == "/change-password"
    assert n.get("/vps").headers["location"] == "/change-password"
    page = n.post(
        "/change-password",
        {
            "current_password": "first-pass-1",
            "new_password": "second-pass-2",
            "confirm_password": "other",
        },
    ).text
    assert "Passwords do not match" in page
    page = n.post(
        "/change-password",
        {
            "current_password": "nope",
            "new_password": "second-pass-2",
            "confirm_password": "second-pass-2",
        },
    ).text
    assert "Current password is incorrect" in page
    r = n.post(
        "/change-password",
        {
            "current_password": "first-pass-1",
            "new_password": "second-pass-2",
            "confirm_password": "second-pass-2",
        },
    )
    assert r.status_code == 303 and n.get("/vps").status_code == 200


def test_vps_form_validation_ticket_workflow_and_api_keys(api, admin):
    admin.get("/vps/new")
    r = admin.post(
        "/vps/new",
        {
            "hostname": "bad host",
            "ip": ["1.2.3.4", "1.2.3.4", ""],
            "ip_label": ["ct", "", ""],
            "ssh_port": "70000",
            "status": "active",
        },
    )
    assert r.status_code == 200 and "Please correct the highlighted fields" in r.text
    assert 'id="err-hostname"' in r.text and 'value="bad host"' in r.text
    r = admin.post(
        "/vps/new",
        {
            "hostname": "ok-1",
            "ip": ["1.2.3.4", "2001:DB8::1"],
            "ip_label": ["ct", "overseas"],
            "tags": "a, b",
            "project": ["p:aoxvpn", "p:bogus"],
            "monitoring_enabled": "1",
            "cost_monthly": "1.50",
            "expire_date": "2030-01-01",
        },
    )
    assert r.status_code == 303, r.text
    v = api.client.get("/api/vps/ok-1", headers=api.headers()).json()
    assert v["ip_addresses"] == [
        {"ip": "1.2.3.4", "label": "china-telecom"},
        {"ip": "2001:db8::1", "label": "overseas"},
    ]
    assert (
        v["tags"] == ["a", "b", "p:aoxvpn"]
        and v["cost_monthly"] == "1.50"
        and v["monitoring_enabled"]
    )
    # editing keeps extra and clears a date left empty
    r = admin.post(
        f"/vps/{v['id']}/edit",
        {"hostname": "ok-1", "ip": ["1.2.3.4"], "ip_label": [""], "status": "active"},
    )
    assert r.status_code == 303
    v2 = api.client.get("/api/vps/ok-1", headers=api.headers()).json()
    assert v2["expire_date"] is None and v2["ip_addresses"] == [{"ip": "1.2.3.4", "label": ""}]

    r = admin.post("/tickets/new", {"title": "t", "vps_id": v["id"], "priority": "urgent"})
    assert r.status_code == 200 and "unknown priority" in r.text
    r = admin.post(
        "/tickets/new", {"title": "t", "vps_id": v["id"], "priority": "low", "assigned_to": ""}
    )
    tid = r.headers["location"].split("/")[2].split("?")[0]
    assert admin.post(f"/tickets/{tid}/status", {"status": "closed"}).status_code == 303
    r = admin.post(f"/tickets/{tid}/status", {"status": "resolved"})
    assert r.status_code == 409 and "cannot become resolved" in r.text
    assert (
        "comment must not be empty" in admin.post(f"/tickets/{tid}/comments", {"body": "  "}).text
    )
    assert admin.post(f"/tickets/{tid}/delete", {}).status_code == 200  # the confirmation page
    assert admin.post(f"/tickets/{tid}/delete", {"confirmed": "yes"}).status_code == 303
    assert api.client.get(f"/api/tickets/{tid}", headers=api.headers()).status_code == 404

    # post/redirect/get: the key is shown once on the page the form redirects to
    r = admin.post("/settings/api-keys", {"name": "backup", "read_only": "1"})
    assert r.status_code == 303 and r.headers["location"].startswith("/settings")
    page = admin.get("/settings").text
    key = re.search(r'id="new-api-key">(sigma_[^<]+)<', page).group(1)
    assert api.client.get("/api/vps", headers={"X-Api-Key": key}).status_code == 200
    assert admin.get("/settings").text.count(key) == 0  # shown once: a reload shows no key...
    assert (
        len(api.client.get("/api/auth/api-keys", headers=api.headers()).json()) == 1
    )  # ...and makes none
    key_id = api.client.get("/api/auth/api-keys", headers=api.headers()).json()[0]["id"]
    assert (
        admin.post(f"/settings/api-keys/{key_id}/revoke", {"confirmed": "yes"}).status_code == 303
    )
    assert api.client.get("/api/vps", headers={"X-Api-Key": key}).status_code == 401


def test_export_and_import(api, admin):
    _seed(api)
    r = admin.get("/vps/export.json")
    assert (
        r.status_code == 200
        and r.headers["content-disposition"] == 'attachment; filename="vps.json"'
    )
    rows = json.loads(r.text)
    assert [v["hostname"] for v in rows] == ["hk-1"]
    r = admin.get("/providers/export.json")
    assert r.status_code == 200 and [p["name"] for p in json.loads(r.text)] == ["DMIT <b>"]
    assert r.headers["content-disposition"] == 'attachment; filename="providers.json"'
    r = admin.get("/vps/export.csv")
    assert r.status_code == 200 and r.text.splitlines()[0].startswith(("id,", "hostname", '"id"'))
    if "Import</a>" not in admin.get("/vps").text:
        pytest.skip("this build has no import service")
    admin.get("/vps/import")
    new = [{"hostname": "imported-1", "status": "active"}]
    r = admin.post("/vps/import", files={"file": ("vps.json", json.dumps(new), "application/json")})
    assert r.status_code == 200 and 'id="import-result"' in r.text, r.text[-1500:]
    assert api.client.get("/api/vps/imported-1", headers=api.headers()).status_code == 200
    r = admin.post(
        "/vps/import",
        files={"file": ("vps.json", json.dumps([{"hostname": ""}]), "application/json")},
    )
    assert r.status_code == 200 and "hostname" in r.text
    admin.get("/providers/import")
    csv_text = "name,country\nHostHatch,NL\n"
    r = admin.post("/providers/import", files={"file": ("providers.csv", csv_text, "text/csv")})
    assert r.status_code == 200 and 'id="import-result"' in r.text, r.text[-1500:]
    assert api.client.get("/api/providers/HostHatch", headers=api.headers()).status_code == 200


def test_agent_key_from_the_vps_page(api, admin):
    """Create an agent key bound to the VPS on its page (shown once), then release and revoke."""
    vps_id = _seed(api)["vps"]["id"]
    page = admin.get(f"/vps/{vps_id}").text
    assert "No agent key is bound" in page
    r = admin.post(f"/vps/{vps_id}/agent-key", {})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/vps/{vps_id}")
    page = admin.get(f"/vps/{vps_id}").text
    key = re.search(r'id="new-agent-key">(sigma_[^<]+)<', page).group(1)
    assert "1 agent key(s) bound to this VPS" in page
    assert key not in admin.get(f"/vps/{vps_id}").text
    beat = api.client.post(
        "/api/agent/heartbeat", headers={"X-Api-Key": key}, json={"hostname": "hk-1"}
    )
    assert beat.status_code == 200
    assert (
        api.client.post(
            "/api/agent/register", headers={"X-Api-Key": key}, json={"hostname": "other-1"}
        ).status_code
        == 403
    )
    assert admin.post(f"/vps/{vps_id}/agent-release", {}).status_code == 200  # asks first
    r = admin.post(f"/vps/{vps_id}/agent-release", {"confirmed": "yes"})
    assert r.status_code == 303 and "flash=agent-released" in r.headers["location"]
    assert (
        api.client.post(
            "/api/agent/heartbeat", headers={"X-Api-Key": key}, json={"hostname": "hk-1"}
        ).status_code
        == 401
    )


def test_ticket_vps_picker_keeps_links_beyond_the_first_hundred(api, admin):
    """The ticket form never drops a link: the VPS is typed (with suggestions), not picked
    from a list capped at 100; editing a ticket about VPS #150 keeps it; "New ticket" from
    a VPS page links that VPS."""
    h = api.headers()
    for i in range(150):
        r = api.client.post("/api/vps", headers=h, json={"hostname": f"pick-{i:03d}"})
        assert r.status_code == 200
    last = api.client.get("/api/vps/pick-149", headers=h).json()
    form = admin.get(f"/tickets/new?vps_id={last['id']}").text
    assert 'value="pick-149"' in form
    r = admin.post("/tickets/new", {"title": "loss", "vps": "pick-149", "priority": "low"})
    assert r.status_code == 303, r.text
    tid = r.headers["location"].split("/")[2].split("?")[0]
    assert api.client.get(f"/api/tickets/{tid}", headers=h).json()["vps_id"] == last["id"]

    edit = admin.get(f"/tickets/{tid}/edit").text
    assert 'value="pick-149"' in edit
    r = admin.post(
        f"/tickets/{tid}/edit", {"title": "loss 2", "vps": "pick-149", "priority": "low"}
    )
    assert r.status_code == 303
    assert api.client.get(f"/api/tickets/{tid}", headers=h).json()["vps_id"] == last["id"]
    # an id prefix works too; a name matching nothing or several is the field's error
    r = admin.post(f"/tickets/{tid}/edit", {"title": "x", "vps": last["id"][:8], "priority": "low"})
    assert r.status_code == 303
    r = admin.post(f"/tickets/{tid}/edit", {"title": "x", "vps": "nope-1", "priority": "low"})
    assert r.status_code == 200 and 'id="err-vps_id"' in r.text and 'value="nope-1"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert api.client.get(f"/api/tickets/{tid}", headers=h).json()["vps_id"] == last["id"]
    # an empty field unlinks on purpose
    r = admin.post(f"/tickets/{tid}/edit", {"title": "x", "vps": "", "priority": "low"})
    assert r.status_code == 303
    assert api.client.get(f"/api/tickets/{tid}", headers=h).json()["vps_id"] is None

    options = admin.get("/vps/options?q=pick-14").json()
    assert {o["hostname"] for o in options} == {f"pick-{i}" for i in range(140, 150)}
    assert admin.get("/vps/options?q=").json() == []
    assert Browser(api.app).get("/vps/options?q=pick").status_code in (303, 401)
