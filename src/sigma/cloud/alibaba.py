"""Alibaba Cloud ECS: the instances of one or more regions (DescribeInstances, RPC API
version 2014-05-26), with the renewal flag of the subscription ones
(DescribeInstanceAutoRenewAttribute).

Every request is signed with signature version 1.0: the parameters (the common ones, the
action's, minus Signature) are percent-encoded by RFC 3986 (space %20, `*` %2A, `~` left as
is), sorted and joined into the canonicalised query; the string to sign is
"GET&%2F&" + percentEncode(canonicalisedQuery), signed by HMAC-SHA1 with the secret + "&" as
the key, base64-encoded. `sign` and `signed_query` are pure so that they can be checked
against the published example (tests/cloud/test_alibaba.py).

The account's option `region` is required: a RegionId (cn-hongkong) or several, comma
separated (cn-hongkong,ap-southeast-1); each is listed page by page (PageNumber / PageSize,
until PageSize * PageNumber reaches TotalCount). The endpoint is ecs.aliyuncs.com unless the
account's API base says otherwise (https://ecs.<region>.aliyuncs.com for a region the central
endpoint does not serve).

Alibaba answers a refused AccessKey with HTTP 400/404 and a JSON {"Code", "Message"}, which
the shared client reports as a plain ProviderError (with the parsed body); the codes of a
wrong AccessKey ID or secret (InvalidAccessKeyId.NotFound, InvalidAccessKeyId.Inactive,
SignatureDoesNotMatch, IncompleteSignature) are mapped here and become AuthFailed, and
Throttling* (HTTP 400 too, with no Retry-After) becomes RateLimited. Only an answer without
a Code (a gateway's) is judged by its documented message. Alibaba echoes the string it
signed (which holds the AccessKey ID) in a SignatureDoesNotMatch message, so no provider
message is passed on for those, and every other message is stripped of the credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sigma.cloud import base
from sigma.cloud.base import (
    Api,
    AuthFailed,
    Credentials,
    Instance,
    ProviderError,
    RateLimited,
    addresses,
    integer,
    scrub,
    shape,
    text,
    timestamp,
)

KIND = "alibaba"
TITLE = "Alibaba Cloud ECS"
API_BASE = "https://ecs.aliyuncs.com"
NEEDS = ("key_id", "secret")
HELP = (
    "a RAM user's AccessKey ID and AccessKey secret (RAM console > Users > AccessKey; "
    "AliyunECSReadOnlyAccess is enough), and the option region=cn-hongkong "
    "(several: region=cn-hongkong,ap-southeast-1)"
)

VERSION = "2014-05-26"
PAGE_SIZE = 100  # the documented maximum of DescribeInstances
RENEW_BATCH = 100  # instance ids of one DescribeInstanceAutoRenewAttribute call
# a RegionId: lower-case words joined by hyphens (cn-hongkong, ap-southeast-1); it is sent
# only as a parameter, but nothing else is accepted
_REGION = re.compile(r"^[a-z]{2,}(?:-[a-z0-9]+){1,4}$")
# ExpiredTime of a pay-as-you-go instance: a far-future placeholder, not an expiry
_NO_EXPIRY_YEAR = 2099

STATES = {
    "Running": "running",
    "Stopped": "stopped",
    "Starting": "pending",
    "Stopping": "pending",
    "Pending": "pending",
}
CHARGE_TYPES = {"PrePaid": "prepaid", "PostPaid": "postpaid"}

# RegionId -> (ISO country, city); the rest of cn-* is mainland China
REGIONS: dict[str, tuple[str, str]] = {
    "cn-qingdao": ("CN", "Qingdao"),
    "cn-beijing": ("CN", "Beijing"),
    "cn-zhangjiakou": ("CN", "Zhangjiakou"),
    "cn-huhehaote": ("CN", "Hohhot"),
    "cn-wulanchabu": ("CN", "Ulanqab"),
    "cn-hangzhou": ("CN", "Hangzhou"),
    "cn-shanghai": ("CN", "Shanghai"),
    "cn-nanjing": ("CN", "Nanjing"),
    "cn-fuzhou": ("CN", "Fuzhou"),
    "cn-shenzhen": ("CN", "Shenzhen"),
    "cn-heyuan": ("CN", "Heyuan"),
    "cn-guangzhou": ("CN", "Guangzhou"),
    "cn-chengdu": ("CN", "Chengdu"),
    "cn-wuhan-lr": ("CN", "Wuhan"),
    "cn-hongkong": ("HK", "Hong Kong"),
    "ap-southeast-1": ("SG", "Singapore"),
    "ap-southeast-2": ("AU", "Sydney"),
    "ap-southeast-3": ("MY", "Kuala Lumpur"),
    "ap-southeast-5": ("ID", "Jakarta"),
    "ap-southeast-6": ("PH", "Manila"),
    "ap-southeast-7": ("TH", "Bangkok"),
    "ap-northeast-1": ("JP", "Tokyo"),
    "ap-northeast-2": ("KR", "Seoul"),
    "ap-south-1": ("IN", "Mumbai"),
    "us-west-1": ("US", "Silicon Valley"),
    "us-east-1": ("US", "Virginia"),
    "eu-central-1": ("DE", "Frankfurt"),
    "eu-west-1": ("GB", "London"),
    "me-east-1": ("AE", "Dubai"),
    "me-central-1": ("SA", "Riyadh"),
    "na-south-1": ("MX", "Mexico City"),
}

# the error codes of a wrong AccessKey ID or secret, and the messages Alibaba documents for
# them (read only when an error answer has no Code)
AUTH_CODES = {
    "InvalidAccessKeyId.NotFound": (
        "specified access key is not found",
        "access key id provided does not exist",
        "accesskey id does not exist",
    ),
    "InvalidAccessKeyId.Inactive": ("specified access key is disabled",),
    "SignatureDoesNotMatch": (
        "specified signature is not matched with our calculation",
        "signature we calculated does not match",
        "signature you provided does not match",
    ),
    "IncompleteSignature": ("request signature does not conform to",),
}
# Throttling, Throttling.User, Throttling.Api: HTTP 400 (not 429); their messages, for an
# answer without a Code
THROTTLED = ("throttling", "request was denied due to")
THROTTLE_WAIT = 60.0  # seconds: Alibaba sends no Retry-After


def headers(credentials: Credentials) -> dict[str, str]:
    """Nothing: the AccessKey and the signature travel in the query."""
    _check(credentials)
    return {}


def _check(credentials: Credentials) -> None:
    if not credentials.key_id.strip() or not credentials.secret:
        raise AuthFailed("the account has no Alibaba Cloud AccessKey ID and secret")


# ---------------------------------------------------------------------------- signing


def percent_encode(value: str) -> str:
    """Alibaba's percentEncode: UTF-8, RFC 3986 (A-Z a-z 0-9 - _ . ~ as is, the rest %XY
    upper case), so a space is %20, `*` is %2A and `~` stays."""
    return quote(value, safe="")


def canonical_query(params: Mapping[str, str]) -> str:
    """The parameters percent-encoded, sorted by name, joined by & (Signature excluded by the
    caller)."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """The Signature of a request's parameters (without Signature): base64 of
    HMAC-SHA1(secret + "&", StringToSign)."""
    digest = hmac.new(
        f"{secret}&".encode(), string_to_sign(params, method).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """The query string of a signed GET: the parameters and their Signature, encoded the way
    they were signed."""
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    return canonical_query({**unsigned, "Signature": sign(unsigned, secret)})


def common_params(
    key_id: str, action: str, *, now: datetime | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The common parameters of an RPC request (a fresh Timestamp and SignatureNonce)."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return {
        "Format": "JSON",
        "Version": VERSION,
        "AccessKeyId": key_id,
        "SignatureMethod": "HMAC-SHA1",
        "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or str(uuid.uuid4()),
        "Action": action,
    }


# ---------------------------------------------------------------------------- the calls


def regions(credentials: Credentials) -> list[str]:
    """The RegionIds of the account's option `region` (comma separated, each once)."""
    raw = credentials.options.get("region", "") if credentials.options else ""
    listed: list[str] = []
    for part in str(raw).split(","):
        region = part.strip().lower()
        if not region:
            continue
        if not _REGION.match(region):
            raise ProviderError(
                f"Alibaba Cloud: the option region lists {text(region, 40)!r}, which is not "
                "a RegionId (cn-hongkong, ap-southeast-1, ...)"
            )
        if region not in listed:
            listed.append(region)
    if not listed:
        raise ProviderError(
            "Alibaba Cloud: the account needs the option region (a RegionId such as "
            "cn-hongkong; several comma separated)"
        )
    return listed


