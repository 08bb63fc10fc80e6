"""providers, vps and audit log

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

from sigma.db.types import ExactDecimal, JsonDoc, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("user_email", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("details", JsonDoc, nullable=False),
        sa.Column("client_ip", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_audit_created", "audit_logs", ["created_at"], unique=False)
    op.create_index("idx_audit_resource", "audit_logs", ["resource", "resource_id"], unique=False)
    op.create_index("idx_audit_user", "audit_logs", ["user_id"], unique=False)
    op.create_table(
        "providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("website", sa.Text(), nullable=False),
        sa.Column("panel_url", sa.Text(), nullable=False),
        sa.Column("api_supported", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_providers_rating"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "vps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("alias", sa.Text(), nullable=False),
        sa.Column("provider_id", sa.Uuid(), nullable=True),
        sa.Column("ip_addresses", JsonDoc, nullable=False),
        sa.Column("ssh_port", sa.Integer(), nullable=False),
        sa.Column("country", sa.Text(), nullable=False),
        sa.Column("city", sa.Text(), nullable=False),
        sa.Column("dc_name", sa.Text(), nullable=False),
        sa.Column("cpu_cores", sa.SmallInteger(), nullable=True),
        sa.Column("ram_mb", sa.Integer(), nullable=True),
        sa.Column("disk_gb", sa.Integer(), nullable=True),
        sa.Column("bandwidth_tb", ExactDecimal(10, 2), nullable=True),
        sa.Column("cost_monthly", ExactDecimal(10, 2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("expire_date", sa.Date(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("vpn_protocol", sa.Text(), nullable=False),
        sa.Column("tags", JsonDoc, nullable=False),
        sa.Column("monitoring_enabled", sa.Boolean(), nullable=False),
        sa.Column("node_exporter_port", sa.Integer(), nullable=False),
        sa.Column("extra", JsonDoc, nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('', 'vpn-exit', 'vpn-relay', 'vpn-entry', 'monitor', 'management', "
            "'other')",
            name="ck_vps_purpose",
        ),
        sa.CheckConstraint(
            "status IN ('provisioning', 'active', 'retiring', 'retired', 'suspended')",
            name="ck_vps_status",
        ),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("idx_vps_country", "vps", ["country"], unique=False)
    op.create_index("idx_vps_expire", "vps", ["expire_date"], unique=False)
    op.create_index("idx_vps_hostname", "vps", ["hostname"], unique=False)
    op.create_index(
        "idx_vps_ip_addresses",
        "vps",
        ["ip_addresses"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"ip_addresses": "jsonb_path_ops"},
    )
    op.create_index("idx_vps_provider", "vps", ["provider_id"], unique=False)
    op.create_index(
        "idx_vps_status_expire", "vps", ["status", "expire_date", "hostname", "id"], unique=False
    )
    op.create_index(
        "idx_vps_status_country",
        "vps",
        ["status", "country", "expire_date", "hostname", "id"],
        unique=False,
    )
    op.create_index("idx_vps_tags", "vps", ["tags"], unique=False, postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("idx_vps_tags", table_name="vps", postgresql_using="gin")
    op.drop_index("idx_vps_status_country", table_name="vps")
    op.drop_index("idx_vps_status_expire", table_name="vps")
    op.drop_index("idx_vps_provider", table_name="vps")
    op.drop_index(
        "idx_vps_ip_addresses",
        table_name="vps",
        postgresql_using="gin",
        postgresql_ops={"ip_addresses": "jsonb_path_ops"},
    )
    op.drop_index("idx_vps_hostname", table_name="vps")
    op.drop_index("idx_vps_expire", table_name="vps")
    op.drop_index("idx_vps_country", table_name="vps")
    op.drop_table("vps")
    op.drop_table("providers")
    op.drop_index("idx_audit_user", table_name="audit_logs")
    op.drop_index("idx_audit_resource", table_name="audit_logs")
    op.drop_index("idx_audit_created", table_name="audit_logs")
    op.drop_table("audit_logs")
