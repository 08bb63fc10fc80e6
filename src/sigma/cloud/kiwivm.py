"""BandwagonHost KiwiVM: one VPS per account (its VEID and its API key), from
GET /v1/getServiceInfo?veid=VEID&api_key=KEY on api.64clouds.com.

Every answer carries `error`: 0 is success; anything else fails, and 700005 ("Authentication
failure", a wrong VEID or API key) is AuthFailed. Sizes are bytes: plan_ram (-> MiB),
plan_disk (-> GiB), plan_monthly_data (the monthly quota) and data_counter (used this
period), the last two to be multiplied by monthly_data_multiplier (a location's bandwidth
coefficient) as the API documents; the quota is reported in GB (10^9 bytes), like
traffic_used_bytes. data_next_reset (Unix time) is the period's next reset.

getServiceInfo has no power state (that is getLiveServiceInfo, slow and KVM only): a
suspended VPS is "stopped", a `ve_status` is used when the answer carries one, and the state
is "other" otherwise. There is one VPS and no pagination.
"""

from __future__ import annotations

from datetime import UTC, date
from decimal import Decimal, InvalidOperation
from typing import Any

from sigma.cloud.base import (
    Api,
    AuthFailed,
    Credentials,
    Instance,
    ProviderError,
    integer,
    scrub,
    scrubbed,
    shape,
    split_addresses,
    text,
    timestamp,
)

KIND = "kiwivm"
TITLE = "BandwagonHost KiwiVM"
API_BASE = "https://api.64clouds.com"
NEEDS = ("key_id", "token")
HELP = (
    "the VPS's VEID (as the key id) and its API key (as the token): KiwiVM control panel > "
    "API; one account per VPS"
)

AUTH_ERRORS = {700005}  # "Authentication failure"
STATES = {"running": "running", "stopped": "stopped", "starting": "pending"}
GB = 10**9
# node_location's first part (a country's code or name) -> ISO 3166-1 alpha-2
COUNTRIES = {
    "USA": "US",
    "UNITED STATES": "US",
    "CANADA": "CA",
    "NETHERLANDS": "NL",
    "THE NETHERLANDS": "NL",
    "JAPAN": "JP",
    "HONG KONG": "HK",
    "SINGAPORE": "SG",
    "UK": "GB",
    "UNITED KINGDOM": "GB",
    "AUSTRALIA": "AU",
    "FRANCE": "FR",
    "GERMANY": "DE",
    "ITALY": "IT",
    "SPAIN": "ES",
    "UAE": "AE",
    "UNITED ARAB EMIRATES": "AE",
    "CHINA": "CN",
}
_NOT_COUNTRIES = {"EU"}


def headers(credentials: Credentials) -> dict[str, str]:
    """Nothing: the VEID and the API key travel in the query."""
    _check(credentials)
    return {}


def _check(credentials: Credentials) -> str:
    """The VEID, once the credentials are there and the VEID is a number."""
    veid = credentials.key_id.strip()
    if not veid or not credentials.token.strip():
        raise AuthFailed("the account has no KiwiVM VEID (key id) and API key (token)")
    if not veid.isdigit() or len(veid) > 20:  # never the value itself in the message
        raise AuthFailed("the KiwiVM key id must be the VPS's VEID, a number")
    return veid


def instances(api: Api) -> list[Instance]:
    credentials = api.credentials
    veid = _check(credentials)
    try:
        body = api.get_json(
            "/v1/getServiceInfo", {"veid": veid, "api_key": credentials.token.strip()}
        )
    except ProviderError as exc:
        raise scrubbed(exc, credentials) from None
    doc = shape(body, dict, "getServiceInfo")
    _check_error(doc, credentials)
    return [_instance(veid, doc)]


def _check_error(doc: dict[str, Any], credentials: Credentials) -> None:
    if "error" not in doc:
        raise ProviderError("getServiceInfo: the answer has no error field")
    code = integer(doc["error"])
    if code is None:
        raise ProviderError("getServiceInfo: the error field is not a number")
    if code == 0:
        return
    message = scrub(text(doc.get("message"), 160), credentials)
    detail = f" ({message})" if message else ""
    if code in AUTH_ERRORS or "authentication" in message.lower():
        raise AuthFailed(
            f"getServiceInfo: KiwiVM refused the VEID and API key (error {code}{detail}); "
            "check both in KiwiVM > API"
        )
    raise ProviderError(f"getServiceInfo: KiwiVM error {code}{detail}")


def _instance(veid: str, doc: dict[str, Any]) -> Instance:
    raw_addresses = doc.get("ip_addresses", [])
    if raw_addresses is None:
        raw_addresses = []
    ipv4, ipv6 = split_addresses(shape(raw_addresses, list, "getServiceInfo: ip_addresses"))
    location = text(doc.get("node_location"), 120)
    multiplier = _multiplier(doc.get("monthly_data_multiplier"))
    quota = integer(doc.get("plan_monthly_data"))
    used = integer(doc.get("data_counter"))
    ram = integer(doc.get("plan_ram"))
    disk = integer(doc.get("plan_disk"))
    return Instance(
        instance_id=veid,
        hostname=text(doc.get("hostname")),
        ipv4=ipv4,
        ipv6=ipv6,
        region=location,
        country=country_of(location),
        plan=text(doc.get("plan"), 120),
        ram_mb=ram // 2**20 if ram else None,
        disk_gb=disk // 2**30 if disk else None,
        traffic_quota_gb=(
            int((quota * multiplier / GB).to_integral_value())
            if quota and multiplier is not None
            else None
        ),
        traffic_used_bytes=(
            int(used * multiplier) if used is not None and multiplier is not None else None
        ),
        traffic_reset=_reset(doc.get("data_next_reset")),
        state=_state(doc),
    )


def country_of(location: str) -> str:
    """The country of a node_location ("US, California" -> US; "" when not obvious)."""
    first = location.split(",", 1)[0].strip().upper()
    if first in _NOT_COUNTRIES:
        return ""
    if first in COUNTRIES:
        return COUNTRIES[first]
    if len(first) == 2 and first.isalpha() and first.isascii():
        return first
    return ""


def _multiplier(value: Any) -> Decimal | None:
    """monthly_data_multiplier (1 when absent); None when it is not a sane positive number."""
    if value is None or value == "":
        return Decimal(1)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0 or number > 1000:
        return None
    return number


def _reset(value: Any) -> date | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    when = timestamp(value)
    return when.astimezone(UTC).date() if when else None


def _state(doc: dict[str, Any]) -> str:
    status = text(doc.get("ve_status")).lower()
    if status in STATES:
        return STATES[status]
    suspended = doc.get("suspended")
    if suspended is True or integer(suspended) == 1:
        return "stopped"
    return "other"
