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
    # issue 16 (additions): billing cycle, auto-renewal, traffic quota; `traffic` is the
    # current period's usage, given by GET /api/vps/{ref} only (null in listings)
    "billing_cycle",
    "auto_renew",
    "traffic_quota_gb",
    "traffic_direction",
    "traffic_reset_day",
    "traffic",
)
# billing cycles (`billing_cycle`): these names, or a number of days such as "45d"
# (parse_billing_cycle); each named cycle is a number of calendar months
BILLING_CYCLES = ("monthly", "quarterly", "semi-annual", "yearly")
CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "semi-annual": 6, "yearly": 12}
BILLING_CYCLE_ALIASES = {
    "month": "monthly",
    "quarter": "quarterly",
    "semiannual": "semi-annual",
    "semi-annually": "semi-annual",
    "half-yearly": "semi-annual",
    "year": "yearly",
    "annual": "yearly",
    "annually": "yearly",
}
MAX_CYCLE_DAYS = 3660
DEFAULT_BILLING_CYCLE = "monthly"
# which of a period's byte counts a traffic quota limits: out (sent), in (received), their
# sum, or the larger of the two
TRAFFIC_DIRECTIONS = ("out", "in", "sum", "max")
DEFAULT_TRAFFIC_DIRECTION = "sum"
# the percentages of a quota recorded once per period in the timeline
TRAFFIC_THRESHOLDS = (80, 95, 100)
BYTES_PER_GB = 1_000_000_000  # quotas are in GB of 10^9 bytes, as providers bill
CHECK_TYPES = ("icmp", "tcp", "tls", "http")
# what a check saw (issue 17): ok; refused (a RST from the host: it is there); timeout;
# reset (a RST after the connection was up, e.g. injected on data); tls_failed (the TLS
# handshake did not complete); http_error (an HTTP answer that is an error, 5xx); unreachable
# (ICMP: no echo reply, or a destination-unreachable error)
CHECK_OUTCOMES = ("ok", "refused", "timeout", "reset", "tls_failed", "http_error", "unreachable")
# the outcomes the compatible `success` flag is true for (the host answered the check itself)
SUCCESS_OUTCOMES = ("ok", "http_error")
# the outcomes that prove the host is up even though the check failed
HOST_UP_OUTCOMES = ("ok", "http_error", "refused")
# port-blocked: the host answers from China (ICMP or another port) but not on a service port
# that a control reaches; tls-blocked: the same for TLS handshakes (issue 17)
VERDICTS = ("ok", "degraded", "blocked", "port-blocked", "tls-blocked", "down", "unknown")
# a probe's carrier (issue 17): China Telecom, China Unicom, China Mobile, the education
# network, or another network (a control outside China, say)
PROBE_CARRIERS = ("ct", "cu", "cm", "cernet", "other")
CHINA_CARRIERS = ("ct", "cu", "cm", "cernet")
# unknown: no reference targets checked yet (its results count, as before references)
PROBE_HEALTH = ("unknown", "healthy", "unhealthy")
REFERENCE_EXPECTATIONS = ("reachable", "blocked")
# the reachability listing's "problems first" order
VERDICT_URGENCY = (
    "blocked",
    "port-blocked",
    "tls-blocked",
    "down",
    "degraded",
    "unknown",
    "ok",
)
# the VPS listing's sort keys (`--sort FIELD[:desc]`, `?sort=`); without one, the listing is
# by status, expiry (nulls last), hostname, id
VPS_SORT_FIELDS = ("hostname", "country", "provider", "status", "cost", "expiry", "created")
SORT_DIRECTIONS = ("asc", "desc")
# a VPS still running whose expiry is at most this many days ahead is "due soon"; one whose
# expiry has passed is "overdue" (expiry_state)
DUE_SOON_DAYS = 7
EXPIRY_STATES = ("overdue", "soon")
AGENT_STATES = ("online", "offline", "none")
# the kinds of attention items (issue 18): the names notify_rules may use, checked when the
# settings load (without importing the services); a test keeps it equal to the kinds
# services.attention registers
ATTENTION_KINDS = (
    "overdue",
    "expiring",
    "blocked",
    "port-blocked",
    "tls-blocked",
    "down",
    "degraded",
    "agent-offline",
    "probe-unhealthy",
    "reach-alert",
    "ticket",
    "duplicate",
    "quota",
    "missing-data",
    # issue 19 (services.sync, services.dns)
    "gone",
    "sync-failed",
    "dns-stale",
    "domain-expiring",
    "cert-expiring",
)
# a VPS's timeline (services.history): what happened, and where the news came from
HISTORY_KINDS = (
    "created",
    "updated",
    "status",
    "ip-added",
    "ip-removed",
    "ip-relabelled",
    "retired",
    "deleted",
    "restored",
    "purged",
    "merged",
    "agent-online",
    "agent-offline",
    "reachability",
    "ticket-opened",
    "ticket-closed",
    # issue 16 part B (services.billing, services.traffic, services.replacement)
    "renewed",
    "replaced",
    "replaces",
    "traffic-threshold",
    # issue 17 (services.reach_alerts)
    "reach-alert",
    "reach-recovered",
    # issue 19 (services.sync): an account's API no longer lists the machine
    "gone",
)
HISTORY_SOURCES = ("user", "agent", "probe", "import", "sync", "system")
# provider and DNS accounts (issue 19): each kind is one adapter module (sigma.cloud)
SERVER_ACCOUNT_KINDS = (
    "hetzner",
    "vultr",
    "digitalocean",
    "linode",
    "alibaba",
    "virtualizor",
    "kiwivm",
)
DNS_ACCOUNT_KINDS = ("cloudflare",)
ACCOUNT_KINDS = (*SERVER_ACCOUNT_KINDS, *DNS_ACCOUNT_KINDS)
SYNC_STATES = ("never", "ok", "failed")
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


