"""vps: index over (status, country, tags) for the filtered list's count

The filtered list (status + country + tag) counts its matches: without this index the count
reads every row of the status and country to test its tags (~20,000 rows for the retired
VPS of one country in a 100k-row history). With it:

- PostgreSQL: one GIN index over `status`, `country` (btree_gin operator classes) and
  `tags jsonb_path_ops`, so `status = AND country = AND tags @>` is one index scan and the
  heap is read only for the matching rows. btree_gin is a trusted extension since
  PostgreSQL 13 (a database owner may create it); where it cannot be created (older server,
  no CREATE privilege, contrib not installed) the index is skipped with a warning: the
  queries stay correct, only slower.
- SQLite: a plain index `(status, country, tags)`: the count reads the index only (the tags'
  JSON text is in it), not the table.

Revision ID: 0006
Revises: 0005
"""

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("sigma.db.migrations")

NAME = "idx_vps_status_country_tags"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.create_index(NAME, "vps", ["status", "country", "tags"], unique=False)
        return
    try:
        with bind.begin_nested():  # a SAVEPOINT: a refusal must not abort the migration
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS btree_gin")
    except DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        log.warning(
            "index %s not created: the btree_gin extension is not available (%s); filtered "
            "VPS lists still work, their counts are slower. Create it as a superuser "
            "(CREATE EXTENSION btree_gin) and create the index by hand: CREATE INDEX %s ON vps "
            "USING gin (status, country, tags jsonb_path_ops)",
            NAME,
            reason,
            NAME,
        )
        return
    op.create_index(
        NAME,
        "vps",
        ["status", "country", "tags"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"tags": "jsonb_path_ops"},
    )


def downgrade() -> None:
    # the extension stays: it may be used by other objects, and dropping it needs ownership
    op.drop_index(NAME, table_name="vps", if_exists=True)
