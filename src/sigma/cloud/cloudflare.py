"""Cloudflare (DNS, read only): the zones of a token and their records.

API v4 with an API token (`Authorization: Bearer ...`). Every answer is the envelope
`{success, errors, messages, result, result_info}`; listings page with `page`/`per_page` and
end at `result_info.total_pages`.

A zone's registration expiry comes from Cloudflare Registrar
(`GET /accounts/{account_id}/registrar/domains`, `expires_at`), read once per account. It
only knows domains registered at Cloudflare, and many tokens may not read it: any failure
there leaves `expires_at` unknown and the zones listing goes on.

Cloudflare refuses a bad token with HTTP 403, but also with HTTP 400 and `success: false`
(codes 9109 "Invalid access token", 10000 "Authentication error", 6003/6111 a malformed
Authorization header): all of these are AuthFailed here, not a provider failure.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sigma.cloud import base
from sigma.cloud.base import (
    Api,
    AuthFailed,
    Credentials,
    ProviderError,
    Record,
    Zone,
    bearer,
    integer,
    shape,
    text,
    timestamp,
)

KIND = "cloudflare"
TITLE = "Cloudflare"
API_BASE = "https://api.cloudflare.com/client/v4"
NEEDS = ("token",)
HELP = (
    "An API token from My Profile > API Tokens with Zone Read and DNS Read on the zones "
    "(add Registrar read to see the domains' expiry)"
)

ZONES_PER_PAGE = 50
RECORDS_PER_PAGE = 100
NAME_LIMIT = 253  # a DNS name
CONTENT_LIMIT = 4096  # a record's content (a long TXT record)
# an error code in the envelope that means the token itself was refused
AUTH_CODES = frozenset({6003, 6111, 9103, 9106, 9109, 10000})
# the same, as base's message for a non-2xx answer says it ("...: HTTP 400: <message>")
_AUTH_MESSAGE = re.compile(
    r": HTTP 4\d\d: (invalid access token|authentication error|invalid request headers"
    r"|invalid format for authorization header|invalid api token)",
    re.IGNORECASE,
)
_HEX_ID = re.compile(r"[0-9a-fA-F]{32}")

log = logging.getLogger(__name__)


def headers(credentials: Credentials) -> dict[str, str]:
    return bearer(credentials, "Cloudflare")


# ----------------------------------------------------------------------------- zones


def zones(api: Api) -> list[Zone]:
    found: list[Zone] = []
    seen: set[str] = set()
    accounts: dict[str, str] = {}  # zone id -> its account's id
    for item in _listing(api, "/zones", ZONES_PER_PAGE, "zone"):
        zone_id = text(item.get("id"), 64)
        name = _name(item.get("name"))
        if not zone_id or not name:
            raise ProviderError("/zones: a zone without an id or a name")
        if zone_id in seen:
            raise ProviderError(f"/zones: the zone id {zone_id!r} is listed twice")
        seen.add(zone_id)
        found.append(Zone(zone_id=zone_id, name=name, status=text(item.get("status"), 32)))
        account = item.get("account")
        account_id = text(account.get("id"), 64) if isinstance(account, dict) else ""
        if _HEX_ID.fullmatch(account_id):
            accounts[zone_id] = account_id
    expiry: dict[str, tuple[dict[str, datetime], dict[str, datetime]]] = {}
    for account_id in dict.fromkeys(accounts.values()):  # each account once, in order
        expiry[account_id] = _registrar(api, account_id)
    for zone in found:
        if zone.zone_id in accounts:
            by_name, by_id = expiry[accounts[zone.zone_id]]
            zone.expires_at = by_name.get(zone.name) or by_id.get(zone.zone_id.lower())
    return found


def _registrar(api: Api, account_id: str) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """The expiry of each domain the account registered at Cloudflare, by name and by id;
    empty when Registrar cannot be read (no permission, no Registrar, a bad answer)."""
    path = f"/accounts/{account_id}/registrar/domains"
    by_name: dict[str, datetime] = {}
    by_id: dict[str, datetime] = {}
    try:
        doc = _get(api, path)
        result = doc.get("result")
        for item in shape([] if result is None else result, list, f"{path}: result"):
            if not isinstance(item, dict):
                continue
            when = timestamp(item.get("expires_at"))
            if when is None:
                continue
            # the documented schema names a domain only by `id`; the answers seen carry
            # `name` too (upper case at times)
            name = _name(item.get("name"))
            if name:
                by_name[name] = when
            domain_id = text(item.get("id"), 64).lower()
            if _HEX_ID.fullmatch(domain_id):
                by_id[domain_id] = when
    except ProviderError as exc:
        log.info("Cloudflare Registrar not read, domain expiry unknown: %s", exc)
        return {}, {}
    return by_name, by_id


# --------------------------------------------------------------------------- records


def records(api: Api, zone: Zone) -> list[Record]:
    if not _HEX_ID.fullmatch(zone.zone_id):
        # it came from the API: never put it in a path unchecked
        raise ProviderError(f"zone {zone.name!r}: Cloudflare gave an id that is not a zone id")
    found: list[Record] = []
    seen: set[str] = set()
    path = f"/zones/{zone.zone_id}/dns_records"
    for item in _listing(api, path, RECORDS_PER_PAGE, "record"):
        record_id = text(item.get("id"), 64)
        if not record_id:
            raise ProviderError(f"{path}: a record without an id")
        if record_id in seen:
            raise ProviderError(f"{path}: the record id {record_id!r} is listed twice")
        seen.add(record_id)
        ttl = integer(item.get("ttl"))
        found.append(
            Record(
                record_id=record_id,
                name=_name(item.get("name")),
                type=text(item.get("type"), 16).upper(),
                content=text(item.get("content"), CONTENT_LIMIT),
                # 1 is Cloudflare's "automatic"
                ttl=None if ttl is None or ttl <= 1 else ttl,
                proxied=item.get("proxied") is True,
            )
        )
    return found


# ------------------------------------------------------------------------- the API


def _listing(api: Api, path: str, per_page: int, what: str) -> Iterator[dict[str, Any]]:
    """The items of a paged listing, page 1 to result_info.total_pages. More than
    base.MAX_PAGES pages or base.MAX_ITEMS items is an error, not a loop."""
    count = 0
    for page in range(1, base.MAX_PAGES + 1):
        doc = _get(api, f"{path}?page={page}&per_page={per_page}")
        items = shape(doc.get("result"), list, f"{path}: result")
        info = shape(doc.get("result_info"), dict, f"{path}: result_info")
        total = integer(info.get("total_pages"))
        if total is None:
            raise ProviderError(f"{path}: result_info has no total_pages")
        answered = integer(info.get("page"))
        if answered is not None and answered != page:
            raise ProviderError(f"{path}: asked for page {page}, got page {answered}")
        count += len(items)
        if count > base.MAX_ITEMS:
            raise ProviderError(f"{path}: more than {base.MAX_ITEMS} {what}s; giving up")
        for item in items:
            yield shape(item, dict, f"{path}: a {what}")
        if page >= total:
            return
    raise ProviderError(f"{path}: more than {base.MAX_PAGES} pages; giving up")


def _get(api: Api, path: str) -> dict[str, Any]:
    """The envelope of a successful answer. A refused token is AuthFailed whatever the
    HTTP status; any other `success: false` is a ProviderError with Cloudflare's message."""
    where = path.split("?", 1)[0]
    try:
        body = api.get_json(path)
    except AuthFailed:
        raise
    except ProviderError as exc:
        if _AUTH_MESSAGE.search(str(exc)):
            raise AuthFailed(
                f"{exc}; Cloudflare refused the token: check it and its permissions"
            ) from None
        raise
    doc: dict[str, Any] = shape(body, dict, where)
    if doc.get("success") is True:
        return doc
    codes, message = _errors(doc.get("errors"))
    detail = f": {message}" if message else ""
    if codes & AUTH_CODES:
        raise AuthFailed(f"{where}: Cloudflare refused the token{detail}")
    raise ProviderError(f"{where}: Cloudflare reports a failure{detail}")


def _errors(errors: Any) -> tuple[set[int], str]:
    """The codes of an envelope's errors (with their error_chain) and the first message."""
    codes: set[int] = set()
    message = ""
    if not isinstance(errors, list):
        return codes, message
    for error in errors[:20]:
        if not isinstance(error, dict):
            continue
        message = message or text(error.get("message"), 160)
        chain = error.get("error_chain")
        for item in [error, *(chain[:20] if isinstance(chain, list) else [])]:
            code = integer(item.get("code")) if isinstance(item, dict) else None
            if code is not None:
                codes.add(code)
    return codes, message


def _name(value: Any) -> str:
    """A DNS name as sigma keeps it: lower case, without the root's trailing dot."""
    return text(value, NAME_LIMIT + 1).lower().removesuffix(".")[:NAME_LIMIT]
