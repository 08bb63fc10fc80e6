"""A VPS's timeline, the IP history, duplicates, merge and the trash."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, Field

from sigma.schemas.common import BaseModel, Input, Output, PageParams, Timestamp, one_of
from sigma.schemas.inventory import Vps
from sigma.vocab import HISTORY_KINDS, ip_query_network, parse_timestamp

OptTimestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]


def _kind(value: Any) -> str | None:
    return None if value in (None, "") else one_of(value, HISTORY_KINDS, "kind")


def _ip_query(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string: an IP address, prefix or CIDR")
    ip_query_network(value)  # ValueError says what was expected
    return value.strip()


class HistoryEvent(Output):
    id: UUID
    vps_id: UUID
    at: Timestamp
    kind: str
    source: str
    actor: str
    hostname: str  # the VPS's hostname when it happened
    details: dict[str, Any]


class HistoryFilter(PageParams):
    """A timeline, newest first: events at or after `since`, of one `kind`."""

    since: OptTimestamp = None
    kind: Annotated[str | None, BeforeValidator(_kind)] = None
    page: int = 1
    per_page: int = 25


class IpHistoryQuery(PageParams):
    """`ip`: an address, a CIDR or the start of an address (vocab.ip_query_network);
    `since`/`until`: only the holdings that overlap that time."""

    ip: Annotated[str, BeforeValidator(_ip_query)]
    since: OptTimestamp = None
    until: OptTimestamp = None
    page: int = 1
    per_page: int = 25


class IpHolding(BaseModel):
    """One address held by one VPS under one label, from `since` until `until` (null: still
    held). `vps_state`: the VPS's status now, `trashed`, or `purged`."""

    ip: str
    label: str
    vps_id: UUID
    hostname: str
    since: Timestamp
    until: Timestamp | None
    vps_state: str


class VpsBrief(BaseModel):
    id: UUID
    hostname: str
    status: str
    created_at: Timestamp


class DuplicateReason(BaseModel):
    reason: str  # ip, hostname, provider_instance_id
    value: str


class DuplicatePair(BaseModel):
    a: VpsBrief
    b: VpsBrief
    reasons: list[DuplicateReason]


class MergeRequest(Input):
    keep: Annotated[str, Field(min_length=1, max_length=512)]
    other: Annotated[str, Field(min_length=1, max_length=512)]
    dry_run: bool = False


class MergeConflict(BaseModel):
    """A field both VPS hold with different values: `resolution` is `kept` (KEEP's value
    stays) or `joined` (notes: both texts)."""

    field: str
    keep: Any
    other: Any
    resolution: str


class MergeResult(BaseModel):
    dry_run: bool
    keep: Vps  # KEEP as it is (or would be) after the merge
    removed: VpsBrief
    filled: list[str]  # KEEP's empty fields taken from OTHER
    conflicts: list[MergeConflict]
    moved: dict[str, int]  # ips, tags, tickets, ip_checks, history, agent_keys, ...


class TrashedVps(BaseModel):
    id: UUID
    hostname: str
    alias: str
    status: str
    ip_addresses: list[dict[str, str]]
    deleted_at: Timestamp
    purge_after: Timestamp  # when the trash job removes it for good


class PurgedVps(BaseModel):
    """The answer of a purge: DELETE /api/vps/{ref}'s `{"deleted": true}` and which VPS."""

    deleted: bool = True
    purged: bool = True
    id: UUID
    hostname: str


def _short(value: Any, width: int = 60) -> str:
    text = "''" if value in ("", None) else str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def event_summary(kind: str, details: dict[str, Any]) -> str:
    """One line about an event of a timeline, for the CLI's table and the web page."""
    d = details or {}
    if kind == "created":
        ips = ", ".join(e.get("ip", "") for e in d.get("ip_addresses") or [])
        return f"created as {d.get('status', '')}" + (f" with {ips}" if ips else "")
    if kind == "updated":
        changes = d.get("changes") or {}
        return "; ".join(
            f"{k}: {_short(v.get('from'))} -> {_short(v.get('to'))}" for k, v in changes.items()
        )
    if kind in ("status", "retired") and "to" in d:
        return f"{d.get('from')} -> {d.get('to')}"
    if kind == "retired":
        return f"retired (was {d.get('from')})"
    if kind in ("ip-added", "ip-removed"):
        sign = "+" if kind == "ip-added" else "-"
        return f"{sign}{d.get('ip')}" + (f" ({d['label']})" if d.get("label") else "")
    if kind == "ip-relabelled":
        return f"{d.get('ip')}: {_short(d.get('from'))} -> {_short(d.get('to'))}"
    if kind == "deleted":
        return "moved to the trash"
    if kind == "restored":
        return "restored from the trash"
    if kind == "purged":
        return "deleted for good"
    if kind == "merged":
        other = d.get("other") or {}
        n = len(d.get("conflicts") or [])
        return f"merged {other.get('hostname')} ({str(other.get('id', ''))[:8]}) into it" + (
            f"; {n} conflict(s), this VPS's values kept" if n else ""
        )
    if kind == "agent-offline":
        return f"agent silent since {d.get('last_heartbeat')}"
    if kind == "agent-online":
        return f"agent back after {d.get('offline_for_seconds')} s"
    if kind == "reachability":
        label = f" ({d['label']})" if d.get("label") else ""
        return f"{d.get('ip')}{label}: {d.get('from')} -> {d.get('to')}"
    if kind in ("ticket-opened", "ticket-closed"):
        ticket = str(d.get("ticket_id", ""))[:8]
        return f"ticket {_short(d.get('title'))} ({ticket}) {d.get('status', '')}"
    # issue 16 part B: renewals, replacements, traffic thresholds
    if kind == "renewed":
        paid = f", {d['amount']} {d.get('currency', '')}" if d.get("amount") else ""
        how = "automatically" if d.get("automatic") else "renewed"
        return (
            f"{how}: {d.get('from')} -> {d.get('to')} "
            f"({d.get('cycles')} x {d.get('billing_cycle')}{paid})"
        )
    if kind == "replaced":
        moved = len(d.get("tickets_moved") or [])
        return f"replaced by {d.get('replaced_by_hostname')} ({str(d.get('replaced_by'))[:8]})" + (
            f"; {moved} open ticket(s) moved" if moved else ""
        )
    if kind == "replaces":
        got = ", ".join(d.get("inherited") or {}) or "nothing"
        return (
            f"replaces {d.get('replaces_hostname')} ({str(d.get('replaces'))[:8]}); inherited {got}"
        )
    if kind == "traffic-threshold":
        return (
            f"{d.get('threshold')} % of the {d.get('quota_gb')} GB quota ({d.get('direction')}) "
            f"reached in the period from {d.get('period_start')}"
        )
    if kind in ("reach-alert", "reach-recovered"):
        unit = " ms" if d.get("metric") == "latency" else " %"
        state = "above" if kind == "reach-alert" else "back under"
        return (
            f"{d.get('ip')} from {d.get('carrier')}: {d.get('metric')} {d.get('value')}{unit} "
            f"{state} {d.get('threshold')}{unit}"
        )
    return ", ".join(f"{k}={_short(v)}" for k, v in d.items())
