"""check outcomes, the probe registry, two new verdicts

Issue 17:
- ip_checks: what a check saw (`outcome`, vocab.CHECK_OUTCOMES) beside the original's success
  flag, the TCP or TLS `port` it measured, an ICMP round's `loss_pct` and `jitter_ms`, and the
  `tls` check type. Rows of older probes keep a NULL outcome;
- probes: each probe source's carrier, region and control flag, when it was last heard from
  and its health from its reference targets;
- reachability: the verdicts port-blocked and tls-blocked.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.migrations.batch import rebuilt
from sigma.db.types import JsonDoc, UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OUTCOMES = "('ok', 'refused', 'timeout', 'reset', 'tls_failed', 'http_error', 'unreachable')"
OLD_VERDICTS = "('ok', 'degraded', 'blocked', 'down', 'unknown')"
VERDICTS = "('ok', 'degraded', 'blocked', 'port-blocked', 'tls-blocked', 'down', 'unknown')"


def upgrade() -> None:
    with rebuilt("ip_checks") as batch:
        batch.add_column(sa.Column("outcome", sa.Text(), nullable=True))
        batch.add_column(sa.Column("port", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("loss_pct", sa.Float(), nullable=True))
        batch.add_column(sa.Column("jitter_ms", sa.Integer(), nullable=True))
        batch.drop_constraint("ck_ip_checks_type", type_="check")
        batch.create_check_constraint(
            "ck_ip_checks_type", "check_type IN ('icmp', 'tcp', 'tls', 'http')"
        )
        batch.create_check_constraint(
            "ck_ip_checks_outcome", f"outcome IS NULL OR outcome IN {OUTCOMES}"
        )
    with rebuilt("reachability") as batch:
        batch.drop_constraint("ck_reachability_verdict", type_="check")
        batch.create_check_constraint("ck_reachability_verdict", f"verdict IN {VERDICTS}")
    op.create_table(
        "probes",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("carrier", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("control", sa.Boolean(), nullable=True),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
        sa.Column("reported_at", UtcDateTime(), nullable=True),
        sa.Column("health", sa.Text(), nullable=False),
        sa.Column("health_since", UtcDateTime(), nullable=True),
        sa.Column("health_reason", sa.Text(), nullable=False),
        sa.Column("last_round", JsonDoc, nullable=False),
        sa.CheckConstraint(
            "carrier IS NULL OR carrier IN ('ct', 'cu', 'cm', 'cernet', 'other')",
            name="ck_probes_carrier",
        ),
        sa.CheckConstraint(
            "health IN ('unknown', 'healthy', 'unhealthy')", name="ck_probes_health"
        ),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("probes")
    op.execute("UPDATE reachability SET verdict = 'degraded' WHERE verdict NOT IN " + OLD_VERDICTS)
    with rebuilt("reachability") as batch:
        batch.drop_constraint("ck_reachability_verdict", type_="check")
        batch.create_check_constraint("ck_reachability_verdict", f"verdict IN {OLD_VERDICTS}")
    op.execute("DELETE FROM ip_checks WHERE check_type = 'tls'")
    with rebuilt("ip_checks") as batch:
        batch.drop_constraint("ck_ip_checks_outcome", type_="check")
        batch.drop_constraint("ck_ip_checks_type", type_="check")
        batch.create_check_constraint("ck_ip_checks_type", "check_type IN ('icmp', 'tcp', 'http')")
        batch.drop_column("jitter_ms")
        batch.drop_column("loss_pct")
        batch.drop_column("port")
        batch.drop_column("outcome")
