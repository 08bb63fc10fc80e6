"""Linode (Akamai Cloud): the Linodes of an account.

`GET /v4/linode/instances?page=N&page_size=100` ("List Linodes", techdocs.akamai.com/linode-api)
with a personal access token (`Authorization: Bearer ...`); an answer is `{data, page, pages,
results}` and the pages end at `pages`. Read per Linode: `id`, `label`, `status`, `ipv4[]`
(the private 192.168.x addresses left out), `ipv6` ("addr/128"), `region` (mapped to its
country here), `type`, `specs` (`vcpus`, `memory` MB, `disk` MB, `transfer` GB a month).

A Linode has no price: it is its type's, from `GET /v4/linode/types` (paged the same way):
`price.monthly` in USD, or `region_prices[]` where the Linode's region has its own. That
listing is read once; when it fails (other than for the token) the prices stay unknown.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sigma.cloud import base
from sigma.cloud.base import (
    Api,
    AuthFailed,
    Credentials,
    Instance,
    ProviderError,
    bearer,
    integer,
    money,
    shape,
    text,
)

KIND = "linode"
TITLE = "Linode (Akamai)"
API_BASE = "https://api.linode.com"
NEEDS = ("token",)
HELP = "A personal access token from cloud.linode.com > API Tokens (Linodes: Read Only)"

INSTANCES = "/v4/linode/instances"
TYPES = "/v4/linode/types"
PER_PAGE = 100
CURRENCY = "USD"
# the documented regions (GET /v4/regions): id -> (country, city)
REGIONS = {
    "us-east": ("US", "Newark"), "us-central": ("US", "Dallas"), "us-west": ("US", "Fremont"),
    "us-southeast": ("US", "Atlanta"), "us-iad": ("US", "Washington"),
    "us-ord": ("US", "Chicago"), "us-sea": ("US", "Seattle"), "us-mia": ("US", "Miami"),
    "us-lax": ("US", "Los Angeles"), "ca-central": ("CA", "Toronto"),
    "br-gru": ("BR", "São Paulo"), "eu-west": ("GB", "London"), "gb-lon": ("GB", "London"),
    "eu-central": ("DE", "Frankfurt"), "de-fra-2": ("DE", "Frankfurt"),
    "fr-par": ("FR", "Paris"), "nl-ams": ("NL", "Amsterdam"), "se-sto": ("SE", "Stockholm"),
    "es-mad": ("ES", "Madrid"), "it-mil": ("IT", "Milan"), "ap-south": ("SG", "Singapore"),
    "sg-sin-2": ("SG", "Singapore"), "ap-northeast": ("JP", "Tokyo"),
    "jp-tyo-3": ("JP", "Tokyo"), "jp-osa": ("JP", "Osaka"), "ap-west": ("IN", "Mumbai"),
    "in-bom-2": ("IN", "Mumbai"), "in-maa": ("IN", "Chennai"),
    "ap-southeast": ("AU", "Sydney"), "au-mel": ("AU", "Melbourne"),
    "id-cgk": ("ID", "Jakarta"),
}  # fmt: skip
STATES = {
    "running": "running", "offline": "stopped", "stopped": "stopped",
    "provisioning": "pending", "booting": "pending", "rebooting": "pending",
}  # fmt: skip
PRIVATE = ipaddress.ip_network("192.168.0.0/16")  # Linode's private IPv4 (192.168.128.0/17)

log = logging.getLogger(__name__)


def headers(credentials: Credentials) -> dict[str, str]:
    return bearer(credentials, "Linode")


def instances(api: Api) -> list[Instance]:
    found: dict[str, Instance] = {}
    for item in _listing(api, INSTANCES):
        server = _instance(item)
        if server.instance_id in found:
            raise ProviderError(
                f"{INSTANCES}: the Linode id {server.instance_id!r} is listed twice"
            )
        found[server.instance_id] = server
    if any(server.plan for server in found.values()):
        prices = _prices(api)
        for server in found.values():
            default, by_region = prices.get(server.plan, (None, {}))
            server.price_monthly = by_region.get(server.region, default)
            server.currency = CURRENCY if server.price_monthly is not None else ""
    return list(found.values())


def _prices(api: Api) -> dict[str, tuple[Decimal | None, dict[str, Decimal]]]:
    """Each type's monthly price, and the regions that have their own."""
    prices: dict[str, tuple[Decimal | None, dict[str, Decimal]]] = {}
    try:
        for item in _listing(api, TYPES):
            by_region: dict[str, Decimal] = {}
            regional = item.get("region_prices")
            for entry in regional if isinstance(regional, list) else []:
                price = money(_obj(entry).get("monthly"))
                if price is not None:
                    by_region[text(_obj(entry).get("id"), 32)] = price
            price = money(_obj(item.get("price")).get("monthly"))
            prices[text(item.get("id"), 64)] = (price, by_region)
    except AuthFailed:
        raise
    except ProviderError as exc:
        log.info("Linode types not read, prices unknown: %s", exc)
        return {}
    return prices


def _listing(api: Api, path: str) -> Iterator[dict[str, Any]]:
    """The objects of a paged listing's `data`, page after page up to `pages`."""

    def next_page(body: Any) -> str | None:
        doc = shape(body, dict, path)
        page, pages = _natural(doc.get("page")), _natural(doc.get("pages"))
        if not page or pages is None:
            raise ProviderError(f"{path}: the answer has no page numbers (page, pages)")
        return f"{path}?page={page + 1}&page_size={PER_PAGE}" if page < pages else None

    count = 0
    for body in api.pages_of(f"{path}?page=1&page_size={PER_PAGE}", next_page):
        items = shape(shape(body, dict, path).get("data"), list, f"{path}: data")
        count += len(items)
        if count > base.MAX_ITEMS:
            raise ProviderError(f"{path}: more than {base.MAX_ITEMS} items; giving up")
        for item in items:
            yield shape(item, dict, f"{path}: an item of data")


def _instance(item: dict[str, Any]) -> Instance:
    ident = _natural(item.get("id"))
    if not ident:
        raise ProviderError(f"{INSTANCES}: a Linode without an id")
    region = text(item.get("region"), 32).lower()
    country, city = REGIONS.get(region, ("", ""))
    specs = _obj(item.get("specs"))
    disk = integer(specs.get("disk"))  # MB
    ipv6 = text(item.get("ipv6"), 64).split("/", 1)[0]
    return Instance(
        instance_id=str(ident),
        hostname=text(item.get("label")),
        ipv4=_public(item.get("ipv4")),
        ipv6=[ipv6] if ipv6 else [],
        region=region,
        country=country,
        city=city,
        plan=text(item.get("type"), 64),
        cpu_cores=integer(specs.get("vcpus")),
        ram_mb=integer(specs.get("memory")),
        disk_gb=None if disk is None else round(disk / 1024),
        traffic_quota_gb=integer(specs.get("transfer")),
        state=STATES.get(text(item.get("status"), 32), "other"),
    )


def _public(values: Any) -> list[str]:
    """The addresses of `ipv4` but the private ones (192.168.x); anything that is not an
    address is kept for the services to refuse."""
    found = []
    for value in values if isinstance(values, list) else []:
        address = text(value, 64)
        try:
            private = ipaddress.ip_address(address) in PRIVATE
        except ValueError:
            private = False
        if address and not private and address not in found:
            found.append(address)
    return found


def _natural(value: Any) -> int | None:
    """A JSON integer of at least 0 (an id, a page number), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
