"""The fleet as Prometheus sees it: the families of `sigma serve`'s /metrics that are read
from the database (issue 17). The HTTP request histogram is the server's own
(server/metrics.py); everything here is a figure the services already know.

`FleetCollector` is a prometheus_client custom collector: nothing runs in the background, and
each scrape opens one read-only unit of work and runs a handful of aggregates (bench/README.md,
"Metrics overhead"); between scrapes it keeps only the carriers each problem verdict names
(CarrierCache, its own). Each rule is asked of the service that owns it: the trash
(`vps.not_trashed`), expiry (`vps.filtered`'s `expiry` and `expiring_within_days`), agent
liveness (`vps.agent_condition`, with the session's offline_after), the verdicts' counts
(`ip_checks.verdict_counts`) and the carriers a verdict names (`verdicts.decide`, as the
reachability listing shows them), probe health and staleness (`probes.list_probes`), the
open attention items per kind and severity (`attention.current`, issue 18). One collector
per app; the app's registry holds it.

Label values are the database's text: the client library escapes them (a quote, a backslash
or a newline in a provider's name comes out escaped). Their number is capped: statuses are the
vocabulary's, a country is an ISO code or "(other)", and the providers are the
MAX_PROVIDERS with the most VPS, the rest counted together as "(other)".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.db.models.core import Provider as ProviderRow
from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.monitoring import Reachability as ReachRow
from sigma.schemas.common import validate
from sigma.schemas.inventory import VpsFilter
from sigma.schemas.monitoring import ProbeStatus
from sigma.services import attention, ip_checks, probes, verdicts
from sigma.services.actor import Actor
from sigma.services.vps import agent_condition, filtered, not_trashed
from sigma.vocab import ACTIVE_STATUSES, DUE_SOON_DAYS, VERDICTS, VPS_STATUSES

# who reads the figures: the scrape is authorised by the metrics token or the listen address,
# never by a user; the services see a reader
METRICS_ACTOR = Actor(email="system:metrics", role="readonly")

MAX_PROVIDERS = 50
NONE, OTHER = "(none)", "(other)"
_COUNTRY = re.compile(r"[A-Z]{2}")
# the expiry windows of sigma_vps_expiring: vocab's "soon", and a month
EXPIRY_WINDOWS = ((f"{DUE_SOON_DAYS}d", None), ("30d", 30))
AGENT_STATES = ("online", "offline", "none")
# the verdicts that name carriers (ok and unknown name none)
CARRIER_VERDICTS = tuple(v for v in VERDICTS if v not in ("ok", "unknown"))
# the carriers of a blocked, down or degraded (VPS, IP) pair are read by deciding its verdict
# again from its stored state (as the reachability listing does, ~0.25 ms a pair), once per
# change of the row (CarrierCache): at most DECIDE_PER_SCRAPE pairs a scrape, so that a
# restart or a wave of changes never makes one scrape slow (until the cache has caught up,
# sigma_reachability is per verdict only), and none above CARRIER_DETAIL_LIMIT such pairs
CARRIER_DETAIL_LIMIT = 20_000
DECIDE_PER_SCRAPE = 1_000

HELP = {
    "sigma_vps": "VPS not in the trash, by status, country (ISO code) and provider "
    f"(the {MAX_PROVIDERS} largest providers, the rest as {OTHER})",
    "sigma_vps_expiring": "Active or provisioning VPS whose expiry date is within the window "
    "(today included, overdue ones not)",
    "sigma_vps_overdue": "Active or provisioning VPS whose expiry date has passed",
    "sigma_agents": "Active VPS by agent state: online (heard from within offline_after), "
    "offline (silent for longer), none (never reported)",
    "sigma_reachability": 'Reachability (VPS, IP) pairs of active VPS by verdict: carrier="" '
    "counts every pair of the verdict, carrier=X the pairs whose verdict names carrier X (absent "
    f"above {CARRIER_DETAIL_LIMIT} blocked, down or degraded pairs, and while they are read)",
    "sigma_probe_up": "1 when the probe source was heard from in the last hour, 0 when stale, "
    "by source, carrier, region and health",
    "sigma_metrics_scrape_duration_seconds": "Time taken to read the figures of this scrape "
    "from the database",
    "sigma_attention_items": "Open items that need attention (sigma status), by kind and "
    "severity; acknowledged and snoozed items are not counted",
}


@dataclass
class Figures:
    """One scrape's figures, before they are families (what the tests compare)."""

    vps: dict[tuple[str, str, str], int] = field(default_factory=dict)
    expiring: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    agents: dict[str, int] = field(default_factory=dict)
    reachability: dict[tuple[str, str], int] = field(default_factory=dict)
    probes: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    attention: dict[tuple[str, str], int] = field(default_factory=dict)


