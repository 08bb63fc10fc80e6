"""Read-only views derived from the inventory: Prometheus targets, Ansible inventory, an
iCalendar feed of expiry dates. Each reads only the columns it needs (SQLAlchemy Core), so
10,000 active VPS stay well inside the DESIGN.md budgets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sigma.db.models import Provider as ProviderRow
from sigma.db.models import Vps as VpsRow
from sigma.schemas import ACTIVE_STATUSES

COLUMNS = (
    VpsRow.id, VpsRow.hostname, VpsRow.alias, VpsRow.ip_addresses, VpsRow.ssh_port,
    VpsRow.country, VpsRow.city, VpsRow.dc_name, VpsRow.cpu_cores, VpsRow.ram_mb,
    VpsRow.disk_gb, VpsRow.status, VpsRow.purpose, VpsRow.vpn_protocol, VpsRow.tags,
    VpsRow.monitoring_enabled, VpsRow.node_exporter_port, VpsRow.expire_date,
)


def running(session: Session, *, monitored_only: bool = False) -> list[Any]:
    """Active and provisioning VPS with their provider's name, by hostname (then id)."""
    q = (
        select(*COLUMNS, ProviderRow.name.label("provider"))
        .outerjoin(ProviderRow, ProviderRow.id == VpsRow.provider_id)
        .where(VpsRow.status.in_(ACTIVE_STATUSES))
        .order_by(VpsRow.hostname, VpsRow.id)
    )
    if monitored_only:
        q = q.where(VpsRow.monitoring_enabled.is_(True))
    return list(session.execute(q))


def primary_ip(ips: list[dict[str, str]], label: str | None = None) -> str | None:
    """The address to reach a VPS at: the first IP with `label` when one is asked for and
    present, else the first IP not labelled internal, else the first IP; None without IPs."""
    ips = [e for e in ips or () if e.get("ip")]
    if not ips:
        return None
    if label is not None:
        for e in ips:
            if e.get("label", "") == label:
                return e["ip"]
    for e in ips:
        if e.get("label", "") != "internal":
            return e["ip"]
    return ips[0]["ip"]
