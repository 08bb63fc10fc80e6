"""tickets and comments

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("status", sa.Text(), nullable=False, server_default="open"),
        sa.Column("priority", sa.Text(), nullable=False, server_default="medium"),
        sa.Column("vps_id", sa.Uuid(), nullable=True),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("assigned_to", sa.Uuid(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], name="fk_tickets_vps", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name="fk_tickets_provider", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_tickets_status", "tickets", ["status"])
    op.create_index("idx_tickets_assigned", "tickets", ["assigned_to"])
    op.create_index("idx_tickets_vps", "tickets", ["vps_id"])
    op.create_index("idx_tickets_created", "tickets", ["created_at"])
    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ticket_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("user_email", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_ticket_comments_ticket", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_ticket_comments_ticket", "ticket_comments", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("idx_ticket_comments_ticket", table_name="ticket_comments")
    op.drop_table("ticket_comments")
    op.drop_index("idx_tickets_created", table_name="tickets")
    op.drop_index("idx_tickets_vps", table_name="tickets")
    op.drop_index("idx_tickets_assigned", table_name="tickets")
    op.drop_index("idx_tickets_status", table_name="tickets")
    op.drop_table("tickets")
