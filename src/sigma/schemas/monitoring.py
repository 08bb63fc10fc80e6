"""Agents (registration, heartbeats), IP checks, probes and reachability verdicts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from sigma.schemas.common import (
    BaseModel,
    Hostname,
    Input,
    Output,
    PageParams,
    Port,
    Timestamp,
    check_json_tree,
    one_of,
    parse_ip,
    refuse_invalid_strings,
    short_text,
)
from sigma.schemas.inventory import IpList
from sigma.vocab import (
    CHECK_OUTCOMES,
    CHECK_TYPES,
    PROBE_CARRIERS,
    SUCCESS_OUTCOMES,
    parse_timestamp,
)


class AgentInput(BaseModel):
    # agents of other versions may send fields this server does not know: ignored, not refused
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _valid_strings(cls, data: Any) -> Any:
        return refuse_invalid_strings(data)


def _alias_or_blank(value: Any) -> Any:
    return "" if value is None else value


MAX_SYSTEM_INFO = 64 * 1024


def _system_info(value: Any) -> Any:
    """Whatever JSON the agent reports, as long as it is text and numbers a listing can
    always show (check_json_tree) and at most MAX_SYSTEM_INFO bytes."""
    import json

    check_json_tree(value)
    if len(json.dumps(value, separators=(",", ":"), default=str)) > MAX_SYSTEM_INFO:
        raise ValueError(f"is larger than {MAX_SYSTEM_INFO // 1024} KiB")
    return value


SystemInfo = Annotated[Any, AfterValidator(_system_info)]


class AgentRegister(AgentInput):
    hostname: Hostname
    alias: Annotated[str, BeforeValidator(short_text), BeforeValidator(_alias_or_blank)] = ""
    ip_addresses: IpList = Field(default_factory=list)
    ssh_port: Port = 22
    system_info: SystemInfo = None


class AgentKeyRelease(BaseModel):
    released: int
    revoked: bool


# an interface byte counter: a JSON integer (no string, float or boolean), 0 to 2^62 (more
# than any interface moves; services.traffic sums saturate there)
Counter = Annotated[int, Field(ge=0, le=2**62, strict=True)]


class TrafficCounters(BaseModel):
    """The agent's cumulative byte counters, summed over its non-loopback interfaces
    (received, sent): services.traffic turns them into usage per billing period. Keys of
    other agent versions are ignored, like the rest of an agent's body."""

    model_config = ConfigDict(extra="ignore")

    rx_bytes: Counter
    tx_bytes: Counter


class AgentHeartbeat(AgentInput):
    hostname: Hostname
    system_info: SystemInfo = None
    # added (issue 16): optional, the original agent does not send it
    traffic: TrafficCounters | None = None
    # the addresses the agent sees now (agents of this version send them); absent: unchanged.
    # A changed set updates the VPS and becomes ip-added/ip-removed events of its timeline
    ip_addresses: IpList | None = None


CheckType = Annotated[str, BeforeValidator(lambda v: one_of(v, CHECK_TYPES, "check_type"))]
IpAddress = Annotated[str, BeforeValidator(parse_ip)]
Latency = Annotated[int | None, Field(ge=0, le=2**31 - 1)]


def _source(value: Any) -> str:
    v = short_text(value)
    if len(v) > 64:
        raise ValueError("is longer than 64 characters")
    if any(ch.isspace() for ch in v):
        raise ValueError(f"source '{v}' must not contain spaces")
    return v


Source = Annotated[str, BeforeValidator(_source)]


Outcome = Annotated[
    str | None,
    BeforeValidator(lambda v: None if v is None else one_of(v, CHECK_OUTCOMES, "outcome")),
]


