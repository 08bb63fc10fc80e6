"""vps billing cycle, auto-renewal and traffic quota; vps_renewals; vps_traffic

- vps.billing_cycle (monthly, quarterly, semi-annual, yearly or "Nd"; default monthly),
  vps.auto_renew (default false), vps.traffic_quota_gb (GB of 10^9 bytes, null: no quota),
  vps.traffic_direction (out, in, sum, max; default sum), vps.traffic_reset_day (1-28,
  default 1). Existing VPS take the defaults; the columns are added in place on both
  databases (SQLite takes a column's CHECK in ADD COLUMN; PostgreSQL adds the constraints).
- vps_renewals: each renewal, manual or automatic, with its amount (services.billing).
- vps_traffic: each VPS's traffic per billing period and the latest raw counters
  (services.traffic, and the heartbeat batch statement of services.agents).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import ExactDecimal, UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (name, type, NOT NULL default, CHECK name, CHECK text)
COLUMNS = (
    ("billing_cycle", "TEXT", "'monthly'", None, None),
    ("auto_renew", "BOOLEAN", "false", None, None),
    (
        "traffic_quota_gb",
        "BIGINT",
        None,
        "ck_vps_traffic_quota",
        "traffic_quota_gb >= 0",
    ),
    (
        "traffic_direction",
        "TEXT",
        "'sum'",
        "ck_vps_traffic_direction",
        "traffic_direction IN ('out', 'in', 'sum', 'max')",
    ),
    (
        "traffic_reset_day",
        "SMALLINT",
        "1",
        "ck_vps_traffic_reset_day",
        "traffic_reset_day BETWEEN 1 AND 28",
    ),
)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    for name, sql_type, default, check_name, check in COLUMNS:
        if sqlite and default == "false":
            default = "0"
        spec = f"{name} {sql_type}"
        if default is not None:
            spec += f" NOT NULL DEFAULT {default}"
        if sqlite:
            if check_name:
                spec += f" CONSTRAINT {check_name} CHECK ({check})"
            bind.exec_driver_sql(f"ALTER TABLE vps ADD COLUMN {spec}")
        else:
            bind.exec_driver_sql(f"ALTER TABLE vps ADD COLUMN {spec}")
            if check_name and check:
                op.create_check_constraint(check_name, "vps", check)

    op.create_table(
        "vps_renewals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("cycles", sa.Integer(), nullable=False),
        sa.Column("billing_cycle", sa.Text(), nullable=False),
        sa.Column("expire_before", sa.Date(), nullable=False),
        sa.Column("expire_after", sa.Date(), nullable=False),
        sa.Column("amount", ExactDecimal(14, 2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_vps_renewals_vps", "vps_renewals", ["vps_id", "paid_on"])
    op.create_index("idx_vps_renewals_paid", "vps_renewals", ["paid_on"])

    op.create_table(
        "vps_traffic",
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("last_rx", sa.BigInteger(), nullable=False),
        sa.Column("last_tx", sa.BigInteger(), nullable=False),
        sa.Column("alerted", sa.SmallInteger(), nullable=False),
        sa.Column("alerted_before", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["vps_id"], ["vps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vps_id", "period_start"),
    )


def downgrade() -> None:
    op.drop_table("vps_traffic")
    op.drop_index("idx_vps_renewals_paid", table_name="vps_renewals")
    op.drop_index("idx_vps_renewals_vps", table_name="vps_renewals")
    op.drop_table("vps_renewals")
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        for _name, _type, _default, check_name, _check in COLUMNS:
            if check_name:
                op.drop_constraint(check_name, "vps", type_="check")
    for name, *_ in reversed(COLUMNS):
        # SQLite drops a column with its own CHECK (3.35+); PostgreSQL after the constraint
        bind.exec_driver_sql(f"ALTER TABLE vps DROP COLUMN {name}")
