"""Sign-in and sessions (issue 13, attacks 5 to 8 and the web and role checks of 13).

Replayed on a real server: a TOTP code raced by 30 parallel logins wins once; an admin cannot
change its own password or turn off its own MFA without the proofs anyone needs; every way of
ending a session (password change, an admin's reset, disabling the user, logout-all) makes
the earlier tokens fail, a reset the user's API keys too, and refreshing stops
session_max_hours after the sign-in; a user who must change the password can do nothing else,
not even through an API key; a web form's CSRF token is its own session's; a role that may
not call a route gets 403 before its body is looked at."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pyotp
import pytest
from liveserver import ADMIN, PASSWORD, Browser


def _me(live, **credentials) -> int:
    with live.client(**credentials) as c:
        return c.get("/api/auth/me").status_code


def _enable_totp(live, token: str) -> pyotp.TOTP:
    with live.client(token=token) as c:
        r = c.post("/api/auth/totp/setup")
        assert r.status_code == 200, r.text
        totp = pyotp.TOTP(r.json()["secret"])
        r = c.post("/api/auth/totp/verify", json={"code": totp.now()})
        assert r.status_code == 200 and r.json()["totp_enabled"] is True, r.text
    return totp


def _challenge(live, email: str, password: str) -> str:
    r = httpx.post(
        live.base + "/api/auth/login", json={"email": email, "password": password}, timeout=20
    )
    assert r.status_code == 200 and r.json().get("requires_totp") is True, r.text
    return r.json()["totp_token"]


# ------------------------------------------------------------------ attacks 5 and 6


def test_totp_code_raced_by_parallel_logins_is_accepted_once(live):
    admin2 = live.user("admin")
    totp = _enable_totp(live, live.login(admin2.email, admin2.password))
    challenge = _challenge(live, admin2.email, admin2.password)
    code = totp.at(time.time() + 30)  # the next step: the current one was spent enabling TOTP

    async def race():
        async with httpx.AsyncClient(
            base_url=live.base, timeout=30, limits=httpx.Limits(max_connections=30)
        ) as c:
            return await asyncio.gather(
                *(
                    c.post("/api/auth/login/totp", json={"totp_token": challenge, "code": code})
                    for _ in range(30)
                )
            )

    answers = asyncio.run(race())
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(200) == 1, statuses
    assert all(400 <= s < 500 for s in statuses if s != 200), [
        r.text for r in answers if r.status_code >= 500
    ]
    token = next(r.json()["token"] for r in answers if r.status_code == 200)
    assert _me(live, token=token) == 200
    logins = [
        e
        for e in live.audit("login")
        if e["details"].get("email") == admin2.email and e["details"].get("totp")
    ]
    assert len(logins) == 1, logins
    # and the same code later, with a new challenge: still spent
    r = httpx.post(
        live.base + "/api/auth/login/totp",
        timeout=20,
        json={"totp_token": _challenge(live, admin2.email, admin2.password), "code": code},
    )
    assert r.status_code == 422, r.text

    # attack 6: the signed-in admin (a stolen session) cannot lock the owner out
    with live.client(token=token) as c:
        r = c.put(f"/api/users/{admin2.id}", json={"totp_enabled": False})
        assert r.status_code == 403, r.text
        r = c.put(f"/api/users/{admin2.id}", json={"password": "stolen-session-pw"})
        assert r.status_code == 403, r.text
        assert c.get("/api/auth/me").json()["totp_enabled"] is True
    _challenge(live, admin2.email, admin2.password)  # the old password, and MFA still asked
    assert not [e for e in live.audit("update", resource="user") if e["resource_id"] == admin2.id]


def test_admin_cannot_reset_its_own_password_through_the_users_route(live):
    me = live.admin.get("/api/auth/me").json()
    r = live.admin.put(f"/api/users/{me['id']}", json={"password": "another-password-9"})
    assert r.status_code == 403, r.text
    r = live.admin.put(
        f"/api/users/{me['email']}", json={"password": "another-password-9", "name": "x"}
    )
    assert r.status_code == 403, r.text
    assert live.admin.get("/api/auth/me").json()["name"] == me["name"]
    assert _me(live, token=live.login(*ADMIN)) == 200  # the old password still works
    r = httpx.post(
        live.base + "/api/auth/login",
        json={"email": ADMIN[0], "password": "another-password-9"},
        timeout=20,
    )
    assert r.status_code == 401


# ------------------------------------------------------------------ attack 7


def test_password_change_revokes_earlier_tokens(live):
    u = live.user("operator")
    old = live.login(u.email, u.password)
    other = live.login(u.email, u.password)  # another device
    with live.client(token=old) as c:
        r = c.post(
            "/api/auth/change-password",
            json={"current_password": u.password, "new_password": "new-pass-456"},
        )
        assert r.status_code == 200, r.text
    assert _me(live, token=old) == 401 and _me(live, token=other) == 401
    assert _me(live, token=live.login(u.email, "new-pass-456")) == 200


def test_admin_reset_revokes_tokens_and_api_keys(live):
    u = live.user("operator")
    token, key = live.login(u.email, u.password), live.key_of(u)
    assert _me(live, token=token) == 200 and _me(live, key=key) == 200
    r = live.admin.put(f"/api/users/{u.id}", json={"password": "reset-by-admin-1"})
    assert r.status_code == 200, r.text
    assert _me(live, token=token) == 401
    assert _me(live, key=key) == 401
    with live.client(key=key) as c:
        assert c.get("/api/vps").status_code == 401
    reset = [e for e in live.audit("update", resource="user") if e["resource_id"] == u.id]
    assert reset and reset[0]["details"]["api_keys_revoked"] == 1, reset


def test_disabling_a_user_revokes_its_tokens_and_keys(live):
    u = live.user("operator")
    token, key = live.login(u.email, u.password), live.key_of(u)
    r = live.admin.put(f"/api/users/{u.id}", json={"active": False})
    assert r.status_code == 200, r.text
    assert _me(live, token=token) == 401 and _me(live, key=key) == 401
    r = httpx.post(
        live.base + "/api/auth/login", json={"email": u.email, "password": u.password}, timeout=20
    )
    assert r.status_code == 401
    # enabling again does not bring the old token back
    assert live.admin.put(f"/api/users/{u.id}", json={"active": True}).status_code == 200
    assert _me(live, token=token) == 401


def test_logout_all_revokes_every_token_of_the_user(live):
    u = live.user("readonly")
    first, second = live.login(u.email, u.password), live.login(u.email, u.password)
    with live.client(token=first) as c:
        assert c.post("/api/auth/logout-all").status_code == 200
    assert _me(live, token=first) == 401 and _me(live, token=second) == 401
    assert _me(live, token=live.login(u.email, u.password)) == 200


def test_refresh_stops_session_max_hours_after_the_sign_in(live):
    u = live.user("readonly")
    claims = jwt.decode(live.login(u.email, u.password), live.jwt_secret, algorithms=["HS256"])
    assert claims["purpose"] == "access" and "auth_time" in claims and "ep" in claims
    now = int(time.time())

    def forged(auth_time: int) -> str:
        return jwt.encode(
            {**claims, "auth_time": auth_time, "iat": now, "exp": now + 3600},
            live.jwt_secret,
            algorithm="HS256",
        )

    week = 7 * 24 * 3600  # the default session_max_hours
    with live.client(token=forged(now - week + 600)) as c:
        r = c.post("/api/auth/refresh")
        assert r.status_code == 200, r.text
        refreshed = jwt.decode(r.json()["token"], live.jwt_secret, algorithms=["HS256"])
        assert refreshed["auth_time"] == now - week + 600  # the sign-in time is kept
    with live.client(token=forged(now - week - 60)) as c:
        r = c.post("/api/auth/refresh")
        assert r.status_code == 401, r.text
    # a token signed with another secret is nobody's
    other = jwt.encode({**claims, "iat": now, "exp": now + 3600}, "x" * 32, algorithm="HS256")
    assert _me(live, token=other) == 401


# ------------------------------------------------------------------ attack 8


def test_forced_password_change_cannot_be_bypassed(live):
    u = live.user("admin", force_password_change=True)
    token = live.login(u.email, u.password)
    with live.client(token=token) as c:
        assert c.get("/api/auth/me").status_code == 200
        r = c.post("/api/auth/api-keys", json={"name": "escape hatch"})
        assert r.status_code == 403, r.text
        for path in ("/api/vps", "/api/users", "/api/auth/api-keys"):
            assert c.get(path).status_code == 403, path
    key = live.key_of(u)  # an admin made a key for that user
    with live.client(key=key) as c:
        for path in ("/api/users", "/api/vps", "/api/audit-logs"):
            assert c.get(path).status_code == 403, path
        assert (
            c.post(
                "/api/users", json={"email": "x@security.test", "password": PASSWORD}
            ).status_code
            == 403
        )
    assert not [
        k
        for k in live.admin.get("/api/auth/api-keys", params={"all_users": True}).json()
        if k["name"] == "escape hatch"
    ]

    # once the password is changed, the same key works
    with live.client(token=token) as c:
        r = c.post(
            "/api/auth/change-password",
            json={"current_password": u.password, "new_password": "changed-pw-77"},
        )
        assert r.status_code == 200, r.text
    with live.client(key=key) as c:
        assert c.get("/api/users").status_code == 200

    # an admin setting the flag on a user stops that user's session the same way
    v = live.user("operator")
    token = live.login(v.email, v.password)
    assert (
        live.admin.put(f"/api/users/{v.id}", json={"force_password_change": True}).status_code
        == 200
    )
    with live.client(token=token) as c:
        assert c.get("/api/vps").status_code == 403
        assert c.get("/api/auth/me").status_code == 200


# ------------------------------------------------------------------ roles before bodies (13)


@pytest.mark.parametrize("role", ["readonly", "operator", "agent", "probe"])
def test_a_refused_role_gets_403_whatever_the_body(live, role):
    with live.client(key=live.key(role)) as c:
        for body in (
            {"email": "not an email", "role": "god"},
            {},
            None,
            [1],
            {"email": 5, "extra": "\x00"},
        ):
            r = c.post("/api/users", json=body)
            assert r.status_code == 403, (body, r.text)
        r = c.put("/api/users/nobody", json={"role": "god"})
        assert r.status_code == 403, r.text


def test_malformed_json_from_a_refused_caller_is_still_refused(live):
    """FastAPI decodes a JSON body before the route's dependencies run: a body it cannot parse
    is authenticated first all the same (401 / 403, not a 422 about the body)."""
    malformed = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    with live.client() as anonymous:
        assert anonymous.request("POST", "/api/users", **malformed).status_code == 401
    with live.client(key=live.key("readonly")) as c:
        assert c.request("POST", "/api/users", **malformed).status_code == 403


# ------------------------------------------------------------------ the web UI (13)


def test_csrf_token_is_bound_to_its_session_and_origin_null_is_refused(live):
    a, b = Browser(live.base), Browser(live.base)
    try:
        assert a.login(*ADMIN).status_code == 303
        other = live.user("admin")
        assert b.login(other.email, other.password).status_code == 303
        a.get("/providers/new")
        b.get("/providers/new")
        stolen = a.token
        assert stolen and b.token and stolen != b.token

        # A's token in B's browser, then with A's CSRF cookie but B's session
        r = b.post("/providers/new", {"name": "via-b", "csrf_token": stolen}, csrf=False)
        assert r.status_code == 403, r.text[:300]
        b.cookies["sigma_csrf"] = a.cookies["sigma_csrf"]
        r = b.post("/providers/new", {"name": "via-b-cookie", "csrf_token": stolen}, csrf=False)
        assert r.status_code == 403, r.text[:300]
        # a token from before signing in is not valid after
        c = Browser(live.base)
        c.get("/login")
        anonymous = c.token
        assert c.login(*ADMIN).status_code == 303
        r = c.post(
            "/providers/new", {"name": "pre-login-token", "csrf_token": anonymous}, csrf=False
        )
        assert r.status_code == 403, r.text[:300]
        c.close()

        # A's own token, from a sandboxed frame or another site
        for origin in ("null", "http://evil.example", live.base.replace("127.0.0.1", "localhost")):
            r = a.post("/providers/new", {"name": f"from-{origin}"}, headers={"Origin": origin})
            assert r.status_code == 403, (origin, r.text[:300])
        r = a.post("/providers/new", {"name": "legit"}, headers={"Origin": live.base})
        assert r.status_code == 303, r.text[:300]
    finally:
        a.close()
        b.close()
    names = [
        p["name"] for p in live.admin.get("/api/providers", params={"per_page": 100}).json()["data"]
    ]
    assert names == ["legit"]


def test_forwarded_headers_are_ignored_without_trusted_proxies(live):
    """No SIGMA_TRUSTED_PROXIES (the default): X-Forwarded-* from anyone change nothing."""
    u = live.user("readonly")
    spoof = {
        "X-Forwarded-For": "203.0.113.50",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }
    live.login(u.email, u.password, headers=spoof)
    rows = [e for e in live.audit("login") if e["details"].get("email") == u.email]
    assert [e["client_ip"] for e in rows] == ["127.0.0.1"], rows
    web = Browser(live.base, headers=spoof)
    try:
        web.get("/login")
        assert not web.set_cookies["sigma_csrf"]["secure"]
        r = web.post(
            "/login",
            {"email": u.email, "password": u.password},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403, r.text[:300]
    finally:
        web.close()