class IpCheckCreate(Input):
    """One result. `outcome` (issue 17) says what the check saw; the original's `success`
    stays and follows from it (true for ok and http_error), so a probe may send either: a
    result with both must not contradict itself. `port` is the TCP or TLS port checked,
    `loss_pct` and `jitter_ms` an ICMP round's packet loss and jitter."""

    vps_id: UUID
    ip: IpAddress
    check_type: CheckType = "icmp"
    source: Source = ""
    success: bool | None = None
    outcome: Outcome = None
    latency_ms: Latency = None
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    loss_pct: Annotated[float | None, Field(ge=0, le=100, allow_inf_nan=False)] = None
    jitter_ms: Latency = None

    @model_validator(mode="after")
    def _consistent(self) -> IpCheckCreate:
        if self.outcome is None:
            if self.success is None:
                raise ValueError("success: required (or an outcome)")
        elif self.success is None:
            self.success = self.outcome in SUCCESS_OUTCOMES
        elif self.success != (self.outcome in SUCCESS_OUTCOMES):
            raise ValueError(
                f"outcome: '{self.outcome}' contradicts success={str(self.success).lower()}"
            )
        if self.port is not None and self.check_type not in ("tcp", "tls", "http"):
            raise ValueError(f"port: an {self.check_type} check has no port")
        if (self.loss_pct is not None or self.jitter_ms is not None) and self.check_type != "icmp":
            raise ValueError("loss_pct: only an icmp check has packet loss and jitter")
        return self


class IpCheckReport(IpCheckCreate):
    """One result inside a probe's batch: `id` is the probe's idempotency key (a UUID it
    generated), `checked_at` when it was measured (results may arrive late from a spool)."""

    id: UUID | None = None
    checked_at: Annotated[datetime | None, BeforeValidator(parse_timestamp)] = None


MAX_BATCH = 5000


class IpCheckBatch(Input):
    checks: Annotated[list[IpCheckReport], Field(max_length=MAX_BATCH)]


class BatchRejection(BaseModel):
    index: int
    error: str


class IpCheckBatchResult(BaseModel):
    inserted: int
    duplicates: int
    rejected: list[BatchRejection] = Field(default_factory=list)


class IpCheck(Output):
    id: UUID
    vps_id: UUID
    ip: str
    check_type: str
    source: str
    success: bool
    latency_ms: int | None
    checked_at: Timestamp
    outcome: str | None = None  # None: a result from a probe that sent only `success`
    port: int | None = None
    loss_pct: float | None = None
    jitter_ms: int | None = None


class IpCheckFilter(PageParams):
    vps_id: UUID | None = None
    ip: Annotated[
        str | None, BeforeValidator(lambda v: None if v in (None, "") else parse_ip(v))
    ] = None
    source: str | None = None
    check_type: Annotated[
        str | None,
        BeforeValidator(
            lambda v: None if v in (None, "") else one_of(v, CHECK_TYPES, "check_type")
        ),
    ] = None
    success: bool | None = None
    page: int = 1
    per_page: int = 25


class IpCheckSummary(BaseModel):
    vps_id: UUID
    ip: str
    total_checks: int
    success_count: int
    success_rate: float  # a percentage, 2 decimals
    avg_latency_ms: float | None
    last_check: Timestamp
    last_success: bool


class PurgeResult(BaseModel):
    deleted: int


class ProbeTarget(BaseModel):
    vps_id: UUID
    hostname: str
    ip: str
    label: str
    ssh_port: int


class SourceState(BaseModel):
    """One probe source's view of one IP: `ok` (the latest result of every check succeeded),
    `partial` (some checks fail), `fail` (every check failing, `fails` rounds in a row),
    `stale` (nothing heard from that source in the last hour) or `unhealthy` (the probe's
    reference targets disagree: its view moves no verdict). `types` and `outcomes` are per
    check key (a check type, with its port when the probe said it: tcp:22, tls:443)."""

    state: str
    china: bool
    fails: int
    last_checked: Timestamp | None
    latency_ms: int | None
    types: dict[str, bool]
    control: bool = False
    carrier: str | None = None
    region: str = ""
    outcomes: dict[str, str | None] = Field(default_factory=dict)


