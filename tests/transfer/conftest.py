"""Fixtures: cheap password hashing for the `api` fixture and service calls as the local
operator. The `cli` fixture of tests/conftest.py runs each command locally and remotely."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    # also declared in pyproject.toml; repeated so these tests run whatever its state
    config.addinivalue_line("markers", "local_only(reason): a CLI test with no meaning against a server")


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
def audit_rows(sessions):
    """audit_rows(**filters) -> AuditLog rows, oldest first."""
    from sqlalchemy import select

    from sigma.db.models import AuditLog

    def _rows(**where):
        with sessions() as session:
            q = select(AuditLog).order_by(AuditLog.created_at)
            for key, value in where.items():
                q = q.where(getattr(AuditLog, key) == value)
            return list(session.scalars(q))

    return _rows
