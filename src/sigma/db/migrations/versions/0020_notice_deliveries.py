"""notice_deliveries: the Apprise notices of attention items, each delivered at most once

Issue 18: one row per (channel, item, fingerprint, event open/recovered/digest), claimed before
the message that carries it is sent, confirmed after, retried with backoff when the send fails.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("channel_label", sa.Text(), nullable=False),
        sa.Column("item_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "channel", "item_key", "fingerprint", "event", name="uq_notice_deliveries_key"
        ),
    )
    op.create_index("ix_notice_deliveries_claimed_at", "notice_deliveries", ["claimed_at"])
    op.create_index(
        "ix_notice_deliveries_channel_event",
        "notice_deliveries",
        ["channel", "event", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_notice_deliveries_channel_event", table_name="notice_deliveries")
    op.drop_index("ix_notice_deliveries_claimed_at", table_name="notice_deliveries")
    op.drop_table("notice_deliveries")
