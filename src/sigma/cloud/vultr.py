"""Vultr: the cloud compute instances of an account.

`GET /v2/instances?per_page=100` ("List Instances", www.vultr.com/api) with an API key
(`Authorization: Bearer ...`); pages follow the cursor `meta.links.next` (`&cursor=...`),
"" on the last page. Read per instance: `id`, `hostname` (`label` when it is empty),
`main_ip`, `v6_main_ip`, `region` (an airport-like code, mapped to its country here), `plan`,
`vcpu_count`, `ram` (MB), `disk` (GB), `allowed_bandwidth` (the monthly quota, GB), `status`
and `power_status`. An instance has no price: that is the plan's (`GET /v2/plans`), not read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sigma.cloud import base
from sigma.cloud.base import (
    Api,
    Credentials,
    Instance,
    ProviderError,
    bearer,
    integer,
    shape,
    text,
)

KIND = "vultr"
TITLE = "Vultr"
API_BASE = "https://api.vultr.com"
NEEDS = ("token",)
HELP = "The API key from my.vultr.com > Account > API (allow the IP sigma syncs from)"

PATH = "/v2/instances"
PER_PAGE = 100
# the documented regions (GET /v2/regions): code -> (country, city)
REGIONS = {
    "ams": ("NL", "Amsterdam"), "atl": ("US", "Atlanta"), "blr": ("IN", "Bangalore"),
    "bom": ("IN", "Mumbai"), "cdg": ("FR", "Paris"), "del": ("IN", "Delhi NCR"),
    "dfw": ("US", "Dallas"), "ewr": ("US", "New Jersey"), "fra": ("DE", "Frankfurt"),
    "hnl": ("US", "Honolulu"), "icn": ("KR", "Seoul"), "itm": ("JP", "Osaka"),
    "jnb": ("ZA", "Johannesburg"), "lax": ("US", "Los Angeles"), "lhr": ("GB", "London"),
    "mad": ("ES", "Madrid"), "man": ("GB", "Manchester"), "mel": ("AU", "Melbourne"),
    "mex": ("MX", "Mexico City"), "mia": ("US", "Miami"), "nrt": ("JP", "Tokyo"),
    "ord": ("US", "Chicago"), "sao": ("BR", "São Paulo"), "scl": ("CL", "Santiago"),
    "sea": ("US", "Seattle"), "sgp": ("SG", "Singapore"), "sjc": ("US", "Silicon Valley"),
    "sto": ("SE", "Stockholm"), "syd": ("AU", "Sydney"), "tlv": ("IL", "Tel Aviv"),
    "waw": ("PL", "Warsaw"), "yto": ("CA", "Toronto"),
}  # fmt: skip
POWER = {"running": "running", "stopped": "stopped"}
# what Vultr shows for an address not assigned yet (a pending instance)
NO_ADDRESS = {"", "0.0.0.0", "::"}


def headers(credentials: Credentials) -> dict[str, str]:
    return bearer(credentials, "Vultr", "key")


def instances(api: Api) -> list[Instance]:
    found: dict[str, Instance] = {}
    for body in api.pages_of(_page(""), _next_page):
        doc = shape(body, dict, PATH)
        for item in shape(doc.get("instances"), list, f"{PATH}: instances"):
            server = _instance(shape(item, dict, f"{PATH}: an instance"))
            if server.instance_id in found:
                raise ProviderError(
                    f"{PATH}: the instance id {server.instance_id!r} is listed twice"
                )
            found[server.instance_id] = server
            if len(found) > base.MAX_ITEMS:
                raise ProviderError(f"{PATH}: more than {base.MAX_ITEMS} instances; giving up")
    return list(found.values())


def _page(cursor: str) -> str:
    query = {"per_page": PER_PAGE, **({"cursor": cursor} if cursor else {})}
    return f"{PATH}?{urlencode(query)}"


def _next_page(body: Any) -> str | None:
    meta = shape(shape(body, dict, PATH).get("meta"), dict, f"{PATH}: meta")
    links = shape(meta.get("links"), dict, f"{PATH}: meta.links")
    cursor = links.get("next")
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str) or len(cursor) > 1024:
        raise ProviderError(f"{PATH}: meta.links.next is not a page cursor")
    return _page(cursor)


def _instance(item: dict[str, Any]) -> Instance:
    ident = item.get("id")
    if not isinstance(ident, str) or not text(ident, 64):
        raise ProviderError(f"{PATH}: an instance without an id")
    region = text(item.get("region"), 32).lower()
    country, city = REGIONS.get(region, ("", ""))
    status = text(item.get("status"), 32)
    if status == "active":
        state = POWER.get(text(item.get("power_status"), 32), "other")
    else:
        state = "pending" if status == "pending" else "other"  # suspended, resizing
    return Instance(
        instance_id=text(ident, 64),
        hostname=text(item.get("hostname")) or text(item.get("label")),
        ipv4=_address(item.get("main_ip")),
        ipv6=_address(item.get("v6_main_ip")),
        region=region,
        country=country,
        city=city,
        plan=text(item.get("plan"), 64),
        cpu_cores=integer(item.get("vcpu_count")),
        ram_mb=integer(item.get("ram")),
        disk_gb=integer(item.get("disk")),
        traffic_quota_gb=_whole(item.get("allowed_bandwidth")),
        state=state,
    )


def _address(value: Any) -> list[str]:
    address = text(value, 64)
    return [] if address in NO_ADDRESS else [address]


def _whole(value: Any) -> int | None:
    """A non-negative JSON number, rounded to a whole one; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(value) if 0 <= value < 1e15 else None
