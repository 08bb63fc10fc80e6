"""vps_history, ip_assignments and the trash (vps.deleted_at)

- vps_history: the timeline of each VPS (created, field changes, IPs, status, retired,
  deleted, restored, merged, agent online/offline, reachability, tickets), written by
  services.history in the transaction of each change. No foreign key to vps: the history
  outlives a purge, and each row keeps the hostname of its time. The events of vps_events
  (agent online/offline, reachability) are copied in, under their own ids.
- ip_assignments: which VPS held which address under which label, from when until when,
  keyed by a numerically ordered text (ip_key) so that an address, an octet prefix or a
  CIDR is one index range on both databases. Filled from the IPs the VPS in service hold
  now (since their creation: nothing older is known).
- vps.deleted_at: a deleted VPS goes to the trash (hidden everywhere) until restored or
  purged.

Revision ID: 0010
Revises: 0009
"""

import uuid

import sqlalchemy as sa
from alembic import op

from sigma.db.types import JsonDoc, UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("vps", sa.Column("deleted_at", UtcDateTime(), nullable=True))
    op.create_index("idx_vps_deleted_at", "vps", ["deleted_at"])

    op.create_table(
        "vps_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("details", JsonDoc, nullable=False),
        sa.CheckConstraint(
            "source IN ('user', 'agent', 'probe', 'import', 'sync', 'system')",
            name="ck_vps_history_source",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_vps_history_vps", "vps_history", ["vps_id", "at", "id"])
    op.create_index("idx_vps_history_vps_kind", "vps_history", ["vps_id", "kind", "at"])

    op.create_table(
        "ip_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=False),
        sa.Column("ip_key", sa.Text(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.Column("until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_ip_assignments_key", "ip_assignments", ["ip_key", "since"])
    op.create_index("idx_ip_assignments_vps", "ip_assignments", ["vps_id", "until"])

    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO vps_history (id, vps_id, at, kind, source, actor, hostname, details) "
            "SELECT e.id, e.vps_id, e.created_at, e.kind, "
            "CASE WHEN e.kind = 'reachability' THEN 'probe' ELSE 'agent' END, '', v.hostname, "
            "e.details FROM vps_events e JOIN vps v ON v.id = e.vps_id"
        )
    )
    _backfill_assignments(bind)


def _backfill_assignments(bind: sa.engine.Connection) -> None:
    from sigma.vocab import ip_key

    vps = sa.table(
        "vps",
        sa.column("id", sa.Uuid()),
        sa.column("hostname", sa.Text()),
        sa.column("ip_addresses", JsonDoc),
        sa.column("status", sa.Text()),
        sa.column("created_at", UtcDateTime()),
    )
    target = sa.table(
        "ip_assignments",
        sa.column("id", sa.Uuid()),
        sa.column("ip", sa.Text()),
        sa.column("ip_key", sa.Text()),
        sa.column("vps_id", sa.Uuid()),
        sa.column("hostname", sa.Text()),
        sa.column("label", sa.Text()),
        sa.column("since", UtcDateTime()),
    )
    rows: list[dict] = []
    result = bind.execute(
        sa.select(vps.c.id, vps.c.hostname, vps.c.ip_addresses, vps.c.created_at).where(
            vps.c.status != "retired"
        )
    )
    for vps_id, hostname, ips, created in result:
        seen = set()
        for entry in ips if isinstance(ips, list) else []:
            ip = entry.get("ip") if isinstance(entry, dict) else None
            if not isinstance(ip, str) or ip in seen:
                continue
            try:
                key = ip_key(ip)
            except ValueError:
                continue
            seen.add(ip)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "ip": ip,
                    "ip_key": key,
                    "vps_id": vps_id,
                    "hostname": hostname,
                    "label": str(entry.get("label") or ""),
                    "since": created,
                }
            )
        if len(rows) >= 5000:
            bind.execute(target.insert(), rows)
            rows = []
    if rows:
        bind.execute(target.insert(), rows)


def downgrade() -> None:
    op.drop_index("idx_ip_assignments_vps", table_name="ip_assignments")
    op.drop_index("idx_ip_assignments_key", table_name="ip_assignments")
    op.drop_table("ip_assignments")
    op.drop_index("idx_vps_history_vps_kind", table_name="vps_history")
    op.drop_index("idx_vps_history_vps", table_name="vps_history")
    op.drop_table("vps_history")
    op.drop_index("idx_vps_deleted_at", table_name="vps")
    # not a batch rebuild on SQLite: that would lose the expression index idx_vps_hostname_lower
    op.get_bind().exec_driver_sql("ALTER TABLE vps DROP COLUMN deleted_at")
