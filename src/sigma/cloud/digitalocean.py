"""DigitalOcean: the Droplets of an account (or team).

`GET /v2/droplets?page=N&per_page=200` ("List All Droplets", docs.digitalocean.com/reference/api)
with a personal access token (`Authorization: Bearer ...`); pages follow `links.pages.next`,
an absolute URL, absent on the last page. Such a link is only followed under the account's
API base: the token is never sent to another host. Read per Droplet: `id`, `name`, `status`
(new, active, off, archive), `networks.v4[]` / `networks.v6[]` (`ip_address` of `type`
public), `region.slug` (mapped to its country here), `size_slug`, `vcpus`, `memory` (MB),
`disk` (GB), `size.price_monthly` (USD) and `size.transfer` (the monthly quota, TB).
"""

from __future__ import annotations

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

KIND = "digitalocean"
TITLE = "DigitalOcean"
API_BASE = "https://api.digitalocean.com"
NEEDS = ("token",)
HELP = "A personal access token from cloud.digitalocean.com > API > Tokens (read scope)"

PATH = "/v2/droplets"
PER_PAGE = 200
CURRENCY = "USD"
# the documented regions (GET /v2/regions): slug -> (country, city)
REGIONS = {
    "nyc1": ("US", "New York"), "nyc2": ("US", "New York"), "nyc3": ("US", "New York"),
    "sfo1": ("US", "San Francisco"), "sfo2": ("US", "San Francisco"),
    "sfo3": ("US", "San Francisco"), "atl1": ("US", "Atlanta"), "tor1": ("CA", "Toronto"),
    "ams2": ("NL", "Amsterdam"), "ams3": ("NL", "Amsterdam"), "lon1": ("GB", "London"),
    "fra1": ("DE", "Frankfurt"), "sgp1": ("SG", "Singapore"), "blr1": ("IN", "Bangalore"),
    "syd1": ("AU", "Sydney"),
}  # fmt: skip
STATES = {"active": "running", "off": "stopped", "new": "pending"}  # archive: other


def headers(credentials: Credentials) -> dict[str, str]:
    return bearer(credentials, "DigitalOcean")


def instances(api: Api) -> list[Instance]:
    found: dict[str, Instance] = {}
    first = f"{PATH}?page=1&per_page={PER_PAGE}"
    for body in api.pages_of(first, lambda body: _next_page(api, body)):
        doc = shape(body, dict, PATH)
        for item in shape(doc.get("droplets"), list, f"{PATH}: droplets"):
            server = _instance(shape(item, dict, f"{PATH}: a droplet"))
            if server.instance_id in found:
                raise ProviderError(
                    f"{PATH}: the droplet id {server.instance_id!r} is listed twice"
                )
            found[server.instance_id] = server
            if len(found) > base.MAX_ITEMS:
                raise ProviderError(f"{PATH}: more than {base.MAX_ITEMS} droplets; giving up")
    return list(found.values())


def _next_page(api: Api, body: Any) -> str | None:
    links = shape(body, dict, PATH).get("links")
    pages = shape(links, dict, f"{PATH}: links").get("pages")
    if pages is None:
        return None
    link = shape(pages, dict, f"{PATH}: links.pages").get("next")
    if link is None:
        return None
    if not isinstance(link, str) or len(link) > 2048:
        raise ProviderError(f"{PATH}: links.pages.next is not a link")
    if not link.startswith(api.base + "/"):
        # the token goes with every request: never to a host the account does not name
        raise ProviderError(
            f"{PATH}: links.pages.next leads away from {api.base} ({text(link, 80)!r}); "
            "not followed"
        )
    return link


def _instance(item: dict[str, Any]) -> Instance:
    ident = item.get("id")
    if not isinstance(ident, int) or isinstance(ident, bool) or ident < 1:
        raise ProviderError(f"{PATH}: a droplet without an id")
    networks = _obj(item.get("networks"))
    region = text(_obj(item.get("region")).get("slug"), 32).lower()
    country, city = REGIONS.get(region, ("", ""))
    size = _obj(item.get("size"))
    price = money(size.get("price_monthly"))
    return Instance(
        instance_id=str(ident),
        hostname=text(item.get("name")),
        ipv4=_public(networks.get("v4")),
        ipv6=_public(networks.get("v6")),
        region=region,
        country=country,
        city=city,
        plan=text(item.get("size_slug"), 64) or text(size.get("slug"), 64),
        cpu_cores=integer(item.get("vcpus")),
        ram_mb=integer(item.get("memory")),
        disk_gb=integer(item.get("disk")),
        price_monthly=price,
        currency=CURRENCY if price is not None else "",
        traffic_quota_gb=_gigabytes(size.get("transfer")),
        state=STATES.get(text(item.get("status"), 32), "other"),
    )


def _public(networks: Any) -> list[str]:
    """The `ip_address` of each public network (the private and VPC ones are not kept)."""
    found = []
    for network in networks if isinstance(networks, list) else []:
        if isinstance(network, dict) and network.get("type") == "public":
            address = text(network.get("ip_address"), 64)
            if address and address not in found:
                found.append(address)
    return found


def _gigabytes(terabytes: Any) -> int | None:
    """`size.transfer` (TB a month, 0.5, 1.0, 4 ...) in GB; None for anything else."""
    if isinstance(terabytes, bool) or not isinstance(terabytes, int | float):
        return None
    return round(terabytes * 1000) if 0 <= terabytes < 1e9 else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
