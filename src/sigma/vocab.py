"""Vocabulary shared by the schemas, the services, the tables and the CLI, in plain Python:
the CLI's remote listings render with these without importing pydantic."""

from __future__ import annotations

from datetime import UTC, date, datetime
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
# the fields of a VPS in the API's JSON, in order (sigma.schemas.inventory.Vps; a test keeps
# them equal): the header of a CSV listing with no row, without building the schema
VPS_FIELDS = (
    "id",
    "hostname",
    "alias",
    "provider_id",
    "ip_addresses",
    "ssh_port",
    "country",
    "city",
    "dc_name",
    "cpu_cores",
    "ram_mb",
    "disk_gb",
    "bandwidth_tb",
    "cost_monthly",
    "currency",
    "status",
    "purchase_date",
    "expire_date",
    "purpose",
    "vpn_protocol",
    "tags",
    "monitoring_enabled",
    "node_exporter_port",
    "extra",
    "notes",
    "created_at",
    "updated_at",
    "online",
    "provider_name",
)
CHECK_TYPES = ("icmp", "tcp", "http")
VERDICTS = ("ok", "degraded", "blocked", "down", "unknown")
# the reachability listing's "problems first" order
VERDICT_URGENCY = ("blocked", "down", "degraded", "unknown", "ok")
# the VPS listing's sort keys (`--sort FIELD[:desc]`, `?sort=`); without one, the listing is
# by status, expiry (nulls last), hostname, id
VPS_SORT_FIELDS = ("hostname", "country", "provider", "status", "cost", "expiry", "created")
SORT_DIRECTIONS = ("asc", "desc")
# a VPS still running whose expiry is at most this many days ahead is "due soon"; one whose
# expiry has passed is "overdue" (expiry_state)
DUE_SOON_DAYS = 7
EXPIRY_STATES = ("overdue", "soon")
AGENT_STATES = ("online", "offline", "none")
# an agent is offline when its last heartbeat is older than this (the `offline_after` setting,
# default 3 x the agent interval of 60 s)
DEFAULT_OFFLINE_AFTER = 180


def parse_timestamp(value: Any) -> datetime | None:
    """A date or an RFC 3339 timestamp as an aware datetime (UTC when it has no offset);
    None for nothing; ValueError for anything else."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"'{value}' is not a date or RFC 3339 timestamp") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def last_heartbeat(extra: Any) -> datetime | None:
    """extra.last_heartbeat as an aware datetime, or None when absent or unreadable."""
    if not isinstance(extra, dict) or not isinstance(extra.get("last_heartbeat"), str):
        return None
    try:
        return parse_timestamp(extra["last_heartbeat"])
    except ValueError:
        return None


def agent_online(extra: Any, threshold: float, now: datetime | None = None) -> bool | None:
    """Whether the agent's last heartbeat is younger than `threshold` seconds; None when no
    agent ever reported."""
    seen = last_heartbeat(extra)
    if seen is None:
        return None
    return ((now or datetime.now(UTC)) - seen).total_seconds() < threshold


def days_until(value: date | str | None, today: date | None = None) -> int | None:
    """Days from today to a date (negative when it has passed); None without a date."""
    if not value:
        return None
    d = value if isinstance(value, date) else date.fromisoformat(str(value))
    return (d - (today or date.today())).days


def expiry_state(expire: date | str | None, status: str, today: date | None = None) -> str:
    """What an expiry date asks of the operator: "overdue" (the date has passed), "soon"
    (within DUE_SOON_DAYS, today included) or "" (later, no date, or a retired VPS, whose
    expiry no longer matters). The listing's `expiry` filter selects the same VPS."""
    if status == "retired":
        return ""
    days = days_until(expire, today)
    if days is None:
        return ""
    if days < 0:
        return "overdue"
    return "soon" if days <= DUE_SOON_DAYS else ""
