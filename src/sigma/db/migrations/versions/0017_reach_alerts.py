"""reach_thresholds and reach_alerts: latency and loss alerts per carrier

Issue 17: a VPS may carry its own latency and loss thresholds (over the settings'); an alert
that fires is a row of reach_alerts until it recovers.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reach_thresholds",
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("loss_pct", sa.Float(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vps_id"),
    )
    op.create_table(
        "reach_alerts",
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=False),
        sa.Column("carrier", sa.Text(), nullable=False),
        sa.Column("metric", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vps_id", "ip", "carrier", "metric"),
    )


def downgrade() -> None:
    op.drop_table("reach_alerts")
    op.drop_table("reach_thresholds")
