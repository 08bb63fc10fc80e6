"""Fixtures: service calls as the local operator, cheap password hashing for `api`, and the
loopback webhook receiver of the notification tests."""

import pytest
from tests.notify.conftest import FakeServer
from tests.service_fixtures import fast_password_hashing, run  # noqa: F401 (fixtures)


@pytest.fixture
def webhook():
    server = FakeServer()
    yield server
    server.stop()
