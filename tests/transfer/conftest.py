"""Fixtures: cheap password hashing for the `api` fixture and service calls as the local
operator. The `cli` fixture of tests/conftest.py runs each command locally and remotely."""

from __future__ import annotations

import pytest
from tests.service_fixtures import fast_password_hashing, run  # noqa: F401 (fixtures)


@pytest.fixture
def audit_rows(sessions):
    """audit_rows(**filters) -> AuditLog rows, oldest first."""
    from sqlalchemy import select

    from sigma.db.models.audit import AuditLog

    def _rows(**where):
        with sessions() as session:
            q = select(AuditLog).order_by(AuditLog.created_at)
            for key, value in where.items():
                q = q.where(getattr(AuditLog, key) == value)
            return list(session.scalars(q))

    return _rows
