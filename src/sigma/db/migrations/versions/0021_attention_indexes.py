"""Indexes of the attention list at 100,000 VPS

Issue 18: the worst items of one verdict, the oldest first (reachability verdict, since);
the addresses held now grouped by address (ip_assignments until, ip, vps_id): the duplicates'
shared addresses found by the database instead of by reading every VPS.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "idx_reachability_verdict_since", "reachability", ["verdict", "since"], unique=False
    )
    op.create_index(
        "idx_ip_assignments_held", "ip_assignments", ["until", "ip", "vps_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("idx_ip_assignments_held", table_name="ip_assignments")
    op.drop_index("idx_reachability_verdict_since", table_name="reachability")
