"""ip_check_rollups: IP checks summed per 5-minute and hourly bucket

Issue 17: latency, loss and outcomes per IP x source x check kept for weeks (5-minute
buckets) and a year (hourly) while the raw checks are kept for days. Filled as results
arrive; existing raw checks are summed into it here, so that history starts complete.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COUNTS = (
    "n_ok",
    "n_refused",
    "n_timeout",
    "n_reset",
    "n_tls_failed",
    "n_http_error",
    "n_unreachable",
    "n_unclassified",
)


def upgrade() -> None:
    op.create_table(
        "ip_check_rollups",
        sa.Column("ip", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("bucket", UtcDateTime(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("check_key", sa.Text(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("latency_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_n", sa.Integer(), nullable=False),
        sa.Column("latency_min", sa.Integer(), nullable=True),
        sa.Column("latency_max", sa.Integer(), nullable=True),
        sa.Column("loss_sum", sa.Float(), nullable=False),
        sa.Column("loss_n", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ip", "resolution", "bucket", "source", "check_key"),
    )
    op.create_index("idx_ip_check_rollups_age", "ip_check_rollups", ["resolution", "bucket"])
    from sigma.db.rollups import backfill

    backfill(op.get_bind(), resolutions=(300, 3600), fleet=False)


def downgrade() -> None:
    op.drop_index("idx_ip_check_rollups_age", table_name="ip_check_rollups")
    op.drop_table("ip_check_rollups")
