"""Fixtures of the ticket tests: cheap password hashing, and the CLI run remotely against the
in-process server of the `api` fixture (same commands, RemoteBackend over HTTP)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(params=["local", "remote"])
def ticket_cli(request, cli, monkeypatch):
    """`sigma ...` against the local database, or against the server as an admin API key."""
    if request.param == "local":
        return cli
    api = request.getfixturevalue("api")
    from fastapi.testclient import TestClient

    from sigma.client import remote

    key = api.api_key("admin")
    monkeypatch.setattr(
        remote, "CLIENT_FACTORY",
        lambda base, headers: TestClient(api.app, base_url=base, headers=headers),
    )
    monkeypatch.setenv("SIGMA_SERVER", "http://sigma.test")
    monkeypatch.setenv("SIGMA_API_KEY", key)
    return cli
