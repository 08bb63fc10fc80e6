"""Providers and VPS: what the inventory holds, what a create or an update may send, and
the listing's filter."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sigma.schemas.common import (
    MAX_FILTER_VALUES,
    MAX_IPS,
    BaseModel,
    Country,
    Currency,
    Hostname,
    Input,
    JsonObject,
    Money,
    Name,
    OptDate,
    Output,
    PageParams,
    Port,
    Purpose,
    ShortText,
    Status,
    Tags,
    Text,
    Timestamp,
    Url,
    normalise_tags,
    one_of,
    parse_ip,
    parse_label,
    refuse_nulls,
    validate,
)
from sigma.vocab import (
    AGENT_STATES,
    DEFAULT_BILLING_CYCLE,
    DEFAULT_TRAFFIC_DIRECTION,
    EXPIRY_STATES,
    SORT_DIRECTIONS,
    TRAFFIC_DIRECTIONS,
    VPS_SORT_FIELDS,
    parse_billing_cycle,
)

# ---------------------------------------------------------------- providers


class ProviderFields(Input):
    country: Country = ""
    website: Url = ""
    panel_url: Url = ""
    api_supported: bool = False
    rating: Annotated[int | None, Field(ge=1, le=5)] = None
    notes: Text = ""


class ProviderCreate(ProviderFields):
    name: Name


class ProviderUpdate(Input):
    """Partial update: absent fields are kept; `rating: null` clears the rating."""

    name: Name | None = None
    country: Country | None = None
    website: Url | None = None
    panel_url: Url | None = None
    api_supported: bool | None = None
    rating: Annotated[int | None, Field(ge=1, le=5)] = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> ProviderUpdate:
        refuse_nulls(self, nullable={"rating"})
        return self


class Provider(Output):
    id: UUID
    name: str
    country: str
    website: str
    panel_url: str
    api_supported: bool
    rating: int | None
    notes: str
    created_at: Timestamp
    updated_at: Timestamp


# ---------------------------------------------------------------- VPS


class IpEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: Annotated[str, BeforeValidator(parse_ip)]
    label: Annotated[str, BeforeValidator(parse_label)] = ""

    @classmethod
    def parse_spec(cls, spec: str) -> IpEntry:
        """`IP` or `IP=LABEL` (CLI form). IPv6 contains colons, so '=' separates the label."""
        ip, _, label = spec.partition("=")
        return validate(cls, {"ip": ip, "label": label})


def _ip_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("must be a list of {ip, label} objects")
    if len(value) > MAX_IPS:
        raise ValueError(f"has {len(value)} addresses; at most {MAX_IPS} are allowed per VPS")
    return [{"ip": v} if isinstance(v, str) else v for v in value]


def _check_ips(ips: list[IpEntry]) -> list[IpEntry]:
    seen: set[str] = set()
    for entry in ips:
        if entry.ip in seen:
            raise ValueError(f"IP address {entry.ip} is listed twice")
        seen.add(entry.ip)
    return ips


# a list-level check, so that the error names the field (a model-level one has no field)
IpList = Annotated[list[IpEntry], BeforeValidator(_ip_list), AfterValidator(_check_ips)]


def _check_dates(purchase: date | None, expire: date | None) -> None:
    if purchase and expire and expire < purchase:
        raise ValueError(f"{expire} is before purchase_date {purchase}")


def _reset_day(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a day of the month from 1 to 28")
    try:
        day = int(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        raise ValueError(f"'{value}' is not a day of the month from 1 to 28") from None
    if not isinstance(day, int) or not 1 <= day <= 28:
        raise ValueError(
            f"{value} is not a day from 1 to 28 (a reset day must occur in every month)"
        )
    return day


# issue 16: the billing cycle renewals move expire_date by, and the traffic quota per period
BillingCycle = Annotated[str, BeforeValidator(parse_billing_cycle)]
TrafficDirection = Annotated[
    str, BeforeValidator(lambda v: one_of(v, TRAFFIC_DIRECTIONS, "traffic direction"))
]
ResetDay = Annotated[int, BeforeValidator(_reset_day)]
MAX_QUOTA_GB = 1_000_000_000  # 1 EB: beyond any VPS, within every integer column
QuotaGb = Annotated[int | None, Field(ge=0, le=MAX_QUOTA_GB)]


class VpsFields(Input):
    alias: ShortText = ""
    provider_id: UUID | None = None
    ip_addresses: IpList = Field(default_factory=list)
    ssh_port: Port = 22
    country: Country = ""
    city: ShortText = ""
    dc_name: ShortText = ""
    cpu_cores: Annotated[int | None, Field(ge=0, le=32767)] = None
    ram_mb: Annotated[int | None, Field(ge=0, le=2**31 - 1)] = None
    disk_gb: Annotated[int | None, Field(ge=0, le=2**31 - 1)] = None
    bandwidth_tb: Money = None
    cost_monthly: Money = None
    currency: Currency = "USD"
    status: Status = "provisioning"
    purchase_date: OptDate = None
    expire_date: OptDate = None
    purpose: Purpose = ""
    vpn_protocol: ShortText = ""
    tags: Tags = Field(default_factory=list)
    monitoring_enabled: bool = True
    node_exporter_port: Port = 9100
    extra: JsonObject = Field(default_factory=dict)
    notes: Text = ""
    billing_cycle: BillingCycle = DEFAULT_BILLING_CYCLE
    auto_renew: bool = False
    traffic_quota_gb: QuotaGb = None
    traffic_direction: TrafficDirection = DEFAULT_TRAFFIC_DIRECTION
    traffic_reset_day: ResetDay = 1


class VpsCreate(VpsFields):
    hostname: Hostname

    @field_validator("expire_date", mode="after")
    @classmethod
    def _after_purchase(cls, expire: date | None, info: ValidationInfo) -> date | None:
        # purchase_date is declared (so validated) before expire_date
        _check_dates(info.data.get("purchase_date"), expire)
        return expire


NULLABLE_VPS_FIELDS = {
    "provider_id",
    "cpu_cores",
    "ram_mb",
    "disk_gb",
    "bandwidth_tb",
    "cost_monthly",
    "purchase_date",
    "expire_date",
    "traffic_quota_gb",
}


class VpsUpdate(Input):
    """Partial update: absent fields are kept; `null` clears a nullable field."""

    hostname: Hostname | None = None
    alias: ShortText | None = None
    provider_id: UUID | None = None
    ip_addresses: IpList | None = None
    ssh_port: Port | None = None
    country: Country | None = None
    city: ShortText | None = None
    dc_name: ShortText | None = None
    cpu_cores: Annotated[int | None, Field(ge=0, le=32767)] = None
    ram_mb: Annotated[int | None, Field(ge=0, le=2**31 - 1)] = None
    disk_gb: Annotated[int | None, Field(ge=0, le=2**31 - 1)] = None
    bandwidth_tb: Money = None
    cost_monthly: Money = None
    currency: Currency | None = None
    status: Status | None = None
    purchase_date: OptDate = None
    expire_date: OptDate = None
    purpose: Purpose | None = None
    vpn_protocol: ShortText | None = None
    tags: Tags | None = None
    monitoring_enabled: bool | None = None
    node_exporter_port: Port | None = None
    extra: JsonObject | None = None
    notes: Text | None = None
    billing_cycle: BillingCycle | None = None
    auto_renew: bool | None = None
    traffic_quota_gb: QuotaGb = None
    traffic_direction: TrafficDirection | None = None
    traffic_reset_day: ResetDay | None = None

    @model_validator(mode="after")
    def _consistent(self) -> VpsUpdate:
        refuse_nulls(self, nullable=NULLABLE_VPS_FIELDS)
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class TrafficUsage(BaseModel):
    """A VPS's traffic in its current billing period (services.traffic.usage): bytes
    received (in) and sent (out), the bytes its quota counts (`used_bytes`, by the VPS's
    traffic_direction), the quota in bytes and the share used, and the use projected to the
    period's end at the average rate so far (None in the period's first hour)."""

    period_start: date
    period_end: date  # the next reset day: the period ends when it begins
    bytes_in: int
    bytes_out: int
    used_bytes: int
    quota_bytes: int | None
    percent: float | None
    projected_bytes: int | None
    projected_percent: float | None
    updated_at: Timestamp | None


class Vps(Output):
    id: UUID
    hostname: str
    alias: str
    provider_id: UUID | None
    ip_addresses: list[IpEntry]
    ssh_port: int
    country: str
    city: str
    dc_name: str
    cpu_cores: int | None
    ram_mb: int | None
    disk_gb: int | None
    bandwidth_tb: Money
    cost_monthly: Money
    currency: str
    status: str
    purchase_date: date | None
    expire_date: date | None
    purpose: str
    vpn_protocol: str
    tags: list[str]
    monitoring_enabled: bool
    node_exporter_port: int
    extra: dict[str, Any]
    notes: str
    created_at: Timestamp
    updated_at: Timestamp
    # the row version behind the ETag; not part of the JSON body
    _version: int | None = PrivateAttr(None)
    # what a create or update accepted but the caller should know (a hostname or an IP that
    # another VPS also has): the API sends them as X-Sigma-Warning headers. A plain default,
    # not a factory: pydantic inspects a factory's signature for every instance (the heartbeat
    # answers one per request)
    _warnings: tuple[str, ...] = PrivateAttr(())
    # the agent's liveness (None: no agent ever reported), set by the service that reads the
    # row, from the configured offline threshold (services.vps.out)
    online: bool | None = None
    # the provider's name beside its id (None: no provider), for every face to show
    provider_name: str | None = None
    # issue 16 (additions, after the original's fields)
    billing_cycle: str = DEFAULT_BILLING_CYCLE
    auto_renew: bool = False
    traffic_quota_gb: int | None = None
    traffic_direction: str = DEFAULT_TRAFFIC_DIRECTION
    traffic_reset_day: int = 1
    # the current billing period's traffic: set by services.vps.get (one VPS), None in
    # listings and in the answers of writes
    traffic: TrafficUsage | None = None

    @field_validator("ip_addresses", mode="before")
    @classmethod
    def _stored_ips(cls, value: Any) -> Any:
        # stored rows were validated on the way in; do not re-reject them on the way out
        return [IpEntry.model_construct(ip=e["ip"], label=e.get("label", "")) for e in value or []]


def parse_sort(value: Any) -> str | None:
    """`FIELD`, `FIELD:asc` or `FIELD:desc` (FIELD one of vocab.VPS_SORT_FIELDS) as
    `FIELD:DIR`; None or "" for the default order."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string: FIELD or FIELD:asc|desc")
    field, sep, direction = value.strip().lower().partition(":")
    fields = ", ".join(VPS_SORT_FIELDS)
    if field not in VPS_SORT_FIELDS:
        raise ValueError(
            f"unknown sort field '{value[:40]}'; expected one of: {fields} "
            "(optionally followed by :asc or :desc)"
        )
    if sep and direction not in SORT_DIRECTIONS:
        raise ValueError(f"unknown sort direction '{direction[:20]}'; expected asc or desc")
    return f"{field}:{direction or 'asc'}"


