"""job_leases: run each periodic job once across every process

A row per job (sigma.db.leases) replaces the session-level advisory lock, which leaks or splits
behind PgBouncer in transaction mode.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("last_started", UtcDateTime(), nullable=True),
        sa.Column("last_finished", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
