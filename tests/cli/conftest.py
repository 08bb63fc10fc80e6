"""Helpers for CLI tests: look at the database behind the `cli` fixture directly, so a test
can tell that a refused command wrote nothing."""

from __future__ import annotations

import pytest
from tests.service_fixtures import each  # noqa: F401 (fixture)


@pytest.fixture
def rows(db_url):
    """rows('vps') -> number of rows in that table right now."""
    from sqlalchemy import text

    from sigma.db.engine import make_engine

    def _count(table: str) -> int:
        eng = make_engine(db_url)
        try:
            with eng.connect() as conn:
                return conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
        finally:
            eng.dispose()

    return _count


@pytest.fixture
def snapshot(db_url):
    """snapshot() -> row counts of the inventory tables plus every row's updated_at, to show
    that a refused command wrote nothing (no new row, no changed row, no audit entry)."""
    from sqlalchemy import text

    from sigma.db.engine import make_engine

    def _snap() -> dict:
        eng = make_engine(db_url)
        try:
            with eng.connect() as conn:
                snap: dict = {
                    t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                    for t in ("providers", "vps", "audit_logs")
                }
                for t in ("providers", "vps"):
                    snap[f"{t}.updated_at"] = sorted(
                        str(r) for r in conn.execute(text(f'SELECT id, updated_at FROM "{t}"'))
                    )
                return snap
        finally:
            eng.dispose()

    return _snap