def figures(session: Session, cache: CarrierCache | None = None) -> Figures:
    """Every figure of the families, from a handful of aggregate queries (`cache`: the
    carriers of the verdicts as the previous scrape found them)."""
    registry = probes.list_probes(session, METRICS_ACTOR)
    return Figures(
        vps=_vps(session),
        expiring={w: _expiring(session, w, days) for w, days in EXPIRY_WINDOWS},
        overdue=_count(session, {"expiry": "overdue"}),
        agents=_agents(session),
        reachability=_reachability(session, registry, cache),
        probes=[
            (p.source, p.carrier or "", p.region, p.health, 0 if p.stale else 1) for p in registry
        ],
        attention=attention.open_counts(session),
    )


def _vps(session: Session) -> dict[tuple[str, str, str], int]:
    rows = session.execute(
        select(col(VpsRow.status), col(VpsRow.country), col(VpsRow.provider_id), func.count())
        .where(not_trashed(session))
        .group_by(col(VpsRow.status), col(VpsRow.country), col(VpsRow.provider_id))
    ).all()
    per_provider: dict[Any, int] = {}
    for _, _, provider_id, n in rows:
        per_provider[provider_id] = per_provider.get(provider_id, 0) + n
    largest = sorted(
        (p for p in per_provider if p is not None), key=lambda p: (-per_provider[p], str(p))
    )[:MAX_PROVIDERS]
    names: dict[Any, str] = dict(
        session.execute(
            select(col(ProviderRow.id), col(ProviderRow.name)).where(
                col(ProviderRow.id).in_(largest)
            )
        ).all()
    )
    out: dict[tuple[str, str, str], int] = {}
    for status, country, provider_id, n in rows:
        key = (
            status if status in VPS_STATUSES else OTHER,
            country if _COUNTRY.fullmatch(country or "") else (OTHER if country else NONE),
            NONE if provider_id is None else names.get(provider_id, OTHER),
        )
        out[key] = out.get(key, 0) + n
    return out


def _count(session: Session, query: dict[str, Any]) -> int:
    """The active or provisioning VPS of the VPS listing's filter `query` (which leaves the
    trash out)."""
    q = filtered(session, validate(VpsFilter, query)).where(col(VpsRow.status).in_(ACTIVE_STATUSES))
    return session.scalar(q.with_only_columns(func.count(), maintain_column_froms=True)) or 0


def _expiring(session: Session, window: str, days: int | None) -> int:
    if days is None:  # vocab's "soon"
        return _count(session, {"expiry": "soon"})
    # expiring_within_days counts the overdue ones too
    return _count(session, {"expiring_within_days": days}) - _count(session, {"expiry": "overdue"})


def _agents(session: Session) -> dict[str, int]:
    """The active VPS per agent state, in one read of the active rows."""
    row = session.execute(
        select(
            *(
                func.coalesce(func.sum(case((agent_condition(session, state), 1), else_=0)), 0)
                for state in AGENT_STATES
            )
        ).where(col(VpsRow.status) == "active", not_trashed(session))
    ).one()
    return {state: int(n) for state, n in zip(AGENT_STATES, row, strict=True)}


@dataclass
class CarrierCache:
    """The carriers each blocked, down or degraded (VPS, IP) pair's verdict names, as of the
    row's updated_at, kept by one collector between its scrapes: a pair is decided again only
    when its row changed, or when the probe registry or the thresholds did (`key`)."""

    # (key, {(vps_id, ip): (updated_at, verdict, carriers)}), replaced as a whole
    last: tuple[Any, dict[tuple[Any, str], tuple[Any, str, tuple[str, ...]]]] = (None, {})


