"""attention_acks: acknowledged and snoozed attention items

Issue 18: an item of `sigma status` (services.attention) acknowledged, or snoozed until a
time, with a note and who did it; it holds while the item's fingerprint is the same.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attention_acks",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("state IN ('acknowledged', 'snoozed')", name="ck_attention_acks_state"),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("attention_acks")
