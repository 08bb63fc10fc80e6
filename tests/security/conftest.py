"""Security regressions (issue 13) replayed against a real `sigma serve` subprocess: one
server per module, on SQLite and on PostgreSQL with Redis rate limiting, each on a database of
its own. A module adds settings with SERVER_ENV = {"SIGMA_...": "..."}."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from liveserver import BACKENDS, Live, launched


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def live(request, backend, tmp_path_factory) -> Iterator[Live]:
    """The module's server (settings from the module's SERVER_ENV) and its signed-in admin."""
    env = getattr(request.module, "SERVER_ENV", {})
    with launched(request, backend, tmp_path_factory.mktemp(f"security-{backend}"), **env) as srv:
        live = Live(srv, backend)
        yield live
        live.admin.close()