def _reachability(
    session: Session, registry: list[ProbeStatus], cache: CarrierCache | None = None
) -> dict[tuple[str, str], int]:
    counts = ip_checks.verdict_counts(session)  # every verdict, the reachability page's counts
    out = {(verdict, ""): n for verdict, n in counts.items()}
    problems = sum(counts.get(v, 0) for v in CARRIER_VERDICTS)
    # a verdict names the carriers its sources declared in the registry: none declared, none
    # named (and nothing to decide)
    if not problems or problems > CARRIER_DETAIL_LIMIT or not any(p.carrier for p in registry):
        return out
    cache = cache if cache is not None else CarrierCache()
    rounds, agreement = ip_checks.policy(session)
    key = (
        rounds,
        agreement,
        tuple(
            sorted((p.source, p.carrier, p.region, p.china, p.control, p.health) for p in registry)
        ),
    )
    last_key, last_pairs = cache.last
    known = last_pairs if last_key == key else {}
    selected = select(col(VpsRow.id)).where(*ip_checks.selection(session, None, False))
    problem = col(ReachRow.verdict).in_(CARRIER_VERDICTS)
    pairs: dict[tuple[Any, str], tuple[Any, str, tuple[str, ...]]] = {}
    changed: set[tuple[Any, str]] = set()
    for vps_id, ip, verdict, updated_at in session.execute(
        select(
            col(ReachRow.vps_id), col(ReachRow.ip), col(ReachRow.verdict), col(ReachRow.updated_at)
        ).where(col(ReachRow.vps_id).in_(selected), problem)
    ):
        hit = known.get((vps_id, ip))
        if hit is not None and hit[:2] == (updated_at, verdict):
            pairs[(vps_id, ip)] = hit
        else:
            changed.add((vps_id, ip))
    complete = len(changed) <= DECIDE_PER_SCRAPE
    if not complete:
        changed = set(sorted(changed, key=str)[:DECIDE_PER_SCRAPE])
    if changed:
        # the carriers as the listing decides them (at the row's last computation: a source
        # silent since does not rewrite the why)
        rows = [
            row
            for row in session.execute(
                select(
                    col(ReachRow.vps_id),
                    col(ReachRow.ip),
                    col(ReachRow.verdict),
                    col(ReachRow.updated_at),
                    col(ReachRow.state),
                ).where(col(ReachRow.vps_id).in_({v for v, _ in changed}), problem)
            )
            if (row[0], row[1]) in changed
        ]
        roles = probes.roles(session, {s for *_, state in rows for s in state or {}})
        for vps_id, ip, verdict, updated_at, state in rows:
            detail, _ = verdicts.decide(state, roles, updated_at, rounds, agreement)
            # decided otherwise since (a probe's health changed): no carriers to name
            named = tuple(detail.carriers) if detail.verdict == verdict else ()
            pairs[(vps_id, ip)] = (updated_at, verdict, named)
    cache.last = (key, pairs)
    if not complete:
        return out  # the rest at the next scrapes
    for _, verdict, named in pairs.values():
        for carrier in named:
            out[(verdict, carrier)] = out.get((verdict, carrier), 0) + 1
    return out


def families(f: Figures, seconds: float | None = None) -> list[Metric]:
    """The figures as Prometheus families, each with its HELP text."""
    vps = GaugeMetricFamily(
        "sigma_vps", HELP["sigma_vps"], labels=["status", "country", "provider"]
    )
    for labels, n in sorted(f.vps.items()):
        vps.add_metric(list(labels), n)
    expiring = GaugeMetricFamily(
        "sigma_vps_expiring", HELP["sigma_vps_expiring"], labels=["window"]
    )
    for window, n in f.expiring.items():
        expiring.add_metric([window], n)
    overdue = GaugeMetricFamily("sigma_vps_overdue", HELP["sigma_vps_overdue"], value=f.overdue)
    agents = GaugeMetricFamily("sigma_agents", HELP["sigma_agents"], labels=["state"])
    for state in AGENT_STATES:
        agents.add_metric([state], f.agents.get(state, 0))
    reach = GaugeMetricFamily(
        "sigma_reachability", HELP["sigma_reachability"], labels=["verdict", "carrier"]
    )
    for (verdict, carrier), n in sorted(f.reachability.items()):
        reach.add_metric([verdict, carrier], n)
    up = GaugeMetricFamily(
        "sigma_probe_up", HELP["sigma_probe_up"], labels=["source", "carrier", "region", "health"]
    )
    for source, probe_carrier, region, health, value in f.probes:
        up.add_metric([source, probe_carrier, region, health], value)
    items = GaugeMetricFamily(
        "sigma_attention_items", HELP["sigma_attention_items"], labels=["kind", "severity"]
    )
    for (kind, severity), n in sorted(f.attention.items()):
        items.add_metric([kind, severity], n)
    out: list[Metric] = [vps, expiring, overdue, agents, reach, up, items]
    if seconds is not None:
        out.append(
            GaugeMetricFamily(
                "sigma_metrics_scrape_duration_seconds",
                HELP["sigma_metrics_scrape_duration_seconds"],
                value=round(seconds, 6),
            )
        )
    return out


class FleetCollector:
    """A prometheus_client collector of the fleet's figures, read at each scrape from the
    sessions of one app (its engine, its settings in the session info)."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Callable[[], float] = time.perf_counter
    ):
        self.sessions = sessions
        self.clock = clock
        self.carriers = CarrierCache()

    def describe(self) -> Iterator[Metric]:
        """The families' names, without reading anything (registering asks for them)."""
        yield from families(Figures(), 0.0)

    def collect(self) -> Iterator[Metric]:
        from sigma.db.engine import unit_of_work

        start = self.clock()
        with unit_of_work(self.sessions, read_only=True) as session:
            f = figures(session, self.carriers)
        yield from families(f, self.clock() - start)
