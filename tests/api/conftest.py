"""Fixtures of the HTTP API tests: cheap password hashing, a legacy API key configured on
the server, and one principal per kind of caller (JWT users and API keys of every role)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from apidriver import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    AGENT_HOST,
    JWT_SECRET,
    LEGACY_KEY,
    PRINCIPAL_PASSWORD,
)


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """argon2id with the smallest parameters: the tests exercise the logic, not the cost
    (the production parameters take ~0.35 s per hash on this machine)."""
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def api_settings(db_url):
    from sigma.settings import Settings

    return Settings(
        database_url=db_url,
        jwt_secret=JWT_SECRET,
        api_key=LEGACY_KEY,
        rate_limit_requests=100_000,
        rate_limit_login=100_000,
        jobs_enabled=False,
    )


@dataclass
class Principal:
    name: str
    role: str  # the effective role, or "anonymous"
    headers: dict[str, str] = field(default_factory=dict)
    via_key: bool = False
    email: str = ""  # a JWT principal's sign-in, to sign in again after revoking its sessions
    password: str = ""


@pytest.fixture
def principals(api) -> list[Principal]:
    """Every kind of caller: nobody, a JWT user of each role, an API key of each role, a
    read-only key of an operator (capped to readonly) and the legacy settings.api_key."""
    out = [Principal("anonymous", "anonymous")]
    out.append(
        Principal("jwt-admin", "admin", api.headers(), email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    )
    for role in ("operator", "readonly", "agent", "probe"):
        email = f"jwt-{role}-{uuid.uuid4().hex[:6]}@example.com"
        out.append(
            Principal(
                f"jwt-{role}",
                role,
                api.headers(api.user(role, email=email)),
                email=email,
                password=PRINCIPAL_PASSWORD,
            )
        )
    for role in ("admin", "operator", "readonly", "agent", "probe"):
        out.append(Principal(f"key-{role}", role, {"X-Api-Key": api.api_key(role)}, True))
    # the agent's key speaks for its own VPS: bound by its first registration
    agent_key = next(p for p in out if p.name == "key-agent").headers
    r = api.client.post("/api/agent/register", headers=agent_key, json={"hostname": AGENT_HOST})
    assert r.status_code == 200, r.text
    out.append(
        Principal(
            "key-operator-read-only",
            "readonly",
            {"Authorization": f"Bearer {api.api_key('operator', read_only=True)}"},
            True,
        )
    )
    out.append(Principal("legacy-key", "admin", {"X-Api-Key": LEGACY_KEY}, True))
    return out
