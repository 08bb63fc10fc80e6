"""ip checks, agents and reachability

ip_checks as the contract (the IP kept as its canonical text, which compares like INET for
single addresses on both databases), the per-(VPS, IP) reachability verdicts with their
per-source streaks, and vps_events (agent offline/online, verdict changes), recorded once.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import JsonDoc, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ip_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=False),
        sa.Column("check_type", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("checked_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("check_type IN ('icmp', 'tcp', 'http')", name="ck_ip_checks_type"),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_ip_checks_vps", "ip_checks", ["vps_id"])
    op.create_index("idx_ip_checks_ip", "ip_checks", ["ip", "checked_at"])
    op.create_index("idx_ip_checks_time", "ip_checks", [sa.text("checked_at DESC")])

    op.create_table(
        "reachability",
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.Column("state", JsonDoc, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "verdict IN ('ok', 'degraded', 'blocked', 'down', 'unknown')",
            name="ck_reachability_verdict",
        ),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vps_id", "ip"),
    )

    op.create_table(
        "vps_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("details", JsonDoc, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("notified_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_vps_events_vps", "vps_events", ["vps_id", "kind", "created_at"])
    op.create_index("idx_vps_events_time", "vps_events", ["created_at"])


def downgrade() -> None:
    op.drop_index("idx_vps_events_time", table_name="vps_events")
    op.drop_index("idx_vps_events_vps", table_name="vps_events")
    op.drop_table("vps_events")
    op.drop_table("reachability")
    op.drop_index("idx_ip_checks_time", table_name="ip_checks")
    op.drop_index("idx_ip_checks_ip", table_name="ip_checks")
    op.drop_index("idx_ip_checks_vps", table_name="ip_checks")
    op.drop_table("ip_checks")
