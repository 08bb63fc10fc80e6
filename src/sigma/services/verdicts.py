"""The reachability verdict of one IP from its per-source streaks (issue 17): what it is,
why, from which carriers and regions, and how many sources agree.

Input: the reachability row's state, {source: {check key: streak}}, where a check key is a
check type with its port when the probe said it (tcp:22, tls:443, icmp) and a streak is
{"ok", "fails", "oks", "at", "outcome", "latency_ms"}; the role of each source
(services.probes: inside China or a control, healthy or not, carrier and region); the
thresholds (settings reachability_rounds, reachability_agreement).

The sources that count are the healthy ones heard from in the last hour. Then, in order:
- `unknown`: no source counts;
- `down`: every source that counts fails every check, each for `rounds` rounds;
- `blocked`: at least `agreement` % of the sources inside China fail every check for
  `rounds` rounds while a control succeeds for `rounds` rounds;
- `port-blocked` / `tls-blocked`: some checks (ports) fail from at least `agreement` % of the
  sources inside China for `rounds` rounds, while those same sources reach the host another
  way (ICMP, another port) and a control passes the failing checks; tls-blocked when every
  such check is a TLS handshake (tls:PORT, or failures that are tls_failed);
- `ok`: every check of every source succeeds;
- `degraded`: anything in between (one carrier failing, a failure not yet confirmed).
A check failing from every source, controls included, while another works (ICMP filtered by
the host, say) is a property of the host, not of the path, and is ignored. A refused
connection is a success here (the RST came from the host; services.ip_checks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigma.schemas.monitoring import SourceState, VerdictDetail
from sigma.services.probes import STALE_AFTER, Role, role_of

DEFAULT_ROUNDS = 3
DEFAULT_AGREEMENT = 100  # percent of the sources inside China


@dataclass(eq=False)  # identity: sources are compared and collected as themselves
class _Source:
    name: str
    role: Role
    streaks: dict[str, dict[str, Any]]
    last: datetime | None
    live: dict[str, dict[str, Any]] = field(default_factory=dict)

    def failing(self, rounds: int = 1) -> list[str]:
        return [k for k, v in self.live.items() if not v.get("ok") and v.get("fails", 0) >= rounds]

    @property
    def state(self) -> str:
        bad = [not v.get("ok") for v in self.live.values()]
        return "fail" if bad and all(bad) else "partial" if any(bad) else "ok"

    def fails_everything(self, rounds: int) -> bool:
        return bool(self.live) and len(self.failing(rounds)) == len(self.live)

    def oks(self) -> int:
        return max((v.get("oks", 0) for v in self.live.values()), default=0)


def _at(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _sources(
    state: dict[str, Any], roles: dict[str, Role], now: datetime
) -> tuple[list[_Source], dict[str, SourceState]]:
    """The sources that count (healthy and fresh), and every source's view for display."""
    counted: list[_Source] = []
    for name, streaks in (state or {}).items():
        last = max((_at(v.get("at", "")) or datetime.min for v in streaks.values()), default=None)
        if last == datetime.min:
            last = None
        counted.append(_Source(name, roles.get(name) or role_of(None, name), streaks, last))
    fresh = [
        s for s in counted if s.role.healthy and s.last is not None and now - s.last <= STALE_AFTER
    ]
    keys = {k for s in fresh for k in s.streaks}
    dead: set[str] = set()
    if any(s.role.control for s in fresh) and len(fresh) > 1:
        # only a control can tell "the host filters it" from "the path drops it"
        dead = {k for k in keys if all(not s.streaks[k].get("ok") for s in fresh if k in s.streaks)}
    live = keys - dead if dead != keys else keys
    for s in fresh:
        s.live = {k: v for k, v in s.streaks.items() if k in live} or dict(s.streaks)
    views: dict[str, SourceState] = {}
    for s in counted:
        if not s.role.healthy:
            st = "unhealthy"
        elif s not in fresh:
            st = "stale"
        else:
            st = s.state
        shown = s.live if s in fresh else s.streaks
        latencies = [
            v["latency_ms"]
            for v in shown.values()
            if v.get("ok") and v.get("latency_ms") is not None
        ]
        views[s.name] = SourceState(
            state=st,
            china=s.role.china,
            control=s.role.control,
            carrier=s.role.carrier,
            region=s.role.region,
            fails=min((v.get("fails", 0) for v in shown.values()), default=0)
            if st == "fail"
            else 0,
            last_checked=s.last,
            latency_ms=min(latencies) if latencies else None,
            types={k: bool(v.get("ok")) for k, v in s.streaks.items()},
            outcomes={k: v.get("outcome") for k, v in s.streaks.items()},
        )
    return fresh, views


