"""Fixtures of the accounts suites (issue 19): service calls in a unit of work as the local
admin (tests/services/conftest.py's pattern), row counts, audit rows, and one loopback
stand-in of the Hetzner and Cloudflare APIs per module (tests/accounts/fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.accounts.fakes import CloudflareFake, HetznerFake
from tests.cloud.fakeapi import FakeApi
from tests.service_fixtures import each  # noqa: F401 (fixture)


@pytest.fixture
def actor():
    from sigma.services.actor import local_actor

    return local_actor()


@pytest.fixture
def run(sessions, actor):
    """run(service_fn, *args, as_actor=...) inside one transaction."""
    from sigma.db.engine import unit_of_work

    def _run(fn, *args: Any, as_actor=None):
        with unit_of_work(sessions) as session:
            return fn(session, as_actor or actor, *args)

    return _run


@pytest.fixture
def count(sessions):
    """count(Model, **equal_filters) -> number of rows committed."""
    from sqlalchemy import func, select

    def _count(model, **where: Any) -> int:
        with sessions() as session:
            q = select(func.count()).select_from(model)
            for key, value in where.items():
                q = q.where(getattr(model, key) == value)
            return session.scalar(q) or 0

    return _count


@pytest.fixture(scope="module")
def _module_server() -> Iterator[FakeApi]:
    """One loopback server per module (stopping one costs half a second)."""
    server = FakeApi().start()
    yield server
    server.stop()


@pytest.fixture
def fake_api(_module_server: FakeApi) -> FakeApi:
    """The module's server with no routes and no requests."""
    _module_server.routes.clear()
    _module_server.requests.clear()
    return _module_server


@pytest.fixture
def hetzner(fake_api: FakeApi) -> HetznerFake:
    return HetznerFake(fake_api)


@pytest.fixture
def cloudflare(fake_api: FakeApi) -> CloudflareFake:
    return CloudflareFake(fake_api)
