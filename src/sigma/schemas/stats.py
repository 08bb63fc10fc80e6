"""The fleet at a glance: counts by status, country, provider, purpose, and what expires soon."""

from __future__ import annotations

from sigma.schemas.common import BaseModel
from sigma.schemas.inventory import Vps


class CountBy(BaseModel):
    label: str
    count: int


class Stats(BaseModel):
    total_vps: int
    active_vps: int
    total_providers: int
    by_country: list[CountBy]
    by_provider: list[CountBy]
    by_status: list[CountBy]
    expiring_soon: list[Vps]


class AttentionItem(BaseModel):
    """One kind of thing that needs an operator, how many there are, and the listing that
    shows exactly those: `listing` ("vps", "reachability", "tickets", "probes": the probe
    registry, "alerts": the latency and loss alerts firing) filtered by `query` (that
    listing's filter parameters)."""

    kind: str
    label: str
    count: int
    listing: str
    query: dict[str, str]


class Attention(BaseModel):
    items: list[AttentionItem]