def instances(api: Api) -> list[Instance]:
    _check(api.credentials)
    found: list[Instance] = []
    seen: set[str] = set()
    for region in regions(api.credentials):
        listed = _region_instances(api, region)
        for instance in listed:
            if instance.instance_id in seen:
                raise ProviderError(
                    f"DescribeInstances: instance {instance.instance_id} is listed twice"
                )
            seen.add(instance.instance_id)
        found.extend(listed)
        if len(found) > base.MAX_ITEMS:
            raise ProviderError(f"DescribeInstances: more than {base.MAX_ITEMS} instances")
        _renewals(api, region, listed)
    return found


def _region_instances(api: Api, region: str) -> list[Instance]:
    listed: list[Instance] = []
    for page in range(1, base.MAX_PAGES + 1):
        where = f"DescribeInstances {region} page {page}"
        body = shape(
            call(
                api,
                "DescribeInstances",
                {"RegionId": region, "PageSize": str(PAGE_SIZE), "PageNumber": str(page)},
            ),
            dict,
            where,
        )
        holder = shape(body.get("Instances"), dict, f"{where}: Instances")
        items = shape(holder.get("Instance"), list, f"{where}: Instances.Instance")
        total = integer(body.get("TotalCount"))
        if total is None or total < 0:
            raise ProviderError(f"{where}: TotalCount is missing or not a count")
        listed.extend(_instance(item, region, where) for item in items)
        if len(listed) > base.MAX_ITEMS:
            raise ProviderError(f"DescribeInstances {region}: more than {base.MAX_ITEMS} instances")
        if not items or page * PAGE_SIZE >= total:
            return listed
    raise ProviderError(f"DescribeInstances {region}: more than {base.MAX_PAGES} pages; giving up")


