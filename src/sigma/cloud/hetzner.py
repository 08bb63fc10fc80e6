"""Hetzner Cloud: the servers of one project.

`GET /v1/servers?page=N&per_page=50` ("List Servers", docs.hetzner.cloud) with a project's
API token (`Authorization: Bearer ...`); pages end where `meta.pagination.next_page` is null.
Read per server: `id`, `name`, `status`, `public_net.ipv4.ip`, `public_net.ipv6.ip`,
`server_type` (`name`, `cores`, `memory` in GB, `disk` in GB, `prices[]` per location with
`price_monthly.gross` in EUR and `included_traffic`), `location` (`name`, `country`, `city`;
the deprecated `datacenter.location` when it is missing), `included_traffic` and
`outgoing_traffic` (bytes, this billing period).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sigma.cloud import base
from sigma.cloud.base import (
    Api,
    Credentials,
    Instance,
    ProviderError,
    bearer,
    integer,
    money,
    shape,
    text,
)

KIND = "hetzner"
TITLE = "Hetzner Cloud"
API_BASE = "https://api.hetzner.cloud"
NEEDS = ("token",)
HELP = "An API token from Cloud Console > your project > Security > API Tokens (Read is enough)"

PATH = "/v1/servers"
PER_PAGE = 50
CURRENCY = "EUR"  # the documented currency of Hetzner Cloud prices (GET /v1/pricing)
# the documented locations, for an answer that names the location but not its country
LOCATIONS = {"fsn1": "DE", "nbg1": "DE", "hel1": "FI", "ash": "US", "hil": "US", "sin": "SG"}
STATES = {"running": "running", "off": "stopped", "initializing": "pending", "starting": "pending"}


def headers(credentials: Credentials) -> dict[str, str]:
    return bearer(credentials, "Hetzner Cloud")


def instances(api: Api) -> list[Instance]:
    found: dict[str, Instance] = {}
    for body in api.pages_of(_page(1), _next_page):
        doc = shape(body, dict, PATH)
        for item in shape(doc.get("servers"), list, f"{PATH}: servers"):
            server = _instance(shape(item, dict, f"{PATH}: a server"))
            if server.instance_id in found:
                raise ProviderError(f"{PATH}: the server id {server.instance_id!r} is listed twice")
            found[server.instance_id] = server
            if len(found) > base.MAX_ITEMS:
                raise ProviderError(f"{PATH}: more than {base.MAX_ITEMS} servers; giving up")
    return list(found.values())


def _page(number: int) -> str:
    return f"{PATH}?page={number}&per_page={PER_PAGE}"


def _next_page(body: Any) -> str | None:
    meta = shape(shape(body, dict, PATH).get("meta"), dict, f"{PATH}: meta")
    pagination = shape(meta.get("pagination"), dict, f"{PATH}: meta.pagination")
    number = pagination.get("next_page")
    if number is None:
        return None
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ProviderError(f"{PATH}: meta.pagination.next_page is not a page number")
    return _page(number)


def _instance(item: dict[str, Any]) -> Instance:
    ident = item.get("id")
    if not isinstance(ident, int) or isinstance(ident, bool) or ident < 1:
        raise ProviderError(f"{PATH}: a server without an id")
    public = _obj(item.get("public_net"))
    kind = _obj(item.get("server_type"))
    location = _obj(item.get("location")) or _obj(_obj(item.get("datacenter")).get("location"))
    where = text(location.get("name"), 32)
    price: dict[str, Any] = {}  # the server type's prices in the server's location
    for entry in _list(kind.get("prices")):
        if where and _obj(entry).get("location") == where:
            price = _obj(entry)
            break
    ipv4 = text(_obj(public.get("ipv4")).get("ip"), 64)  # null on an IPv6-only server
    monthly = money(_obj(price.get("price_monthly")).get("gross"))
    memory = _number(kind.get("memory"))  # GB, a float ("0.5" once, 2.0, 4.0 ...)
    quota = _number(item.get("included_traffic"))
    if quota is None:
        quota = _number(price.get("included_traffic"))
    used = integer(item.get("outgoing_traffic"))
    return Instance(
        instance_id=str(ident),
        hostname=text(item.get("name")),
        ipv4=[ipv4] if ipv4 else [],
        ipv6=_ipv6(_obj(public.get("ipv6")).get("ip")),
        region=where,
        country=_country(location.get("country"), where),
        city=text(location.get("city"), 64),
        plan=text(kind.get("name"), 64),
        cpu_cores=integer(kind.get("cores")),
        ram_mb=None if memory is None else round(memory * 1024),
        disk_gb=integer(kind.get("disk")),
        price_monthly=monthly,
        currency=CURRENCY if monthly is not None else "",
        traffic_used_bytes=used if used is not None and used >= 0 else None,
        traffic_quota_gb=None if quota is None else round(quota / 1e9),
        state=STATES.get(text(item.get("status"), 32), "other"),
    )


def _ipv6(value: Any) -> list[str]:
    """`public_net.ipv6.ip` is the /64 network the server was given ("2a01:4f8:c0c:1a2b::/64").
    Hetzner's images configure the network's first address (network + 1, "...::1") on the
    server, and that is the documented address of a server: it is the one kept."""
    raw = text(value, 64)
    if not raw:
        return []
    try:
        network = ipaddress.IPv6Network(raw, strict=False)
    except ValueError:
        return [raw]  # the services validate (and refuse) it, with the provider's value
    if network.prefixlen == 128:
        return [str(network.network_address)]
    return [str(network.network_address + 1)]


def _country(value: Any, location: str) -> str:
    code = text(value, 8).upper()
    if len(code) == 2 and code.isascii() and code.isalpha():
        return code
    return LOCATIONS.get(location, "")


def _number(value: Any) -> float | None:
    """A non-negative JSON number (an int or a float), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < 1e18 else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
