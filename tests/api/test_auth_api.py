"""Identity over HTTP: login, me, refresh, change password, forced password change, TOTP
(RFC 6238 vectors, two-step login, replay), bad tokens, disabled users, API keys (revoked,
expired, read-only, legacy) and user management (contract 9.2, 9.4)."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import timedelta

import jwt
import pyotp
import pytest
from apidriver import ADMIN_EMAIL, ADMIN_PASSWORD, JWT_SECRET, LEGACY_KEY, audit_count

from sigma.services import auth

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 appendix B, SHA-1
RFC_VECTORS = [  # (unix time, 8-digit TOTP)
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def login(api, email, password):
    return api.client.post("/api/auth/login", json={"email": email, "password": password})


def new_user(api, role="operator", password="password-123", **extra):
    email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
    r = api.client.post(
        "/api/users",
        headers=api.headers(),
        json={"email": email, "password": password, "role": role, **extra},
    )
    assert r.status_code == 200, r.text
    return r.json()


class Clock:
    """A settable clock for the TOTP checks of sigma.services.auth, starting in the middle
    of a 30 s step so that a test never straddles a step boundary by accident."""

    def __init__(self):
        self.now = float(int(time.time()) // 30 * 30 + 15)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    real = auth.totp_step

    def totp_step(secret, code, *, at=None, window=1):
        return real(secret, code, at=c.now if at is None else at, window=window)

    monkeypatch.setattr(auth, "totp_step", totp_step)
    return c


# ---------------------------------------------------------------- contract 9.2


def test_login_me_refresh(api):
    r = login(api, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body["token"], str) and body["user"]["email"] == ADMIN_EMAIL
    assert body["user"]["role"] == "admin"
    assert "password_hash" not in body["user"] and "totp_secret" not in body["user"]
    assert login(api, ADMIN_EMAIL, "wrong-password").status_code == 401
    r = login(api, "nobody@example.com", "whatever-123")
    assert r.status_code == 401 and r.json()["error"] == "Unauthorized"

    me = api.client.get("/api/auth/me", headers=api.headers(body["token"]))
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["role"], me.json()["name"]) == (
        ADMIN_EMAIL,
        "admin",
        "Admin",
    )
    assert api.client.get("/api/auth/me").status_code == 401
    legacy = api.client.get("/api/auth/me", headers={"X-Api-Key": LEGACY_KEY})
    assert legacy.status_code == 200 and legacy.json()["email"] == "api-key"

    r = api.client.post("/api/auth/refresh", headers=api.headers(body["token"]))
    assert r.status_code == 200
    assert isinstance(r.json()["token"], str) and r.json()["user"]["email"] == ADMIN_EMAIL
    # refresh re-reads the user: a role change shows up in the new token
    op = new_user(api, "readonly")
    token = login(api, op["email"], "password-123").json()["token"]
    api.client.put(f"/api/users/{op['id']}", headers=api.headers(), json={"role": "operator"})
    fresh = api.client.post("/api/auth/refresh", headers=api.headers(token)).json()
    assert fresh["user"]["role"] == "operator"
    assert jwt.decode(fresh["token"], JWT_SECRET, algorithms=["HS256"])["role"] == "operator"


def test_login_is_audited_once_and_failures_not(api):
    before = audit_count(api)
    assert login(api, ADMIN_EMAIL, "wrong-password").status_code == 401
    assert audit_count(api) == before
    assert login(api, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    assert audit_count(api) == before + 1
    entry = api.client.get(
        "/api/audit-logs", params={"action": "login"}, headers=api.headers()
    ).json()["data"][0]
    assert (entry["action"], entry["resource"], entry["user_email"]) == (
        "login",
        "user",
        ADMIN_EMAIL,
    )


def test_change_password(api):
    user = new_user(api, "operator", password="testpass123")
    token = login(api, user["email"], "testpass123").json()["token"]
    h = api.headers(token)
    r = api.client.post(
        "/api/auth/change-password",
        headers=h,
        json={"current_password": "not-it-at-all", "new_password": "newpass456"},
    )
    assert r.status_code == 422 and r.json()["field"] == "current_password"
    r = api.client.post(
        "/api/auth/change-password",
        headers=h,
        json={"current_password": "testpass123", "new_password": "short"},
    )
    assert r.status_code == 422 and r.json()["field"] == "new_password"
    r = api.client.post(
        "/api/auth/change-password",
        headers=h,
        json={"current_password": "testpass123", "new_password": "newpass456"},
    )
    assert r.status_code == 200, r.text
    assert login(api, user["email"], "newpass456").status_code == 200
    assert login(api, user["email"], "testpass123").status_code == 401
    # not with an API key: there is no password behind it
    r = api.client.post(
        "/api/auth/change-password",
        headers={"X-Api-Key": LEGACY_KEY},
        json={"current_password": "x", "new_password": "newpass789"},
    )
    assert r.status_code == 422


def test_forced_password_change_blocks_the_api_until_changed(api):
    user = new_user(api, "operator", password="testpass123")
    r = api.client.put(
        f"/api/users/{user['id']}", headers=api.headers(), json={"force_password_change": True}
    )
    assert r.status_code == 200 and r.json()["force_password_change"] is True
    r = login(api, user["email"], "testpass123")
    assert r.status_code == 200 and r.json()["user"]["force_password_change"] is True
    h = api.headers(r.json()["token"])
    for method, path in (
        ("GET", "/api/vps"),
        ("GET", "/api/providers"),
        ("POST", "/api/providers"),
        ("POST", "/api/auth/api-keys"),
        ("GET", "/api/auth/api-keys"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/auth/totp/setup"),
    ):
        r = api.client.request(
            method, path, headers=h, json={"name": "p"} if method == "POST" else None
        )
        assert r.status_code == 403, (method, path, r.text)
        assert "sigma user passwd" in r.json()["error"]
    assert api.client.get("/api/auth/me", headers=h).status_code == 200
    r = api.client.post(
        "/api/auth/change-password",
        headers=h,
        json={"current_password": "testpass123", "new_password": "newpass456"},
    )
    assert r.status_code == 200 and r.json()["force_password_change"] is False
    # the change revoked the session it was made with; a new sign-in works everywhere
    assert api.client.get("/api/vps", headers=h).status_code == 401
    h = api.headers(login(api, user["email"], "newpass456").json()["token"])
    assert api.client.get("/api/vps", headers=h).status_code == 200


# ---------------------------------------------------------------- TOTP


def test_totp_rfc6238_vectors():
    assert RFC_SECRET == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    for t, expected in RFC_VECTORS:
        # the library computes RFC 6238 (SHA-1, 30 s) exactly...
        assert pyotp.TOTP(RFC_SECRET, digits=8).at(t) == expected
        # ...and our 6-digit codes are its truncation: HOTP takes the same 31-bit value
        # modulo 10^digits, so the 6-digit code is the vector's last six digits
        code = expected[-6:]
        assert pyotp.TOTP(RFC_SECRET).at(t) == code
        step = t // 30
        assert auth.totp_step(RFC_SECRET, code, at=t) == step
        assert auth.totp_step(RFC_SECRET, code, at=t + 30) == step  # one step of skew
        assert auth.totp_step(RFC_SECRET, code, at=t - 30) == step
        assert auth.totp_step(RFC_SECRET, code, at=t + 90) is None  # three steps: too late
        assert auth.totp_step(RFC_SECRET, expected, at=t) is None  # 8 digits: not our format
    assert auth.totp_step(RFC_SECRET, "", at=59) is None
    assert auth.totp_step(RFC_SECRET, "abcdef", at=59) is None
    assert auth.totp_step(RFC_SECRET, " 287 082 ", at=59) == 1  # spaces from apps are fine
    fresh = pyotp.random_base32(32)
    assert (
        auth.totp_step(fresh, "000000" if pyotp.TOTP(fresh).now() != "000000" else "111111") is None
    )


def test_totp_enrol_two_step_login_replay_and_disable(api, clock):
    user = new_user(api, "operator")
    token = login(api, user["email"], "password-123").json()["token"]
    h = api.headers(token)
    r = api.client.post("/api/auth/totp/verify", headers=h, json={"code": "123456"})
    assert r.status_code == 422  # nothing set up yet
    setup = api.client.post("/api/auth/totp/setup", headers=h)
    assert setup.status_code == 200
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_url"].startswith("otpauth://totp/Sigma:")
    assert "secret=" + secret in setup.json()["otpauth_url"]
    # the original web UI shows `data:image/png;base64,` + qr_code
    png = base64.b64decode(setup.json()["qr_code"], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    totp = pyotp.TOTP(secret)

    before = audit_count(api)
    assert (
        api.client.post(
            "/api/auth/totp/verify",
            headers=h,
            json={"code": "000000" if totp.at(clock.now) != "000000" else "111111"},
        ).status_code
        == 422
    )
    assert audit_count(api) == before
    r = api.client.post("/api/auth/totp/verify", headers=h, json={"code": totp.at(clock.now)})
    assert r.status_code == 200 and r.json() == {"totp_enabled": True}
    assert audit_count(api) == before + 1
    assert api.client.post("/api/auth/totp/setup", headers=h).status_code == 422  # already on

    # the password alone now gives a challenge, not a token, and no audit row
    before = audit_count(api)
    r = login(api, user["email"], "password-123")
    assert r.status_code == 200
    assert r.json()["requires_totp"] is True and "token" not in r.json()
    challenge = r.json()["totp_token"]
    assert audit_count(api) == before
    # the challenge is not an access token, and an access token is not a challenge
    assert api.client.get("/api/auth/me", headers=api.headers(challenge)).status_code == 401
    r = api.client.post(
        "/api/auth/login/totp", json={"totp_token": token, "code": totp.at(clock.now)}
    )
    assert r.status_code == 401
    # the code used for enrolment cannot be used again
    r = api.client.post(
        "/api/auth/login/totp", json={"totp_token": challenge, "code": totp.at(clock.now)}
    )
    assert r.status_code == 422 and r.json()["field"] == "code"
    clock.now += 30
    code = totp.at(clock.now)
    r = api.client.post("/api/auth/login/totp", json={"totp_token": challenge, "code": code})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["totp_enabled"] is True
    assert api.client.get("/api/auth/me", headers=api.headers(r.json()["token"])).status_code == 200
    assert audit_count(api) == before + 1
    entry = api.client.get(
        "/api/audit-logs",
        params={"action": "login", "resource_id": user["id"]},
        headers=api.headers(),
    ).json()["data"][0]
    assert entry["details"] == {"email": user["email"], "totp": True}
    # replay of the same code, even with a new challenge: refused
    challenge = login(api, user["email"], "password-123").json()["totp_token"]
    r = api.client.post("/api/auth/login/totp", json={"totp_token": challenge, "code": code})
    assert r.status_code == 422
    assert "already used" in r.json()["error"]
    # an expired challenge (they last 5 minutes)
    now = int(time.time())
    old = jwt.encode(
        {"sub": user["id"], "purpose": "totp_challenge", "iat": now - 400, "exp": now - 100},
        JWT_SECRET,
        algorithm="HS256",
    )
    r = api.client.post(
        "/api/auth/login/totp", json={"totp_token": old, "code": totp.at(clock.now + 30)}
    )
    assert r.status_code == 401

    # disable needs a fresh code
    assert (
        api.client.post("/api/auth/totp/disable", headers=h, json={"code": code}).status_code == 422
    )
    clock.now += 30
    before = audit_count(api)
    r = api.client.post("/api/auth/totp/disable", headers=h, json={"code": totp.at(clock.now)})
    assert r.status_code == 200 and r.json() == {"totp_enabled": False}
    assert audit_count(api) == before + 1
    r = login(api, user["email"], "password-123")
    assert "token" in r.json() and "requires_totp" not in r.json()


# ---------------------------------------------------------------- bad credentials


def _claims(api, token):
    return jwt.decode(token, JWT_SECRET, algorithms=["HS256"])


def test_bad_jwts_are_401(api):
    token = api.user("readonly")
    claims = _claims(api, token)
    now = int(time.time())
    header, payload, signature = token.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(jwt.api_jws.json.dumps({**claims, "role": "admin"}).encode())
        .rstrip(b"=")
        .decode()
    )
    bad = {
        "tampered": f"{header}.{forged_payload}.{signature}",
        "bad signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "expired": jwt.encode(
            {**claims, "iat": now - 7200, "exp": now - 3600}, JWT_SECRET, algorithm="HS256"
        ),
        "wrong secret": jwt.encode(claims, "another-secret-0123456789abcdef", algorithm="HS256"),
        "alg none": jwt.encode(claims, None, algorithm="none"),
        "no exp": jwt.encode(
            {k: v for k, v in claims.items() if k != "exp"}, JWT_SECRET, algorithm="HS256"
        ),
        "sub not a uuid": jwt.encode({**claims, "sub": "admin"}, JWT_SECRET, algorithm="HS256"),
        "unknown user": jwt.encode(
            {**claims, "sub": str(uuid.uuid4())}, JWT_SECRET, algorithm="HS256"
        ),
        "challenge as access": jwt.encode(
            {**claims, "purpose": "totp_challenge"}, JWT_SECRET, algorithm="HS256"
        ),
        "garbage": "not.a.jwt",
    }
    assert api.client.get("/api/vps", headers=api.headers(token)).status_code == 200
    for name, value in bad.items():
        r = api.client.get("/api/vps", headers=api.headers(value))
        assert r.status_code == 401, name
        assert r.json()["error"] == "Unauthorized" and r.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/api/vps", headers={"X-Api-Key": "sigma_not-a-key"}).status_code == 401
    assert api.client.get("/api/vps", headers={"X-Api-Key": LEGACY_KEY + "x"}).status_code == 401


def test_disabled_user_is_locked_out(api):
    user = new_user(api, "operator")
    token = login(api, user["email"], "password-123").json()["token"]
    key = api.client.post(
        "/api/auth/api-keys",
        params={"user": user["email"]},
        headers=api.headers(),
        json={"name": "k"},
    ).json()["key"]
    assert api.client.get("/api/vps", headers={"X-Api-Key": key}).status_code == 200
    r = api.client.put(f"/api/users/{user['id']}", headers=api.headers(), json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert api.client.get("/api/vps", headers=api.headers(token)).status_code == 401
    assert api.client.get("/api/vps", headers={"X-Api-Key": key}).status_code == 401
    assert login(api, user["email"], "password-123").status_code == 401
    api.client.put(f"/api/users/{user['id']}", headers=api.headers(), json={"active": True})
    # disabling revoked the sessions for good; the key (revoked one by one) works again
    assert api.client.get("/api/vps", headers=api.headers(token)).status_code == 401
    assert api.client.get("/api/vps", headers={"X-Api-Key": key}).status_code == 200
    assert login(api, user["email"], "password-123").status_code == 200


def test_api_keys_revoked_expired_read_only(api):
    from sqlalchemy import text

    from sigma.db.types import utcnow

    user = new_user(api, "operator")
    token = login(api, user["email"], "password-123").json()["token"]
    h = api.headers(token)
    created = api.client.post(
        "/api/auth/api-keys", headers=h, json={"name": "ci", "expires_in_days": 30}
    )
    assert created.status_code == 200
    key, key_id = created.json()["key"], created.json()["id"]
    listed = api.client.get("/api/auth/api-keys", headers=h).json()
    assert [k["id"] for k in listed] == [key_id] and "key" not in listed[0]
    assert listed[0]["last_used_at"] is None
    assert (
        api.client.post(
            "/api/providers", headers={"X-Api-Key": key}, json={"name": "via-key"}
        ).status_code
        == 200
    )
    assert api.client.get("/api/auth/api-keys", headers=h).json()[0]["last_used_at"] is not None
    # another operator cannot revoke it; its owner can
    other = api.headers(api.user("operator"))
    assert api.client.delete(f"/api/auth/api-keys/{key_id}", headers=other).status_code == 404
    r = api.client.delete(f"/api/auth/api-keys/{key_id}", headers=h)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert api.client.get("/api/vps", headers={"X-Api-Key": key}).status_code == 401
    assert api.client.get("/api/vps", headers={"Authorization": f"Bearer {key}"}).status_code == 401

    expiring = api.client.post(
        "/api/auth/api-keys", headers=h, json={"name": "short", "expires_in_days": 1}
    ).json()
    assert api.client.get("/api/vps", headers={"X-Api-Key": expiring["key"]}).status_code == 200
    with api.app.state.engine.begin() as conn:
        conn.execute(
            text("UPDATE api_keys SET expires_at = :t WHERE id = :id"),
            {"t": utcnow() - timedelta(seconds=1), "id": _db_id(api, expiring["id"])},
        )
    assert api.client.get("/api/vps", headers={"X-Api-Key": expiring["key"]}).status_code == 401

    ro = api.client.post(
        "/api/auth/api-keys", headers=h, json={"name": "ro", "read_only": True}
    ).json()["key"]
    ro_h = {"X-Api-Key": ro}
    assert api.client.get("/api/vps", headers=ro_h).status_code == 200
    before = audit_count(api)
    for method, path, body in (
        ("POST", "/api/providers", {"name": "ro-p"}),
        ("POST", "/api/vps", {"hostname": "ro-v"}),
        ("DELETE", "/api/providers/via-key", None),
    ):
        r = api.client.request(method, path, headers=ro_h, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert "readonly" in r.json()["error"]
    assert audit_count(api) == before


def _db_id(api, key_id):
    """The id as the database stores it (SQLite keeps UUIDs as 32 hex characters)."""
    return uuid.UUID(key_id).hex if api.app.state.engine.dialect.name == "sqlite" else key_id


def test_legacy_key_is_an_admin_that_goes_through_role_checks(api):
    h = {"X-Api-Key": LEGACY_KEY}
    r = api.client.post("/api/providers", headers=h, json={"name": "legacy"})
    assert r.status_code == 200
    entry = api.client.get("/api/audit-logs", params={"resource": "provider"}, headers=h).json()[
        "data"
    ][0]
    assert entry["user_email"] == "api-key" and entry["user_id"] is None
    assert api.client.get("/api/users", headers=h).status_code == 200
    # a key is not a user: own-account routes refuse it without pretending it is invalid
    assert api.client.post("/api/auth/totp/setup", headers=h).status_code == 422
    assert api.client.post("/api/auth/refresh", headers=h).status_code == 422


def test_legacy_key_unset_means_no_anonymous_admin(api, api_settings):
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app

    app = create_app(api_settings.model_copy(update={"api_key": None}))
    with TestClient(app) as client:
        assert client.get("/api/vps").status_code == 401
        assert client.get("/api/vps", headers={"X-Api-Key": LEGACY_KEY}).status_code == 401
        assert client.get("/api/vps", headers={"X-Api-Key": ""}).status_code == 401


# ---------------------------------------------------------------- users (contract 9.4)


def test_users_crud(api):
    h = api.headers()
    r = api.client.get("/api/users", headers=h)
    assert r.status_code == 200
    assert (r.json()["total"], r.json()["page"], len(r.json()["data"])) == (1, 1, 1)
    r = api.client.post(
        "/api/users",
        headers=h,
        json={
            "email": "ops@example.com",
            "password": "password-123",
            "name": "Ops",
            "role": "operator",
        },
    )
    assert r.status_code == 200
    ops = r.json()
    assert (ops["email"], ops["name"], ops["role"]) == ("ops@example.com", "Ops", "operator")
    assert isinstance(ops["id"], str) and ops["force_password_change"] is False
    for body, field in (
        ({"email": "a@example.com", "password": "1234567"}, "password"),
        ({"email": "a@example.com", "password": "password-123", "role": "root"}, "role"),
        ({"email": "not-an-email", "password": "password-123"}, "email"),
        ({"email": "a@example.com"}, "password"),
    ):
        r = api.client.post("/api/users", headers=h, json=body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    r = api.client.post(
        "/api/users", headers=h, json={"email": "OPS@example.com", "password": "password-123"}
    )
    assert r.status_code == 409 and r.json()["field"] == "email"
    r = api.client.get("/api/users", headers=h, params={"role": "operator"})
    assert [u["email"] for u in r.json()["data"]] == ["ops@example.com"]

    ro = new_user(api, "readonly")
    r = api.client.put(f"/api/users/{ro['id']}", headers=h, json={"role": "operator"})
    assert r.status_code == 200 and r.json()["role"] == "operator"
    assert (
        api.client.put(
            f"/api/users/{ro['id']}", headers=h, json={"email": "ops@example.com"}
        ).status_code
        == 409
    )
    assert (
        api.client.put(f"/api/users/{uuid.uuid4()}", headers=h, json={"name": "x"}).status_code
        == 404
    )

    r = api.client.delete(f"/api/users/{ops['id']}", headers=h)
    assert r.status_code == 200 and r.json() == {"deleted": True}
    assert api.client.get(f"/api/users/{ops['id']}", headers=h).status_code == 404
    assert api.client.delete(f"/api/users/{ops['id']}", headers=h).status_code == 404

    readonly = api.headers(api.user("readonly"))
    r = api.client.post(
        "/api/users", headers=readonly, json={"email": "x@example.com", "password": "password-123"}
    )
    assert r.status_code == 403


def test_admin_cannot_delete_demote_or_disable_themselves(api):
    h = api.headers()
    me = api.client.get("/api/auth/me", headers=h).json()
    before = audit_count(api)
    r = api.client.delete(f"/api/users/{me['id']}", headers=h)
    assert r.status_code == 422 and "yourself" in r.json()["error"]
    for body in ({"role": "operator"}, {"active": False}):
        r = api.client.put(f"/api/users/{me['id']}", headers=h, json=body)
        assert r.status_code == 422, body
        assert "yourself" in r.json()["error"]
    assert audit_count(api) == before
    assert api.client.get("/api/auth/me", headers=h).json()["role"] == "admin"
