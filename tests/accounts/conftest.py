"""Fixtures of the accounts suites (issue 19): service calls in a unit of work as the local
admin and row counts (tests/services/conftest.py's), and one loopback
stand-in of the Hetzner and Cloudflare APIs per module (tests/accounts/fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.accounts.fakes import CloudflareFake, HetznerFake
from tests.cloud.fakeapi import FakeApi
from tests.service_fixtures import each  # noqa: F401 (fixture)
from tests.services.conftest import actor, count, run  # noqa: F401 (fixtures)


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
