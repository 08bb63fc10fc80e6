"""Fixtures shared by the service-level suites (costs, exports, notify, transfer): cheap
password hashing for the `api` fixture, and service calls as the local operator. Each suite's
conftest imports them; the `cli` fixture of tests/conftest.py runs commands locally and remotely."""

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


@pytest.fixture
def each():
    """each(cases, check): run check(*case) for every case of a table in one test (one database
    and, for the CLI, one server set-up instead of one per case) and report every failing case."""

    def _each(cases, check) -> None:
        failures = []
        for case in cases:
            try:
                check(*case) if isinstance(case, tuple) else check(case)
            except (Exception, pytest.fail.Exception) as exc:  # noqa: BLE001 - reported below
                failures.append(f"{case!r}: {type(exc).__name__}: {exc}")
        assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(
            failures
        )

    return _each
