"""agent keys bound to their VPS, the probe role, revocable sessions

- api_keys.vps_id: the one VPS an agent's key may speak for (NULL: not bound yet; the key's
  first registration claims its VPS). Deleting the VPS unbinds its keys (the agent then
  registers again and claims the VPS of its hostname, as a new key would).
- users.role may be `probe`: reads the probe targets and posts IP checks, nothing else.
- users.session_epoch: every access token carries it; bumping it revokes earlier tokens.

On SQLite the users table is rebuilt (a CHECK constraint cannot be altered): engine.upgrade
runs SQLite migrations with foreign keys off, so the rebuild does not cascade into api_keys.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('admin', 'operator', 'readonly', 'agent')"
ROLES_AFTER = "role IN ('admin', 'operator', 'readonly', 'agent', 'probe')"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )
        batch.drop_constraint("ck_users_role", type_="check")
        batch.create_check_constraint("ck_users_role", ROLES_AFTER)
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("vps_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key("fk_api_keys_vps", "vps", ["vps_id"], ["id"], ondelete="SET NULL")
        batch.create_index("idx_api_keys_vps", ["vps_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("idx_api_keys_vps")
        batch.drop_constraint("fk_api_keys_vps", type_="foreignkey")
        batch.drop_column("vps_id")
    op.execute("DELETE FROM users WHERE role = 'probe'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("ck_users_role", type_="check")
        batch.create_check_constraint("ck_users_role", ROLES_BEFORE)
        batch.drop_column("session_epoch")