def _instance(raw: Any, region: str, where: str) -> Instance:
    item = shape(raw, dict, f"{where}: an instance")
    instance_id = text(item.get("InstanceId"), 64)
    if not instance_id:
        raise ProviderError(f"{where}: an instance has no InstanceId")
    region = text(item.get("RegionId"), 64) or region
    country, city = place(region)
    charge_type = CHARGE_TYPES.get(text(item.get("InstanceChargeType")), "")
    ipv4 = addresses(_dig(item, "PublicIpAddress", "IpAddress"))
    eip = text(_dig(item, "EipAddress", "IpAddress"), 64)
    if eip and eip not in ipv4:
        ipv4.append(eip)
    return Instance(
        instance_id=instance_id,
        hostname=text(item.get("InstanceName")) or text(item.get("HostName")),
        ipv4=ipv4,
        ipv6=_ipv6(item),
        region=region,
        country=country,
        city=city,
        plan=text(item.get("InstanceType"), 64),
        cpu_cores=integer(item.get("Cpu")),
        ram_mb=integer(item.get("Memory")),
        expires_at=_expiry(item.get("ExpiredTime"), charge_type),
        charge_type=charge_type,
        state=STATES.get(text(item.get("Status")), "other"),
    )


def _renewals(api: Api, region: str, listed: list[Instance]) -> None:
    """Sets auto_renew of the subscription instances (DescribeInstanceAutoRenewAttribute, up
    to RENEW_BATCH ids a call). A refused AccessKey ends the sync; any other failure leaves
    auto_renew unknown (None)."""
    prepaid = [i for i in listed if i.charge_type == "prepaid"]
    by_id = {i.instance_id: i for i in prepaid}
    for start in range(0, len(prepaid), RENEW_BATCH):
        batch = [i.instance_id for i in prepaid[start : start + RENEW_BATCH]]
        where = f"DescribeInstanceAutoRenewAttribute {region}"
        try:
            body = shape(
                call(
                    api,
                    "DescribeInstanceAutoRenewAttribute",
                    {
                        "RegionId": region,
                        "InstanceId": ",".join(batch),
                        "PageSize": str(RENEW_BATCH),
                        "PageNumber": "1",
                    },
                ),
                dict,
                where,
            )
            holder = shape(body.get("InstanceRenewAttributes"), dict, where)
            attributes = shape(holder.get("InstanceRenewAttribute"), list, where)
        except AuthFailed:
            raise
        except RateLimited:
            return  # the listing is done; the flags wait for the next sync
        except ProviderError:
            continue
        for raw in attributes:
            if not isinstance(raw, dict):
                continue
            instance_id = text(raw.get("InstanceId"), 64)
            instance = by_id.get(instance_id) if instance_id in batch else None
            if instance is None:
                continue
            enabled = raw.get("AutoRenewEnabled")
            if isinstance(enabled, bool):
                instance.auto_renew = enabled
            elif isinstance(raw.get("RenewalStatus"), str):
                instance.auto_renew = raw["RenewalStatus"] == "AutoRenewal"


