"""reachability: index over (vps_id, verdict)

The counts per verdict of the running fleet (the reachability page's filter and the
dashboard's attention strip) and the reachability page, which lists problems first one
verdict at a time (services.ip_checks.status_page), find each VPS's verdicts in this index
instead of reading the rows, whose per-source state is the bulk of the table (~1.8 KB a row).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("idx_reachability_verdict", "reachability", ["vps_id", "verdict"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_reachability_verdict", table_name="reachability")
