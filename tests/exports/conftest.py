"""Fixtures: cheap password hashing for the `api` fixture, service calls as the local
operator, and the CLI local or remote (in-process server)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def run(sessions):
    """run(service_fn, *args) in one unit of work, as the local operator."""
    from sigma.db.engine import unit_of_work
    from sigma.services.actor import local_actor

    def _run(fn, *args, actor=None):
        with unit_of_work(sessions) as session:
            return fn(session, actor or local_actor(), *args)

    return _run


@pytest.fixture(params=["local", "remote"])
def any_cli(request, cli, monkeypatch):
    """`sigma ...` on the local database, or remotely against the in-process server."""
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
