"""Vocabulary shared by the schemas, the services and the CLI, in plain Python: the CLI's
remote listings render with these without importing pydantic (sigma.schemas re-exports all)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

VPS_STATUSES = ("provisioning", "active", "retiring", "retired", "suspended")
VPS_PURPOSES = ("", "vpn-exit", "vpn-relay", "vpn-entry", "monitor", "management", "other")
IP_LABELS = (
    "",
    "china-telecom",
    "china-unicom",
    "china-mobile",
    "china-cernet",
    "overseas",
    "internal",
    "anycast",
)
# the contract's short codes, accepted on input
IP_LABEL_ALIASES = {
    "ct": "china-telecom",
    "cu": "china-unicom",
    "cm": "china-mobile",
    "edu": "china-cernet",
    "os": "overseas",
    "lan": "internal",
    "ac": "anycast",
}
IP_LABEL_SHORT = {v: k.upper() for k, v in IP_LABEL_ALIASES.items()}
ACTIVE_STATUSES = ("active", "provisioning")


def last_heartbeat(extra: Any) -> datetime | None:
    """extra.last_heartbeat as an aware datetime, or None when absent or unreadable."""
    if not isinstance(extra, dict) or not isinstance(extra.get("last_heartbeat"), str):
        return None
    try:
        dt = datetime.fromisoformat(extra["last_heartbeat"].replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
