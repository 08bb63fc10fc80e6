"""Helpers for service-layer tests: run a service call in its own unit of work (commit on
success, rollback on error, exactly as the local backend and the server do), count rows."""

from __future__ import annotations

from typing import Any

import pytest
from tests.service_fixtures import each  # noqa: F401 (fixture)


@pytest.fixture
def actor():
    from sigma.services.actor import local_actor

    return local_actor()


@pytest.fixture
def readonly():
    from sigma.services.actor import Actor

    return Actor(email="viewer@example.com", role="readonly")


@pytest.fixture
def run(sessions, actor):
    """run(service_fn, *args, actor=...) inside one transaction."""
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


@pytest.fixture
def audit_rows(sessions):
    """audit_rows(**filters) -> list of AuditLog rows, oldest first."""
    from sqlalchemy import select

    from sigma.db.models.audit import AuditLog

    def _rows(**where: Any):
        with sessions() as session:
            q = select(AuditLog).order_by(AuditLog.created_at)
            for key, value in where.items():
                q = q.where(getattr(AuditLog, key) == value)
            return list(session.scalars(q))

    return _rows


@pytest.fixture
def db_models():
    """The core tables (providers, VPS)."""
    from sigma.db.models import core

    return core