def call(api: Api, action: str, params: Mapping[str, str]) -> Any:
    """One signed RPC call: its parsed JSON, or the error (credentials never in it)."""
    credentials = api.credentials
    query = signed_query(
        {**common_params(credentials.key_id, action), **params}, credentials.secret
    )
    try:
        return api.get_json("/?" + query)
    except ProviderError as exc:
        raise _translated(exc, action, credentials) from None


def _translated(exc: ProviderError, action: str, credentials: Credentials) -> ProviderError:
    code = error_code(exc)
    refused = code if code in AUTH_CODES else ("" if code else _auth_by_message(exc))
    if refused:
        return AuthFailed(
            f"Alibaba Cloud {action}: the AccessKey was refused ({refused}); "
            "check the AccessKey ID and secret",
            status=exc.status,
        )
    # the shared client names the path "/" (the query, which holds the signature, is cut)
    message = scrub(str(exc).removeprefix("/: "), credentials)
    message = f"Alibaba Cloud {action}: {message}" + (f" [{text(code, 80)}]" if code else "")
    if isinstance(exc, RateLimited):
        return RateLimited(message, exc.retry_after)
    if isinstance(exc, AuthFailed):
        return AuthFailed(message, status=exc.status, body=exc.body)
    throttled = code.startswith("Throttling") if code else _throttled_by_message(exc)
    if throttled:
        return RateLimited(message, THROTTLE_WAIT)
    return ProviderError(message, status=exc.status, body=exc.body)


def error_code(exc: ProviderError) -> str:
    """The `Code` of an Alibaba error answer ("" when the answer had none)."""
    body = exc.body
    code = body.get("Code") if isinstance(body, dict) else None
    return code.strip() if isinstance(code, str) else ""


def _auth_by_message(exc: ProviderError) -> str:
    """For an answer without a Code: the AUTH_CODES code its documented message stands for."""
    message = str(exc).lower()
    for name, phrases in AUTH_CODES.items():
        if any(phrase in message for phrase in phrases):
            return name
    return ""


def _throttled_by_message(exc: ProviderError) -> bool:
    message = str(exc).lower()
    return any(phrase in message for phrase in THROTTLED)


# ---------------------------------------------------------------------------- helpers


def _dig(item: Mapping[str, Any], *keys: str) -> Any:
    value: Any = item
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _ipv6(item: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    interfaces = _dig(item, "NetworkInterfaces", "NetworkInterface")
    for interface in interfaces if isinstance(interfaces, list) else []:
        sets = _dig(interface, "Ipv6Sets", "Ipv6Set")
        for entry in sets if isinstance(sets, list) else []:
            address = text(_dig(entry, "Ipv6Address"), 64)
            if address and address not in found:
                found.append(address)
    return found


def place(region: str) -> tuple[str, str]:
    """The country (ISO alpha-2) and city of a RegionId ("" when not known)."""
    if region in REGIONS:
        return REGIONS[region]
    if region.startswith("cn-"):
        return "CN", ""
    return "", ""


def _expiry(value: Any, charge_type: str) -> datetime | None:
    """ExpiredTime ("2026-12-31T16:00Z") of a subscription instance; None for a
    pay-as-you-go one (which carries a far-future placeholder) and for anything unreadable."""
    if charge_type == "postpaid":
        return None
    when = timestamp(value) if isinstance(value, str) else None
    if when is None or when.year >= _NO_EXPIRY_YEAR:
        return None
    return when