def _optional_one_of(allowed: tuple[str, ...], what: str) -> Any:
    return BeforeValidator(lambda v: None if v in (None, "") else one_of(v, allowed, what))


def _filter_tags(value: Any) -> list[str]:
    if isinstance(value, list | tuple) and len(value) > MAX_FILTER_VALUES:
        raise ValueError(f"at most {MAX_FILTER_VALUES} tags can be filtered on at once")
    return normalise_tags(value)


class VpsFilter(PageParams):
    status: Status | None = None
    country: Country | None = None
    provider_id: UUID | None = None
    provider: Annotated[str | None, Field(max_length=253)] = None  # id, id prefix or name
    purpose: Purpose | None = None
    tag: Annotated[list[str], BeforeValidator(_filter_tags)] = Field(default_factory=list)
    expiring_within_days: Annotated[int | None, Field(ge=0, le=36500)] = None
    search: Annotated[str | None, Field(max_length=200)] = None
    ip: Annotated[
        str | None, BeforeValidator(lambda v: None if v in (None, "") else parse_ip(v))
    ] = None
    # "overdue": the expiry date has passed; "soon": within vocab.DUE_SOON_DAYS (retired VPS
    # left out unless a status is asked for, as with expiring_within_days)
    expiry: Annotated[str | None, _optional_one_of(EXPIRY_STATES, "expiry")] = None
    # the agent's liveness: "online", "offline" (silent for longer than the configured
    # threshold) or "none" (no agent ever reported)
    agent: Annotated[str | None, _optional_one_of(AGENT_STATES, "agent state")] = None
    # the VPS whose traffic this billing period is at least this percentage of their quota
    # (VPS without a quota left out)
    over_quota: Annotated[Decimal | None, Field(ge=0, le=100_000)] = None
    # FIELD or FIELD:asc|desc, FIELD one of vocab.VPS_SORT_FIELDS; ties by hostname, then id.
    # None: by status, expiry (nulls last), hostname, id
    sort: Annotated[str | None, BeforeValidator(parse_sort)] = None
    page: int = 1
    per_page: int = 25

    @field_validator("country", mode="before")
    @classmethod
    def _empty_country(cls, v: Any) -> Any:
        return None if v == "" else v


class BulkResult(BaseModel):
    """What a bulk action did: how many VPS were selected, and how many it changed (retiring
    a retired VPS or adding a tag it already has changes nothing)."""

    selected: int
    changed: int
