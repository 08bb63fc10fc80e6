"""Helpers for CLI tests: look at the database behind the `cli` fixture directly, so a test
can tell that a refused command wrote nothing."""

from __future__ import annotations

import pytest


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
def snapshot(rows):
    """snapshot() -> row counts of the inventory tables, to compare before/after a failure."""

    def _snap() -> dict[str, int]:
        return {t: rows(t) for t in ("providers", "vps", "audit_logs")}

    return _snap
