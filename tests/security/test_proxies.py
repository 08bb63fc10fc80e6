"""Behind a reverse proxy (issue 13, attack 12).

The module's server trusts one proxy, 127.0.0.2 (a loopback address that is not the
127.0.0.1 every other client comes from). Replayed: the client is the rightmost
X-Forwarded-For hop that is not a trusted proxy, so the audit log's client_ip and the rate
limiter's bucket cannot be chosen by the client; a peer that is not a trusted proxy has its
forwarded headers ignored; the web UI works behind the proxy with the forwarded host and
scheme (Origin check, Secure cookie)."""

from __future__ import annotations

import hashlib

import httpx
import redis
from liveserver import ADMIN, REDIS_URL, Browser, launched

PROXY = "127.0.0.2"
SERVER_ENV = {"SIGMA_TRUSTED_PROXIES": PROXY}
PUBLIC = {"X-Forwarded-Host": "sigma.example.com", "X-Forwarded-Proto": "https"}


def _via_proxy(live, **kw) -> httpx.Client:
    return live.client(transport=httpx.HTTPTransport(local_address=PROXY), **kw)


def _client_ips(live, action: str, **match) -> list[str]:
    return [
        e["client_ip"]
        for e in live.audit(action)
        if all(e["details"].get(k) == v for k, v in match.items())
    ]


def test_audit_records_the_rightmost_untrusted_hop(live):
    u = live.user("operator")
    with _via_proxy(live) as proxy:
        r = proxy.post(
            "/api/auth/login",
            json={"email": u.email, "password": u.password},
            headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.8"},
        )
        assert r.status_code == 200, r.text
        token = r.json()["token"]
    assert _client_ips(live, "login", email=u.email) == ["203.0.113.8"]

    with _via_proxy(live, token=token) as proxy:
        for name, chain in (
            ("forged-left", "192.0.2.66, 203.0.113.9"),
            ("two-proxies", "192.0.2.66, 203.0.113.10, 127.0.0.2"),
            ("garbage-left", "<script>, 203.0.113.11"),
        ):
            r = proxy.post(
                "/api/providers", json={"name": name}, headers={"X-Forwarded-For": chain}
            )
            assert r.status_code == 200, r.text
    assert _client_ips(live, "create", name="forged-left") == ["203.0.113.9"]
    assert _client_ips(live, "create", name="two-proxies") == ["203.0.113.10"]
    assert _client_ips(live, "create", name="garbage-left") == ["203.0.113.11"]

    # from a peer that is not a trusted proxy, the header is just text
    with live.client(token=token, headers={"X-Forwarded-For": "203.0.113.12"}) as direct:
        assert direct.post("/api/providers", json={"name": "direct"}).status_code == 200
    assert _client_ips(live, "create", name="direct") == ["127.0.0.1"]


def test_rotating_the_leftmost_hop_does_not_escape_the_rate_limit(request, backend, tmp_path):
    """A server of its own with a limit of 20 requests a minute, behind 127.0.0.1 (the
    limit is in Redis on PostgreSQL, in the process on SQLite)."""
    client = "203.0.113.7"
    env = {"SIGMA_TRUSTED_PROXIES": "127.0.0.1", "SIGMA_RATE_LIMIT_REQUESTS": "20"}
    with launched(request, backend, tmp_path, **env) as srv:
        r = httpx.post(
            srv.api + "/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}, timeout=20
        )
        bearer = f"Bearer {r.json()['token']}"
        with httpx.Client(base_url=srv.base, timeout=20, headers={"Authorization": bearer}) as c:
            statuses = [
                c.get(
                    "/api/auth/me", headers={"X-Forwarded-For": f"192.0.2.{i}, {client}"}
                ).status_code
                for i in range(1, 26)
            ]
            assert statuses == [200] * 20 + [429] * 5, statuses
            # another client behind the same proxy, and the proxy itself, have buckets of their own
            assert (
                c.get(
                    "/api/auth/me", headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.77"}
                ).status_code
                == 200
            )
            key = c.post("/api/auth/api-keys", json={"name": "second credential"})
            assert key.status_code == 200, key.text
        # and so has another credential of the same client
        r = httpx.get(
            srv.api + "/auth/me",
            headers={"X-Forwarded-For": client, "X-Api-Key": key.json()["key"]},
        )
        assert r.status_code == 200, r.text
    if backend == "postgres":  # the buckets, in Redis: by the rightmost hop, never the rotated one
        tag = hashlib.blake2b(bearer.encode(), digest_size=8).hexdigest()
        store = redis.Redis.from_url(REDIS_URL)
        try:
            keys = {k.decode() for k in store.scan_iter(match=f"sigma:rate:*/api:*:{tag}/*")}
            clients = {k.split("/api:", 1)[1].rsplit(f":{tag}/", 1)[0] for k in keys}
            assert clients == {client, "203.0.113.77", "127.0.0.1"}, keys
            store.delete(*keys)
        finally:
            store.close()


def test_web_sign_in_behind_the_proxy_uses_the_forwarded_host_and_scheme(live):
    u = live.user("operator")
    origin = {"Origin": "https://sigma.example.com"}
    web = Browser(
        live.base, local_address=PROXY, headers={**PUBLIC, "X-Forwarded-For": "203.0.113.20"}
    )
    try:
        r = web.login(u.email, u.password, headers=origin)
        assert r.status_code == 303 and r.headers["location"] == "/", r.text[:300]
        session = web.set_cookies["sigma_session"]
        assert session["secure"] and session["httponly"] and session["samesite"].lower() == "lax"
        assert web.set_cookies["sigma_csrf"]["secure"]
        assert web.get("/vps").status_code == 200
        assert web.get("/providers/new").status_code == 200
        for bad in ("http://sigma.example.com", "https://evil.example", "null", live.base):
            r = web.post("/providers/new", {"name": f"from {bad}"}, headers={"Origin": bad})
            assert r.status_code == 403, (bad, r.text[:300])
        r = web.post("/providers/new", {"name": "behind-proxy"}, headers=origin)
        assert r.status_code == 303, r.text[:300]
    finally:
        web.close()
    assert _client_ips(live, "login", email=u.email) == ["203.0.113.20"]
    names = [
        p["name"] for p in live.admin.get("/api/providers", params={"per_page": 100}).json()["data"]
    ]
    assert "behind-proxy" in names and not [n for n in names if n.startswith("from ")]

    # the same headers from a peer that is not a trusted proxy: no Secure, no forwarded host
    direct = Browser(live.base, headers={**PUBLIC, "X-Forwarded-For": "203.0.113.21"})
    try:
        direct.get("/login")
        assert not direct.set_cookies["sigma_csrf"]["secure"]
        r = direct.post("/login", {"email": u.email, "password": u.password}, headers=origin)
        assert r.status_code == 403, r.text[:300]
        r = direct.post(
            "/login", {"email": u.email, "password": u.password}, headers={"Origin": live.base}
        )
        assert r.status_code == 303, r.text[:300]
        assert not direct.set_cookies["sigma_session"]["secure"]
    finally:
        direct.close()
    assert sorted(_client_ips(live, "login", email=u.email)) == ["127.0.0.1", "203.0.113.20"]
