"""notification_log: the kind of notice (expiry or quota) in its key

Traffic-quota notices (issue 16) are recorded in the same log as expiry notices: the key
becomes (kind, vps, threshold, day, channel), where the day is the expiry date of an expiry
notice and the first day of the traffic period of a quota notice. Existing rows are expiry
notices.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.migrations.batch import rebuilt

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with rebuilt("notification_log") as batch:
        batch.add_column(
            sa.Column("kind", sa.Text(), nullable=False, server_default="expiry"),
        )
        batch.drop_constraint("uq_notification_log_key", type_="unique")
        batch.create_unique_constraint(
            "uq_notification_log_key",
            ["kind", "vps_id", "threshold", "expire_date", "channel"],
        )


def downgrade() -> None:
    op.execute("DELETE FROM notification_log WHERE kind <> 'expiry'")
    with rebuilt("notification_log") as batch:
        batch.drop_constraint("uq_notification_log_key", type_="unique")
        batch.create_unique_constraint(
            "uq_notification_log_key", ["vps_id", "threshold", "expire_date", "channel"]
        )
        batch.drop_column("kind")
