"""Helpers of the security suite: a real `sigma serve` on a database of its own (SQLite, or
PostgreSQL with Redis rate limiting), the Live handle that acts on it as each kind of caller
(the admin signed in once, new users, API keys of each role, agent keys bound to a VPS, the
audit log), and a Browser for the web UI."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie
from pathlib import Path

import httpx
import pytest

from serverproc import ADMIN, Server

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "password-123"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def fresh_pg_database(pg_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database beside the session's one (`sigma serve` migrates it),
    dropped afterwards: a module's server shares nothing with the other tests."""
    import psycopg

    base = pg_url.rsplit("/", 1)[0]
    admin = (base + "/postgres").replace("+psycopg", "")
    name = f"sigma_sec_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def launched(
    request, backend: str, workdir: Path, log_level: str = "warning", **env: str
) -> Iterator[Server]:
    """A started server on a new database of `backend` (postgres: with Redis rate limiting)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        srv = Server(
            f"sqlite:///{workdir / 'sigma.db'}", workdir, extra_env=env, log_level=log_level
        )
        try:
            yield srv.start()
        finally:
            srv.stop()
        return
    with fresh_pg_database(request.getfixturevalue("pg_database")) as url:
        srv = Server(
            url, workdir, extra_env={"SIGMA_REDIS_URL": REDIS_URL, **env}, log_level=log_level
        )
        try:
            yield srv.start()
        finally:
            srv.stop()


@dataclass
class User:
    id: str
    email: str
    password: str
    role: str


@dataclass
class Live:
    """A running server and an admin signed in to it."""

    server: Server
    backend: str
    admin: httpx.Client = field(init=False)

    def __post_init__(self):
        self.admin = self.client(token=self.login(*ADMIN))

    @property
    def base(self) -> str:
        return self.server.base

    @property
    def db_url(self) -> str:
        return self.server.db_url

    @property
    def jwt_secret(self) -> str:
        return self.server.env()["SIGMA_JWT_SECRET"]

    def client(self, token: str | None = None, key: str | None = None, **kw) -> httpx.Client:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["X-Api-Key"] = key
        return httpx.Client(base_url=self.base, timeout=20, headers=headers, **kw)

    def login(self, email: str, password: str, **kw) -> str:
        r = httpx.post(
            self.base + "/api/auth/login",
            json={"email": email, "password": password},
            timeout=20,
            **kw,
        )
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def user(self, role: str = "readonly", **extra) -> User:
        email = f"{role}-{uuid.uuid4().hex[:8]}@security.test"
        r = self.admin.post(
            "/api/users", json={"email": email, "password": PASSWORD, "role": role, **extra}
        )
        assert r.status_code == 200, r.text
        return User(r.json()["id"], email, PASSWORD, role)

    def key_of(self, user: User) -> str:
        r = self.admin.post(
            "/api/auth/api-keys", params={"user": user.email}, json={"name": f"{user.role}-key"}
        )
        assert r.status_code == 200, r.text
        return r.json()["key"]

    def key(self, role: str) -> str:
        """An API key of a new user with `role`."""
        return self.key_of(self.user(role))

    def agent_key(self, vps: str) -> str:
        """A key bound to one VPS, as `sigma agent provision` makes (no new user)."""
        r = self.admin.post(f"/api/vps/{vps}/agent-key")
        assert r.status_code == 200, r.text
        return r.json()["key"]

    def vps(self, ref: str) -> dict:
        r = self.admin.get(f"/api/vps/{ref}")
        assert r.status_code == 200, r.text
        return r.json()

    def count(self) -> int:
        r = self.admin.get("/api/vps", params={"per_page": 1})
        assert r.status_code == 200, r.text
        return r.json()["total"]

    def audit(self, action: str, **params) -> list[dict]:
        r = self.admin.get("/api/audit-logs", params={"action": action, "per_page": 100, **params})
        assert r.status_code == 200, r.text
        return r.json()["data"]


def raw_json(client: httpx.Client, method: str, path: str, text: str, **kw) -> httpx.Response:
    """Send `text` as the JSON body as it is: JSON escapes such as \\ud800 reach the server's
    parser unchanged (httpx's json= would refuse to encode a lone surrogate)."""
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return client.request(method, path, content=text.encode(), headers=headers, **kw)


def field_of(r: httpx.Response) -> str:
    return (r.json().get("field") or "").split(".")[0]


class Browser:
    """A browser against the real server: signs in through /login and posts forms with the
    page's CSRF token. Cookies are kept by hand, Secure ones too (the server is reached over
    plain http, as a TLS-terminating proxy does), and `headers` go with every request (what a
    reverse proxy adds)."""

    def __init__(self, base: str, *, local_address: str | None = None, headers: dict | None = None):
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        self.http = httpx.Client(
            base_url=base,
            transport=transport,
            timeout=20,
            follow_redirects=False,
            headers=headers or {},
        )
        self.cookies: dict[str, str] = {}
        self.set_cookies: dict[str, Morsel] = {}  # the last Set-Cookie of each name, with its flags
        self.token = ""

    def request(self, method: str, path: str, **kw) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        r = self.http.request(method, path, headers=headers, **kw)
        self.http.cookies.clear()
        for raw in r.headers.get_list("set-cookie"):
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                self.set_cookies[name] = morsel
                if morsel.value in ("", '""') or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
        if m:
            self.token = m.group(1)
        return r

    def get(self, path: str, **kw) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw) -> httpx.Response:
        body = {"csrf_token": self.token, **(data or {})} if csrf else (data or {})
        return self.request("POST", path, data=body, **kw)

    def login(self, email: str, password: str, **kw) -> httpx.Response:
        self.get("/login")
        r = self.post("/login", {"email": email, "password": password}, **kw)
        if r.status_code == 303:
            self.get(r.headers["location"])
        return r

    def close(self) -> None:
        self.http.close()