class VerdictDetail(BaseModel):
    """Why an IP has its verdict: a one-line reason, the carriers, regions and sources
    affected, how many of the sources considered agree (`agree` of `of`: of the sources
    inside China for blocked, port-blocked and tls-blocked, of every source counted
    otherwise), and the checks (ports) concerned."""

    verdict: str
    reason: str
    carriers: list[str]
    regions: list[str]
    sources: list[str]
    agree: int
    of: int
    checks: list[str]


class ReachabilityStatus(BaseModel):
    vps_id: UUID
    hostname: str
    ip: str
    label: str
    verdict: str
    since: Timestamp
    sources: dict[str, SourceState]
    detail: VerdictDetail | None = None


class ReachabilityPage(BaseModel):
    """One page of the reachability listing, problems first (vocab.VERDICT_URGENCY), with the
    number of (VPS, IP) pairs of each verdict over the whole selection (the verdict filter
    aside): `total` is that of the verdict asked for, or of all."""

    data: list[ReachabilityStatus]
    total: int
    page: int
    per_page: int
    counts: dict[str, int]


class VpsEvent(Output):
    id: UUID
    vps_id: UUID
    hostname: str = ""
    kind: str
    details: dict[str, Any]
    created_at: Timestamp


# ---------------------------------------------------------------- probes (issue 17)

Carrier = Annotated[
    str | None,
    BeforeValidator(
        lambda v: None if v in (None, "") else one_of(str(v).lower(), PROBE_CARRIERS, "carrier")
    ),
]


class ProbeReferenceTarget(BaseModel):
    """GET /api/probes/references: a target every probe checks each round (the setting
    probe_references)."""

    name: str
    ip: str
    check_type: str
    port: int | None
    expect: str  # reachable (from everywhere) or blocked (from inside China)


class ReferenceResult(Input):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    ip: IpAddress
    check_type: CheckType
    port: Annotated[int | None, Field(ge=1, le=65535)] = None
    outcome: Annotated[str, BeforeValidator(lambda v: one_of(v, CHECK_OUTCOMES, "outcome"))]
    latency_ms: Latency = None
    checked_at: Annotated[datetime | None, BeforeValidator(parse_timestamp)] = None


class ProbeRound(Input):
    checks: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    seconds: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] = 0.0


