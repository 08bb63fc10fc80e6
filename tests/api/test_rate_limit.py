"""Rate limiting: a fixed window per client IP and credential in the real Redis on
127.0.0.1:6379, the stricter login limit, the in-process limiter without Redis, and serving on
(no 500) while a configured Redis is unreachable or stopped, logged once per outage.

Each test is a distinct client IP, so its keys (`sigma:rate:.../<api|login>:<ip>...`) are its own;
it deletes them at the end and touches no other key.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager

import pytest
from apidriver import LEGACY_KEY

from serverproc import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
H = {"X-Api-Key": LEGACY_KEY}


@pytest.fixture
def db_url(sqlite_url):
    """The limiter sits in front of the database: SQLite is enough."""
    return sqlite_url


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis must run on 127.0.0.1:6379 for these tests: {exc}")
    yield client
    client.close()


@pytest.fixture
def client_ip(redis_client):
    """A client address of this test only (TEST-NET-2 plus a random part); its keys are
    removed afterwards."""
    ip = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"
    yield ip
    _forget(redis_client, ip)


def _forget(redis_client, ip: str) -> None:
    keys = [
        *redis_client.scan_iter(match=f"sigma:rate:*/api:{ip}:*"),
        *redis_client.scan_iter(match=f"sigma:rate:*/login:{ip}/*"),
    ]
    if keys:
        redis_client.delete(*keys)


def _api_key(redis_client, ip: str) -> bytes:
    """The one API-limit key of this client (its address and credential)."""
    keys = list(redis_client.scan_iter(match=f"sigma:rate:*/api:{ip}:*"))
    assert len(keys) == 1, keys
    return keys[0]


@contextmanager
def serve(api_settings, ip, **overrides):
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app

    app = create_app(api_settings.model_copy(update=overrides))
    with TestClient(app, client=(ip, 40000)) as client:
        yield client


def test_api_limit_in_redis(api_settings, redis_client, client_ip):
    with serve(
        api_settings, client_ip, redis_url=REDIS_URL, rate_limit_requests=3, rate_limit_window=60
    ) as c:
        for remaining in (2, 1, 0):
            r = c.get("/api/auth/me", headers=H)
            assert r.status_code == 200
            assert (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) == (
                "3",
                str(remaining),
            )
        r = c.get("/api/auth/me", headers=H)
        assert r.status_code == 429
        assert r.json() == {"error": "Too Many Requests", "code": "rate_limited"}
        assert r.headers["content-type"] == "application/json"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert (r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) == ("3", "0")
        assert r.headers["x-content-type-options"] == "nosniff"
        # the counter lives in Redis, under this client's key, and expires by itself
        key = _api_key(redis_client, client_ip)
        assert (
            int(redis_client.get(key)) == 4 and 0 < redis_client.ttl(key) <= 60
        )  # a counter per window
        # not limited: health, the OpenAPI document; X-Forwarded-For is not trusted by default
        assert c.get("/healthz").status_code == 200
        assert c.get("/api-docs/openapi.json").status_code == 200
        assert (
            c.get("/api/auth/me", headers={**H, "X-Forwarded-For": "203.0.113.9"}).status_code
            == 429
        )
    # a second server (another replica) shares the same counter
    with serve(
        api_settings, client_ip, redis_url=REDIS_URL, rate_limit_requests=3, rate_limit_window=60
    ) as c:
        assert c.get("/api/auth/me", headers=H).status_code == 429


def test_window_frees_up(api_settings, client_ip):
    with serve(
        api_settings, client_ip, redis_url=REDIS_URL, rate_limit_requests=2, rate_limit_window=1
    ) as c:
        assert [c.get("/api/auth/me", headers=H).status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(1.1)
        assert c.get("/api/auth/me", headers=H).status_code == 200


def test_login_limit_is_stricter(api_settings, client_ip):
    from apidriver import ADMIN_EMAIL, ADMIN_PASSWORD

    with serve(
        api_settings, client_ip, redis_url=REDIS_URL, rate_limit_requests=50, rate_limit_login=2
    ) as c:
        bad = {"email": ADMIN_EMAIL, "password": "guess-123"}
        assert c.post("/api/auth/login", json=bad).status_code == 401
        r = c.post("/api/auth/login", json=bad)
        assert r.status_code == 401 and r.headers["x-ratelimit-limit"] == "2"
        r = c.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert r.status_code == 429 and "retry-after" in r.headers
        r = c.post("/api/auth/login/totp", json={"totp_token": "x", "code": "123456"})
        assert r.status_code == 429
        # the web UI's sign-in form shares the budget and says so in a page of its own
        r = c.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert r.status_code == 429 and r.headers["content-type"].startswith("text/html")
        assert "Too many sign-in attempts" in r.text
        # the rest of the API has its own, larger budget
        r = c.get("/api/auth/me", headers=H)
        assert r.status_code == 200 and r.headers["x-ratelimit-limit"] == "50"


def test_forwarded_for_behind_a_trusted_proxy(api_settings, redis_client):
    """Behind a trusted proxy the client is the rightmost X-Forwarded-For hop that is not a
    proxy: a client rotating the leftmost entries stays in its one bucket."""
    proxy = "10.9.8.7"
    clients = [f"203.0.113.{uuid.uuid4().int % 250 + 1}" for _ in range(2)]
    try:
        with serve(
            api_settings,
            proxy,
            redis_url=REDIS_URL,
            rate_limit_requests=1,
            trusted_proxies=["10.0.0.0/8"],
        ) as c:
            for ip in clients:
                h = {**H, "X-Forwarded-For": f"{ip}, 10.0.0.1"}
                assert c.get("/api/auth/me", headers=h).status_code == 200
                assert c.get("/api/auth/me", headers=h).status_code == 429
            forged = {**H, "X-Forwarded-For": f"{uuid.uuid4()}, {clients[0]}, 10.0.0.1"}
            assert c.get("/api/auth/me", headers=forged).status_code == 429
    finally:
        for ip in clients:
            _forget(redis_client, ip)


def test_forwarded_for_ignored_from_an_untrusted_peer(api_settings, client_ip, redis_client):
    with serve(
        api_settings,
        client_ip,
        redis_url=REDIS_URL,
        rate_limit_requests=1,
        trusted_proxies=["10.0.0.0/8"],
    ) as c:
        assert (
            c.get("/api/auth/me", headers={**H, "X-Forwarded-For": "203.0.113.1"}).status_code
            == 200
        )
        assert (
            c.get("/api/auth/me", headers={**H, "X-Forwarded-For": "203.0.113.2"}).status_code
            == 429
        )
        assert _api_key(redis_client, client_ip)


def test_users_behind_one_address_do_not_share_a_bucket(api, api_settings, client_ip):
    """Two users behind one NAT (or an undeclared proxy) each have their own budget: one of
    them hitting the limit does not lock the other out."""
    other = {"Authorization": f"Bearer {api.user('readonly')}"}
    with serve(api_settings, client_ip, redis_url=REDIS_URL, rate_limit_requests=1) as c:
        assert c.get("/api/auth/me", headers=H).status_code == 200
        assert c.get("/api/auth/me", headers=H).status_code == 429
        assert c.get("/api/auth/me", headers=other).status_code == 200


def test_in_process_limiter_without_redis(api_settings, client_ip):
    with serve(
        api_settings, client_ip, redis_url=None, rate_limit_requests=2, rate_limit_login=1
    ) as c:
        r = c.get("/api/auth/me", headers=H)
        assert r.status_code == 200 and r.headers["x-ratelimit-remaining"] == "1"
        assert c.get("/api/auth/me", headers=H).status_code == 200
        r = c.get("/api/auth/me", headers=H)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert (
            c.post("/api/auth/login", json={"email": "a@b.c", "password": "x"}).status_code == 401
        )
        assert (
            c.post("/api/auth/login", json={"email": "a@b.c", "password": "x"}).status_code == 429
        )


def test_in_process_window_ends_and_memory_is_bounded(monkeypatch):
    import asyncio

    from limits import RateLimitItemPerSecond

    from sigma.server import ratelimit

    monkeypatch.setattr(ratelimit, "MEMORY_KEYS", 100)
    limiter = ratelimit.Limiter(None)
    item = RateLimitItemPerSecond(2, 1)

    async def hits(key: str, n: int) -> list[tuple[bool, int, int]]:
        return [await limiter.hit(item, key) for _ in range(n)]

    assert asyncio.run(hits("a", 3)) == [(True, 1, 0), (True, 0, 0), (False, 0, 1)]
    time.sleep(1.05)  # the window is over: a fresh budget
    assert asyncio.run(hits("a", 1)) == [(True, 1, 0)]
    # a client rotating keys (addresses, credentials) fills the cache, never beyond its bound
    for i in range(1000):
        asyncio.run(hits(f"flood-{i}", 1))
    assert len(limiter.memory) == 100


def test_heartbeats_count_against_the_limit(api_settings, client_ip):
    """Heartbeats are limited like any route."""
    with serve(api_settings, client_ip, redis_url=None, rate_limit_requests=2) as c:
        beat = {"hostname": "no-such-host", "system_info": {}}
        r = c.post("/api/agent/heartbeat", headers=H, json=beat)
        assert r.status_code == 404 and r.headers["x-ratelimit-remaining"] == "1"
        assert r.headers["x-frame-options"] == "DENY"
        assert c.post("/api/agent/heartbeat", headers=H, json=beat).status_code == 404
        r = c.post("/api/agent/heartbeat", headers=H, json=beat)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert r.headers["x-ratelimit-limit"] == "2" and int(r.headers["retry-after"]) >= 1


def test_unreachable_redis_serves_on_and_logs_once(api_settings, client_ip, caplog):
    """A configured Redis that does not answer: the API serves on, this process's window
    standing in for the shared one."""
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    caplog.set_level(logging.WARNING, logger="sigma.server")
    with serve(api_settings, client_ip, redis_url=url, rate_limit_requests=2) as c:
        statuses = [c.get("/api/auth/me", headers=H).status_code for _ in range(4)]
        assert statuses == [200, 200, 429, 429]
        assert c.get("/api/auth/me", headers=H).headers["x-ratelimit-limit"] == "2"
    warnings = [rec for rec in caplog.records if "Redis unreachable" in rec.getMessage()]
    assert len(warnings) == 1
    assert url not in caplog.text  # no URL (it could carry a password) in the log


@pytest.fixture
def own_redis(tmp_path):
    """A private redis-server on a free loopback port, to stop and restart at will."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = free_port()

    def start():
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return proc
            time.sleep(0.05)
        proc.kill()
        pytest.fail("redis-server did not start")

    procs = [start()]

    def stop():
        procs[-1].terminate()
        procs[-1].wait(10)

    def restart():
        procs.append(start())

    yield f"redis://127.0.0.1:{port}/0", stop, restart
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(10)


def test_redis_stopped_then_back(api_settings, client_ip, own_redis, caplog, monkeypatch):
    from sigma.server import ratelimit

    monkeypatch.setattr(ratelimit, "REDIS_RETRY", 0.2)  # how soon an absent Redis is tried again
    url, stop, restart = own_redis
    caplog.set_level(logging.WARNING, logger="sigma.server")
    with serve(api_settings, client_ip, redis_url=url, rate_limit_requests=2) as c:
        assert [c.get("/api/auth/me", headers=H).status_code for _ in range(3)] == [200, 200, 429]
        stop()
        # this process's window stands in: it starts afresh, and limits all the same
        assert [c.get("/api/auth/me", headers=H).status_code for _ in range(3)] == [200, 200, 429]
        restart()  # an empty Redis: the window starts afresh
        time.sleep(0.3)
        assert [c.get("/api/auth/me", headers=H).status_code for _ in range(3)] == [200, 200, 429]
    messages = [rec.getMessage() for rec in caplog.records]
    assert sum("Redis unreachable" in m for m in messages) == 1
    assert sum("Redis reachable again" in m for m in messages) == 1
