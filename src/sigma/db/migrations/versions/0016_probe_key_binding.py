"""api_keys.probe_source: a probe's key bound to its probe source

Issue 17 with issue 13's trust model: a probe key speaks for one probe source, the one it was
provisioned for (`sigma probe provision NAME --source SRC`) or, failing that, the one of its
first round report. Its results for another source and reports as another probe are refused,
so one compromised probe node cannot pose as another or mark a healthy one unhealthy.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("probe_source", sa.Text(), nullable=True))


def downgrade() -> None:
    op.get_bind().exec_driver_sql("ALTER TABLE api_keys DROP COLUMN probe_source")
