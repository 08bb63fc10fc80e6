"""A table rebuilt by Alembic's batch mode (SQLite cannot alter a constraint in place)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op


@contextmanager
def rebuilt(table: str) -> Iterator[Any]:
    """`op.batch_alter_table(table)`, quiet about the expression index of vps. Reflecting a
    table that references vps reflects vps too, and SQLAlchemy cannot reflect
    idx_vps_hostname_lower (lower(hostname)) and warns: vps itself is not rebuilt here (a
    rebuild of vps would lose that index, so it must never go through this)."""
    if table == "vps":
        raise ValueError("vps must not be rebuilt: its expression index would be lost")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table(table) as batch:
            yield batch
