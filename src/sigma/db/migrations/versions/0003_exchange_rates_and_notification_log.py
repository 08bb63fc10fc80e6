"""exchange rates and notification log

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import ExactDecimal, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", ExactDecimal(12, 6), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("rate > 0", name="ck_exchange_rates_rate"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("from_currency", "to_currency", name="uq_exchange_rates_pair"),
    )
    op.create_table(
        "notification_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("expire_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("claimed_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "vps_id", "threshold", "expire_date", "channel", name="uq_notification_log_key"
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_log")
    op.drop_table("exchange_rates")