def ip_key(address: Any) -> str:
    """An address as fixed-width text that sorts like its number: '4' and 8 hex digits for
    IPv4, '6' and 32 for IPv6 (a zone id is ignored), so that a network is one range of
    these keys (ip_history's index). ValueError for anything that is not an address."""
    import ipaddress

    if isinstance(address, str):
        address = ipaddress.ip_address(address.strip().split("%", 1)[0])
    if address.version == 4:
        return f"4{int(address):08x}"
    return f"6{int(address):032x}"


def ip_query_network(text: Any) -> Any:
    """What an IP history search means, as an ipaddress network: an address (one address),
    a CIDR (host bits ignored: 103.1.2.3/24 is 103.1.2.0/24), or the start of an address in
    whole parts: 1 to 3 IPv4 octets (`103.1.` is 103.1.0.0/16) or IPv6 groups ending with a
    colon (`2001:db8:` is 2001:db8::/32). ValueError naming what was expected otherwise."""
    import ipaddress
    import re

    value = str(text or "").strip()
    if not value:
        raise ValueError("an IP address, prefix or CIDR is required")
    if len(value) > 100:
        raise ValueError("is longer than 100 characters")
    try:
        if "/" in value:
            return ipaddress.ip_network(value, strict=False)
        return ipaddress.ip_network(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}\.?", value):
        octets = [int(o) for o in value.rstrip(".").split(".")]
        if all(o < 256 for o in octets):
            padded = octets + [0] * (4 - len(octets))
            return ipaddress.ip_network(
                f"{'.'.join(map(str, padded))}/{8 * len(octets)}", strict=True
            )
    if re.fullmatch(r"([0-9a-fA-F]{1,4}:){1,7}", value):
        groups = value.rstrip(":").split(":")
        return ipaddress.ip_network(f"{':'.join(groups)}::/{16 * len(groups)}", strict=True)
    raise ValueError(
        f"'{value[:60]}' is not an IP address, a CIDR (103.1.2.0/24) or the start of an "
        "address (103.1.2. or 2001:db8:)"
    )


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


def parse_billing_cycle(value: Any) -> str:
    """A billing cycle's canonical text: monthly, quarterly, semi-annual, yearly (a few
    spellings of them accepted), or a number of days "Nd" from 1 to MAX_CYCLE_DAYS. A cycle
    under one day, or anything else, is a ValueError naming what is accepted."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "must be monthly, quarterly, semi-annual, yearly or a number of days such as 45d"
        )
    text = value.strip().lower()
    text = BILLING_CYCLE_ALIASES.get(text, text)
    if text in CYCLE_MONTHS:
        return text
    number = text.removesuffix("d").removesuffix("days").removesuffix("day").strip()
    if text != number and number.lstrip("+-").isdigit():
        days = int(number)
        if days < 1:
            raise ValueError(f"'{value}' is shorter than one day; a cycle is at least 1d")
        if days > MAX_CYCLE_DAYS:
            raise ValueError(f"'{value}' is longer than {MAX_CYCLE_DAYS} days")
        return f"{days}d"
    shown = value if len(value) <= 40 else value[:40] + "..."
    unit = text.lstrip("+-0123456789").strip()
    if unit != text and unit in ("h", "hour", "hours", "min", "minutes", "s", "seconds"):
        raise ValueError(f"'{shown}' is not a cycle: cycles are whole days (at least 1d) or months")
    raise ValueError(
        f"unknown billing cycle '{shown}'; expected monthly, quarterly, semi-annual, yearly "
        "or a number of days such as 45d (at least 1d)"
    )


def cycle_length(cycle: str) -> tuple[int, int]:
    """(months, days) of one cycle: (1, 0) for monthly, (0, 45) for "45d"."""
    if cycle in CYCLE_MONTHS:
        return CYCLE_MONTHS[cycle], 0
    return 0, int(parse_billing_cycle(cycle).removesuffix("d"))


def data_size(n: float | None) -> str:
    """Bytes in decimal units (kB, MB, GB, TB, PB: powers of 1000, as traffic quotas are
    counted): "812.4 GB"; "-" for None."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} PB"