def _needed(total: int, agreement: int) -> int:
    return max(1, math.ceil(total * agreement / 100))


def _where(sources: list[_Source]) -> tuple[list[str], list[str]]:
    carriers = sorted({s.role.carrier for s in sources if s.role.carrier})
    regions = sorted({s.role.region for s in sources if s.role.region})
    return carriers, regions


def decide(
    state: dict[str, Any],
    roles: dict[str, Role],
    now: datetime,
    rounds: int = DEFAULT_ROUNDS,
    agreement: int = DEFAULT_AGREEMENT,
) -> tuple[VerdictDetail, dict[str, SourceState]]:
    """The verdict with its reasons, and each source's view (the evidence)."""
    fresh, views = _sources(state, roles, now)

    def detail(
        verdict: str,
        reason: str,
        affected: list[_Source],
        agree: int,
        of: int,
        checks: list[str] | None = None,
    ) -> VerdictDetail:
        carriers, regions = _where(affected)
        return VerdictDetail(
            verdict=verdict,
            reason=reason,
            carriers=carriers,
            regions=regions,
            sources=sorted(s.name for s in affected),
            agree=agree,
            of=of,
            checks=sorted(checks or []),
        )

    if not fresh:
        ignored = len(state or {})
        why = "no healthy source heard from in the last hour" if ignored else "no result yet"
        return detail("unknown", why, [], 0, 0), views
    china = [s for s in fresh if s.role.china]
    controls = [s for s in fresh if s.role.control]
    dead = [s for s in fresh if s.fails_everything(rounds)]
    if len(dead) == len(fresh):
        return (
            detail(
                "down",
                f"every check fails from every source for {rounds}+ rounds",
                dead,
                len(dead),
                len(fresh),
            ),
            views,
        )
    reaching = [s for s in controls if s.state != "fail" and s.oks() >= rounds]
    if china and reaching:
        cut = [s for s in china if s.fails_everything(rounds)]
        if len(cut) >= _needed(len(china), agreement):
            return (
                detail(
                    "blocked",
                    f"{len(cut)} of {len(china)} sources in China fail every check for "
                    f"{rounds}+ rounds; {len(reaching)} control(s) reach it",
                    cut,
                    len(cut),
                    len(china),
                ),
                views,
            )
        # ports: failing from enough China sources that still reach the host another way
        answering = [s for s in china if s.state == "partial"]
        by_key: dict[str, list[_Source]] = {}
        for s in answering:
            for k in s.failing(rounds):
                by_key.setdefault(k, []).append(s)
        passed = {k for s in reaching for k, v in s.live.items() if v.get("ok")}
        blocked_keys = [
            k
            for k, srcs in by_key.items()
            if k in passed and len(srcs) >= _needed(len(china), agreement)
        ]
        if blocked_keys:
            affected = sorted({s for k in blocked_keys for s in by_key[k]}, key=lambda s: s.name)
            tls = all(
                k.startswith("tls")
                or all(s.live[k].get("outcome") == "tls_failed" for s in by_key[k])
                for k in blocked_keys
            )
            verdict = "tls-blocked" if tls else "port-blocked"
            what = "TLS handshakes" if tls else "checks"
            return (
                detail(
                    verdict,
                    f"{what} {', '.join(sorted(blocked_keys))} fail from {len(affected)} of "
                    f"{len(china)} sources in China for {rounds}+ rounds while the host answers "
                    "otherwise and a control passes them",
                    affected,
                    len(affected),
                    len(china),
                    blocked_keys,
                ),
                views,
            )
    if all(s.state == "ok" for s in fresh):
        return detail(
            "ok", f"every check passes from {len(fresh)} source(s)", [], len(fresh), len(fresh)
        ), views
    troubled = [s for s in fresh if s.state != "ok"]
    checks = sorted({k for s in troubled for k in s.failing()})
    return (
        detail(
            "degraded",
            f"{len(troubled)} of {len(fresh)} sources see failures "
            f"({', '.join(checks) or 'some checks'}), not (yet) a block",
            troubled,
            len(troubled),
            len(fresh),
            checks,
        ),
        views,
    )
