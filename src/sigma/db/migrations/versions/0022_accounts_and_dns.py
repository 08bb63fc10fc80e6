"""Provider and DNS accounts, the instances their syncs saw, DNS zones and records

Issue 19: accounts (credentials encrypted, never in clear here), account_instances (which
provider instance fills which VPS, and the values the last sync wrote), dns_zones and
dns_records (a read-only copy of each DNS account, linked to the fleet).

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import JsonDoc, UtcDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

KINDS = (
    "hetzner",
    "vultr",
    "digitalocean",
    "linode",
    "alibaba",
    "virtualizor",
    "kiwivm",
    "cloudflare",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("api_base", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("options", JsonDoc, nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("api_wins", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_sync_at", UtcDateTime(), nullable=True),
        sa.Column("last_status", sa.Text(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_report", JsonDoc, nullable=False),
        sa.Column("next_sync_at", UtcDateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.CheckConstraint(_one_of("kind", KINDS), name="ck_accounts_kind"),
        sa.CheckConstraint(
            _one_of("last_status", ("never", "ok", "failed")), name="ck_accounts_last_status"
        ),
        sa.CheckConstraint("interval_minutes BETWEEN 5 AND 10080", name="ck_accounts_interval"),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "account_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Text(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=True),
        sa.Column("synced", JsonDoc, nullable=False),
        sa.Column("seen", JsonDoc, nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("gone_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "instance_id", name="uq_account_instances_key"),
    )
    op.create_index("idx_account_instances_vps", "account_instances", ["vps_id"])
    op.create_index("idx_account_instances_kind", "account_instances", ["kind", "instance_id"])
    op.create_table(
        "dns_zones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("zone_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("synced_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "zone_id", name="uq_dns_zones_key"),
    )
    op.create_table(
        "dns_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_ref", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=True),
        sa.Column("proxied", sa.Boolean(), nullable=False),
        sa.Column("vps_id", sa.Uuid(), nullable=True),
        sa.Column("cert_not_after", UtcDateTime(), nullable=True),
        sa.Column("cert_error", sa.Text(), nullable=False),
        sa.Column("cert_checked_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["zone_ref"], ["dns_zones.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("zone_ref", "record_id", name="uq_dns_records_key"),
    )
    op.create_index("idx_dns_records_vps", "dns_records", ["vps_id"])
    op.create_index("idx_dns_records_name", "dns_records", ["name"])


def downgrade() -> None:
    op.drop_index("idx_dns_records_name", table_name="dns_records")
    op.drop_index("idx_dns_records_vps", table_name="dns_records")
    op.drop_table("dns_records")
    op.drop_table("dns_zones")
    op.drop_index("idx_account_instances_kind", table_name="account_instances")
    op.drop_index("idx_account_instances_vps", table_name="account_instances")
    op.drop_table("account_instances")
    op.drop_table("accounts")
