from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.cloud.fakeapi import FakeApi


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    """A provider's API on 127.0.0.1, empty until the test adds routes."""
    api = FakeApi().start()
    yield api
    api.stop()
