"""What needs an operator now, counted: the dashboard's attention strip (and its JSON, which
the page polls).

Each count is taken with the very filter of the listing it links to (`AttentionItem.query`),
so that following the link shows exactly the VPS, IPs or tickets counted: the VPS ones through
`services.vps.filtered`, the IPs through `services.ip_checks.verdict_counts` (the
reachability page's counts), the tickets with the ticket listing's status and priority
conditions. A handful of aggregate queries, each served by an index (see bench/web_pages.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from sigma.db.models.monitoring import Probe as ProbeRow
from sigma.db.models.monitoring import ReachAlert as ReachAlertRow
from sigma.db.models.tickets import Ticket as TicketRow
from sigma.schemas.common import validate
from sigma.schemas.inventory import VpsFilter
from sigma.schemas.stats import Attention, AttentionItem
from sigma.services import ip_checks
from sigma.services.actor import READERS, Actor
from sigma.services.vps import filtered
from sigma.vocab import DUE_SOON_DAYS, TRAFFIC_THRESHOLDS

# (kind, label, the VPS listing's filter)
VPS_ITEMS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("overdue", "Overdue", {"expiry": "overdue"}),
    ("due-soon", f"Due within {DUE_SOON_DAYS} days", {"expiry": "soon"}),
    ("agents-offline", "Agents offline", {"status": "active", "agent": "offline"}),
    (
        "over-quota",
        f"Traffic over {TRAFFIC_THRESHOLDS[0]} % of quota",
        {"status": "active", "over_quota": str(TRAFFIC_THRESHOLDS[0])},
    ),
)
# (kind, label, verdict): of the active VPS, as the reachability page lists them
IP_ITEMS = (
    ("blocked", "Blocked IPs", "blocked"),
    ("port-blocked", "Port-blocked IPs", "port-blocked"),
    ("tls-blocked", "TLS-blocked IPs", "tls-blocked"),
    ("down", "Down IPs", "down"),
    ("degraded", "Degraded IPs", "degraded"),
)
# (kind, label, priority): open tickets
TICKET_ITEMS = (
    ("tickets-critical", "Critical tickets", "critical"),
    ("tickets-high", "High-priority tickets", "high"),
)


def _vps_count(session: Session, query: dict[str, Any]) -> int:
    q = filtered(session, validate(VpsFilter, query))
    return session.scalar(q.with_only_columns(func.count(), maintain_column_froms=True)) or 0


def attention(session: Session, actor: Actor) -> Attention:
    """The counts of what needs action, in the order the strip shows them."""
    actor.require(READERS)
    items = [
        AttentionItem(
            kind=kind, label=label, count=_vps_count(session, query), listing="vps", query=query
        )
        for kind, label, query in VPS_ITEMS
    ]
    verdicts = ip_checks.verdict_counts(session)
    items += [
        AttentionItem(
            kind=kind,
            label=label,
            count=verdicts.get(verdict, 0),
            listing="reachability",
            query={"verdict": verdict},
        )
        for kind, label, verdict in IP_ITEMS
    ]
    priorities: dict[str, int] = {
        priority: n
        for priority, n in session.execute(
            select(col(TicketRow.priority), func.count())
            .where(
                col(TicketRow.status) == "open",
                col(TicketRow.priority).in_([p for _, _, p in TICKET_ITEMS]),
            )
            .group_by(col(TicketRow.priority))
        )
    }
    items += [
        AttentionItem(
            kind=kind,
            label=label,
            count=priorities.get(priority, 0),
            listing="tickets",
            query={"status": "open", "priority": priority},
        )
        for kind, label, priority in TICKET_ITEMS
    ]
    alerts = session.scalar(select(func.count()).select_from(ReachAlertRow))
    items.append(
        AttentionItem(
            kind="reach-alerts",
            label="Latency/loss alerts",
            count=alerts or 0,
            listing="alerts",
            query={},
        )
    )
    unhealthy = session.scalar(
        select(func.count()).select_from(ProbeRow).where(col(ProbeRow.health) == "unhealthy")
    )
    items.append(
        AttentionItem(
            kind="probes-unhealthy",
            label="Unhealthy probes",
            count=unhealthy or 0,
            listing="probes",
            query={},
        )
    )
    return Attention(items=items)