class ProbeReport(Input):
    """POST /api/probes/report, once a round: who the probe is, and what its reference
    targets gave."""

    source: Source
    carrier: Carrier = None
    region: Annotated[str, BeforeValidator(short_text), Field(max_length=64)] = ""
    control: bool = False
    version: Annotated[str, BeforeValidator(short_text), Field(max_length=64)] = ""
    round: ProbeRound = Field(default_factory=ProbeRound)
    references: Annotated[list[ReferenceResult], Field(max_length=100)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _named(self) -> ProbeReport:
        if not self.source:
            raise ValueError("source: required (the probe's --source)")
        return self


class ProbeStatus(BaseModel):
    """A probe source in the registry. `china` and `control` are what verdicts use: from the
    declared carrier and control flag, or, for a probe that declared nothing (an older
    probe), from its name (cn-* is inside China, others are controls)."""

    id: str  # the registry's key: the source name
    source: str
    carrier: str | None
    region: str
    china: bool
    control: bool
    declared: bool
    version: str
    first_seen: Timestamp
    last_seen: Timestamp
    stale: bool
    health: str
    health_since: Timestamp | None
    health_reason: str
    last_round: dict[str, Any]


# ---------------------------------------------------------------- check history (issue 17)

_AGO = re.compile(r"(\d{1,6})\s*([mhd])")
_UNIT = {"m": 60, "h": 3600, "d": 86400}
HISTORY_RESOLUTIONS = ("auto", "raw", "5m", "1h", "6h")
FLEET_RESOLUTIONS = ("auto", "5m", "1h", "6h")  # the fleet has no raw store


def _when(value: Any) -> datetime | None:
    """A timestamp, a date, or a time ago: 30m, 24h, 7d."""
    if isinstance(value, str) and (m := _AGO.fullmatch(value.strip().lower())):
        from datetime import UTC, timedelta

        return datetime.now(UTC) - timedelta(seconds=int(m[1]) * _UNIT[m[2]])
    return parse_timestamp(value)


When = Annotated[datetime | None, BeforeValidator(_when)]


class _HistorySpan(Input):
    """What a history query names besides its subject: one source, one check, a span."""

    source: Annotated[
        str | None, BeforeValidator(lambda v: None if v in (None, "") else _source(v))
    ] = None
    # the pattern on the text alone: an empty value is no check (None), never a 500
    check: Annotated[
        Annotated[str, StringConstraints(pattern=r"^(icmp|tcp|tls|http)(:[0-9]{1,5})?$")] | None,
        BeforeValidator(lambda v: None if v in (None, "") else v),
    ] = None
    since: When = None  # default: 24 hours before `until`
    until: When = None  # default: now

    @model_validator(mode="after")
    def _order(self) -> _HistorySpan:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since: must be before until")
        return self


class CheckHistoryQuery(_HistorySpan):
    """GET /api/ip-checks/history: one IP's checks over time, per source and check."""

    ip: IpAddress
    resolution: Annotated[
        str, BeforeValidator(lambda v: one_of(v or "auto", HISTORY_RESOLUTIONS, "resolution"))
    ] = "auto"


class HistoryPoint(BaseModel):
    """One bucket of one series (a raw check is a bucket of one): the share of checks that
    succeeded (`ok_pct`) and in which the host answered (`up_pct`, refused included), the
    latency of the answers, the ICMP loss, and the outcomes counted."""

    t: Timestamp
    checks: int
    ok_pct: float
    up_pct: float
    latency_avg: float | None
    latency_min: int | None
    latency_max: int | None
    loss_pct: float | None
    outcomes: dict[str, int]


class HistorySeries(BaseModel):
    source: str
    carrier: str | None
    region: str
    china: bool
    check: str
    points: list[HistoryPoint]


class CheckHistory(BaseModel):
    ip: str
    resolution: str  # raw, 5m, 1h or 6h
    since: Timestamp
    until: Timestamp
    series: list[HistorySeries]


class FleetHistoryQuery(_HistorySpan):
    """GET /api/ip-checks/fleet-history: every IP's checks summed, per source and check."""

    resolution: Annotated[
        str,
        BeforeValidator(lambda v: one_of(v or "auto", FLEET_RESOLUTIONS, "resolution")),
    ] = "auto"


class FleetHistory(BaseModel):
    """The fleet's checks per source (carrier) and check over time, every IP summed."""

    resolution: str  # 5m, 1h or 6h
    since: Timestamp
    until: Timestamp
    series: list[HistorySeries]


# ---------------------------------------------------------------- alerts (issue 17)


class ReachThresholdsIn(Input):
    """PUT /api/vps/{ref}/alert-thresholds: the VPS's own thresholds (null: the settings')."""

    latency_ms: Annotated[int | None, Field(ge=0, le=600_000)] = None
    loss_pct: Annotated[float | None, Field(ge=0, le=100, allow_inf_nan=False)] = None


class ReachThresholds(BaseModel):
    vps_id: UUID
    hostname: str
    latency_ms: int | None
    loss_pct: float | None
    defaults: dict[str, dict[str, int]]  # the settings: per carrier, "default" for the rest


class ReachAlertOut(BaseModel):
    """A latency or loss alert firing now: the average over the alert window of one
    carrier's sources to one IP, above its threshold since `since`."""

    vps_id: UUID
    hostname: str
    ip: str
    carrier: str
    metric: str  # latency (ms) or loss (%)
    value: float
    threshold: float
    since: Timestamp
