"""vps: index over lower(hostname)

Agents find their VPS by host name without case (RFC 1123 names are case-insensitive): an
agent key must not claim `HK-0` beside someone else's `hk-0`.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("idx_vps_hostname_lower", "vps", [sa.text("lower(hostname)")], unique=False)


def downgrade() -> None:
    op.drop_index("idx_vps_hostname_lower", table_name="vps")
