"""Virtualizor, the end-user API of a hosting provider's panel: the account's virtual servers
(GET /index.php?act=listvs&api=json&apikey=KEY&apipass=PASS&page=N&reslen=LEN).

There is no default endpoint: each provider runs its own panel, so the account's API base is
required (--api-base https://panel.example.com:4083). The credentials are the panel's API
key (key id) and API pass (secret), made under the panel's API Credentials.

`vs` is an object keyed by vpsid (an empty list when there are none). Of each server:
hostname, ips (an object or a list; v4 and v6 are told apart), cores, ram (MB), space (GB),
bandwidth (the monthly allowance in GB, 0 for unlimited: traffic_quota_gb) and the used
bandwidth of the month (GB: traffic_used_bytes, 10^9 bytes a GB), status (1 running, 0
stopped) and suspended (a suspended server is stopped).

Pages are asked for with page/reslen until one comes back short; a panel that ignores `page`
(the same servers again) ends the listing. A wrong key or pass comes back as a JSON error (or
the login act), which is AuthFailed; the panel's HTML login page is a ProviderError (the
shared client's rule for HTML).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sigma.cloud import base
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
)

KIND = "virtualizor"
TITLE = "Virtualizor (end-user API)"
API_BASE = ""  # the provider's panel: --api-base https://panel.example.com:4083 is required
NEEDS = ("key_id", "secret")
HELP = (
    "the panel's API key (key id) and API pass (secret): Virtualizor panel > API Credentials; "
    "--api-base is required (the panel, e.g. https://panel.example.com:4083)"
)

PAGE_LEN = 50  # reslen: the panel's documented default page length
GB = 10**9
# words of the panel's error about a wrong API key or pass
AUTH_WORDS = (
    "api key",
    "apikey",
    "api pass",
    "apipass",
    "api credential",
    "authenticat",
    "not logged in",
    "login",
    "unauthori",
    "access denied",
    "permission",
)


def headers(credentials: Credentials) -> dict[str, str]:
    """Nothing: the API key and pass travel in the query (the panel knows no other way)."""
    _check(credentials)
    return {}


def _check(credentials: Credentials) -> None:
    if not credentials.key_id.strip() or not credentials.secret.strip():
        raise AuthFailed("the account has no Virtualizor API key (key id) and API pass (secret)")


def instances(api: Api) -> list[Instance]:
    credentials = api.credentials
    _check(credentials)
    if not api.base:
        raise ProviderError(
            "Virtualizor has no default endpoint: set the account's API base to the panel "
            "(https://panel.example.com:4083)"
        )
    found: dict[str, Instance] = {}
    pages: list[frozenset[str]] = []
    for page in range(1, base.MAX_PAGES + 1):
        where = f"listvs page {page}"
        entries = _page(api, credentials, page, where)
        ids = frozenset(vpsid for vpsid, _ in entries)
        if ids and ids in pages:
            return list(found.values())  # the panel ignores `page`: that was all of them
        pages.append(ids)
        for vpsid, raw in entries:
            if vpsid in found:
                raise ProviderError(f"{where}: server {vpsid} is listed twice")
            found[vpsid] = _instance(vpsid, raw, where)
        if len(found) > base.MAX_ITEMS:
            raise ProviderError(f"listvs: more than {base.MAX_ITEMS} servers")
        if len(entries) < PAGE_LEN:
            return list(found.values())
    raise ProviderError(f"listvs: more than {base.MAX_PAGES} pages; giving up")


def _page(api: Api, credentials: Credentials, page: int, where: str) -> list[tuple[str, Any]]:
    params = [
        ("act", "listvs"),
        ("api", "json"),
        ("apikey", credentials.key_id.strip()),
        ("apipass", credentials.secret.strip()),
        ("page", str(page)),
        ("reslen", str(PAGE_LEN)),
    ]
    try:
        body = api.get_json("/index.php", params)
    except ProviderError as exc:
        raise scrubbed(exc, credentials) from None
    doc = shape(body, dict, where)
    _check_error(doc, credentials, where)
    listed = doc.get("vs")
    if isinstance(listed, list):
        entries: list[tuple[str, Any]] = []
        for raw in listed:
            vpsid = text(raw.get("vpsid"), 64) if isinstance(raw, dict) else ""
            if not vpsid:
                raise ProviderError(f"{where}: a server without vpsid")
            entries.append((vpsid, raw))
        return entries
    if isinstance(listed, dict):
        entries = []
        for key, raw in listed.items():
            vpsid = text(key, 64)
            if not vpsid:
                raise ProviderError(f"{where}: a server without vpsid")
            entries.append((vpsid, raw))
        return entries
    if listed is None and doc.get("uid") in (-1, "-1"):
        raise AuthFailed(f"{where}: the panel did not log the API key in; check the key and pass")
    if listed is None and text(doc.get("act")).lower() == "login":
        raise AuthFailed(f"{where}: the panel asks to log in; check the API key and pass")
    raise ProviderError(
        f"{where}: expected the servers (vs) as an object, got {type(listed).__name__}"
    )


def _check_error(doc: dict[str, Any], credentials: Credentials, where: str) -> None:
    message = _first_message(doc.get("error"))
    if not message:
        return
    message = scrub(message, credentials)
    if any(word in message.lower() for word in AUTH_WORDS):
        raise AuthFailed(f"{where}: the panel refused the API key and pass ({message})")
    raise ProviderError(f"{where}: the panel answered an error ({message})")


def _first_message(value: Any) -> str:
    """The first message of the panel's `error` (a string, a list or an object of them)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            message = _first_message(item)
            if message:
                return message
        return ""
    if value is True:
        return "an unspecified error"
    return text(value, 160) if isinstance(value, str) else ""


def _instance(vpsid: str, raw: Any, where: str) -> Instance:
    item = shape(raw, dict, f"{where}: server {vpsid}")
    inner = text(item.get("vpsid"), 64)
    if inner and inner != vpsid:
        raise ProviderError(f"{where}: server {vpsid} says its vpsid is {inner}")
    ipv4, ipv6 = split_addresses(_ip_values(item.get("ips")))
    allowance = _number(item.get("bandwidth"))
    used = _number(item.get("used_bandwidth", item.get("used_bw")))
    space = _number(item.get("space"))
    return Instance(
        instance_id=vpsid,
        hostname=text(item.get("hostname")) or text(item.get("vps_name")),
        ipv4=ipv4,
        ipv6=ipv6,
        cpu_cores=integer(item.get("cores")),
        ram_mb=integer(item.get("ram")),
        disk_gb=int(space) if space is not None else None,
        traffic_quota_gb=int(allowance) if allowance else None,
        traffic_used_bytes=int(used * GB) if used is not None else None,
        state=_state(item),
    )


def _ip_values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    return []


def _number(value: Any) -> Decimal | None:
    """A non-negative amount ("12", "0.01", 12.5); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number >= Decimal("1e9"):
        return None
    return number


def _state(item: dict[str, Any]) -> str:
    suspended = item.get("suspended")
    if suspended is True or integer(suspended) == 1:
        return "stopped"
    status = item.get("status")
    if isinstance(status, str):
        status = status.strip().lower()
    if status in (1, "1", "running", "online"):
        return "running"
    if status in (0, "0", "stopped", "offline"):
        return "stopped"
    return "other"
