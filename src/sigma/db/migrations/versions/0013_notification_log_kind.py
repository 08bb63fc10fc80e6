"""notification_log: the kind of notice (expiry or quota) in its key

Traffic-quota notices (issue 16) are recorded in the same log as expiry notices: the key
becomes (kind, vps, threshold, day, channel), where the day is the expiry date of an expiry
notice and the first day of the traffic period of a quota notice. Existing rows are expiry
notices.

Revision ID: 0013
Revises: 0012
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


@contextmanager
def _rebuilt() -> Iterator[Any]:
    """The table rebuilt (SQLite cannot alter a constraint in place). Reflecting it also
    reflects vps, its foreign key's target, whose expression index SQLAlchemy cannot reflect
    and warns about: vps itself is not rebuilt, so the warning says nothing here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("notification_log") as batch:
            yield batch


def upgrade() -> None:
    with _rebuilt() as batch:
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
    with _rebuilt() as batch:
        batch.drop_constraint("uq_notification_log_key", type_="unique")
        batch.create_unique_constraint(
            "uq_notification_log_key", ["vps_id", "threshold", "expire_date", "channel"]
        )
        batch.drop_column("kind")
