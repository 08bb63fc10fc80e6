"""What every adapter shares: the records it returns, its errors, and the HTTP client that
bounds what a provider may send back.

An adapter module defines:

    KIND: str               the account kind (sigma.vocab.ACCOUNT_KINDS)
    TITLE: str              how people name the provider
    API_BASE: str           the documented endpoint (an account's api_base overrides it)
    NEEDS: tuple[str, ...]  which Credentials fields it reads ("token", "key_id", "secret")
    HELP: str               one line: where the operator finds those credentials

and, for a server provider, `instances(api: Api) -> list[Instance]`; for a DNS provider,
`zones(api: Api) -> list[Zone]` and `records(api: Api, zone: Zone) -> list[Record]`.

A provider's answer is hostile input like any other: every response is size-bounded, must be
JSON of the documented shape, and a pagination that does not end (more pages than MAX_PAGES,
or a page cursor seen before) is an error, not a loop. Text fields are cut to a bound and
stripped of control characters here; the services validate the rest (addresses, dates).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

MAX_BODY = 8 * 1024 * 1024  # bytes of one response
MAX_PAGES = 500  # pages of one listing: at 100 per page, 50,000 instances
MAX_ITEMS = 20_000  # records of one listing
TIMEOUT = httpx.Timeout(20.0, connect=10.0)
# a 429 with a Retry-After up to this many seconds is waited for (twice at most); a longer
# one ends the account's run, and the next run is put off until it has passed
MAX_RETRY_WAIT = 10.0
TEXT_LIMIT = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Credentials:
    """What an account authenticates with. Only `token`, `key_id` and `secret` are secret;
    the services keep them encrypted and never show them."""

    api_base: str
    token: str = ""
    key_id: str = ""
    secret: str = ""
    # non-secret options of the kind (Alibaba's region, ...)
    options: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never the secrets, whatever logs it
        return f"Credentials(api_base={self.api_base!r}, options={dict(self.options)!r})"


@dataclass
class Instance:
    """One server as the provider describes it, normalised. Unknown values stay None/"".

    state: running, stopped, pending or other. price_monthly in `currency` (ISO 4217).
    expires_at: when a prepaid instance's term ends (UTC). traffic_used_bytes and
    traffic_quota_gb: the current period's, with the period's next reset if known.
    """

    instance_id: str
    hostname: str = ""
    ipv4: list[str] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)
    region: str = ""
    country: str = ""  # ISO 3166-1 alpha-2, upper case
    city: str = ""
    plan: str = ""
    cpu_cores: int | None = None
    ram_mb: int | None = None
    disk_gb: int | None = None
    price_monthly: Decimal | None = None
    currency: str = ""
    expires_at: datetime | None = None
    charge_type: str = ""  # prepaid or postpaid, when the API says
    auto_renew: bool | None = None
    traffic_used_bytes: int | None = None
    traffic_quota_gb: int | None = None
    traffic_reset: date | None = None
    state: str = "other"


@dataclass
class Zone:
    zone_id: str
    name: str
    status: str = ""
    expires_at: datetime | None = None  # the domain's registration, when the API knows it


@dataclass
class Record:
    record_id: str
    name: str  # fully qualified, lower case, no trailing dot
    type: str  # A, AAAA, CNAME, ...
    content: str
    ttl: int | None = None
    proxied: bool = False


# ----------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """A provider's API failed or answered something unusable: the message says which, for
    the operator, and never holds a credential. `status` and `body` (parsed JSON, when it
    was) let an adapter read a provider's own error codes."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class AuthFailed(ProviderError):
    """401/403: the credentials are wrong, expired, or lack a permission."""


class RateLimited(ProviderError):
    def __init__(self, message: str, retry_after: float):
        super().__init__(message, status=429)
        self.retry_after = retry_after


def scrub(message: str, credentials: Credentials) -> str:
    """`message` without any of the credentials (a provider may echo one back), raw,
    stripped or URL-encoded."""
    from urllib.parse import quote, quote_plus

    for value in (credentials.token, credentials.key_id, credentials.secret):
        for secret in {value, value.strip()}:
            if len(secret) >= 3:
                for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                    message = message.replace(form, "***")
    return message


def scrubbed(exc: ProviderError, credentials: Credentials) -> ProviderError:
    """`exc` again, of the same kind, its message scrubbed."""
    message = scrub(str(exc), credentials)
    if isinstance(exc, RateLimited):
        return RateLimited(message, exc.retry_after)
    return type(exc)(message, status=exc.status, body=exc.body)


_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")


def bearer(credentials: Credentials, title: str, what: str = "token") -> dict[str, str]:
    """The Authorization header of a bearer-token API, or AuthFailed naming what is wrong
    with the token (never the token: a stray space or line break is the usual cause)."""
    token = credentials.token.strip()
    if not token:
        raise AuthFailed(f"the account has no {title} API {what}")
    if not _TOKEN.fullmatch(token):
        raise AuthFailed(f"the {title} API {what} has characters a {what} cannot have")
    return {"Authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------ the client


def retry_after(value: str | None, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Api:
    """One account's HTTP client: its base URL, its credentials, bounded answers.

    `get_json` returns the parsed JSON body of a 2xx answer or raises: AuthFailed (401/403),
    RateLimited (429, after waiting out short Retry-Afters), ProviderError (anything else:
    another status, HTML, malformed or oversized JSON, a network failure)."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: Any = True,
    ):
        # httpx logs each request's URL at INFO: some APIs carry keys in the query
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.credentials = credentials
        self.base = credentials.api_base.rstrip("/")
        self.pages = 0
        self._client = httpx.Client(
            timeout=TIMEOUT,
            headers={"User-Agent": "sigma-sync", "Accept": "application/json", **(headers or {})},
            transport=transport,
            verify=verify,
            follow_redirects=False,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        """An absolute URL (a provider's `next` link) only on the account's own origin: the
        credentials never go to a host the operator did not configure."""
        if not path.startswith(("http://", "https://")):
            return self.base + path
        if _origin(path) != _origin(self.base):
            raise ProviderError(f"a link to another host ({_where(_origin(path))}); not followed")
        return path

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        data: Any = None,
    ) -> Any:
        for attempt in Retrying(
            retry=retry_if_exception_type(_ShortWait),
            wait=lambda state: state.outcome.exception().seconds,  # type: ignore[union-attr]
            stop=stop_after_attempt(3),
            reraise=True,
        ):
            with attempt:
                try:
                    return self._once(method, path, params, headers, data)
                except RateLimited as exc:
                    if exc.retry_after <= MAX_RETRY_WAIT and attempt.retry_state.attempt_number < 3:
                        raise _ShortWait(exc) from None
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self,
        method: str,
        path: str,
        params: Any,
        headers: Mapping[str, str] | None,
        data: Any,
    ) -> Any:
        self.pages += 1
        where = _where(path)
        try:
            with self._client.stream(
                method, self.url(path), params=params, headers=headers, data=data
            ) as response:
                body = _read_bounded(response, where)
        except (httpx.HTTPError, UnicodeError, ValueError) as exc:  # bad header text too
            raise ProviderError(
                self.scrub(f"{where}: {type(exc).__name__}: {_safe(str(exc))}")
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(
                self.scrub(
                    f"{where}: the provider refused the credentials (HTTP {status}"
                    f"{_brief(body)}); check the token and its permissions"
                ),
                status=status,
                body=self._scrubbed_json(body),
            )
        if status == 429:
            wait = retry_after(response.headers.get("Retry-After"))
            raise RateLimited(f"{where}: rate limited (HTTP 429), retry after {wait:.0f} s", wait)
        if not 200 <= status < 300:
            raise ProviderError(
                self.scrub(f"{where}: HTTP {status}{_brief(body)}"),
                status=status,
                body=self._scrubbed_json(body),
            )
        return parse_json(body, where)

    def _scrubbed_json(self, body: bytes) -> Any:
        return _json_or_none(self.scrub(body.decode("utf-8", "replace")).encode())

    def scrub(self, message: str) -> str:
        return scrub(message, self.credentials)

    def pages_of(self, first: str, cursor_of: Any) -> Iterator[Any]:
        """Follows a listing page by page: `cursor_of(body)` gives the next path (or None).
        A cursor seen before or more than MAX_PAGES pages is an error."""
        seen: set[str] = set()
        path: str | None = first
        for _ in range(MAX_PAGES):
            if path is None:
                return
            if path in seen:
                raise ProviderError(
                    f"{_where(first)}: the pagination repeats a page ({_where(path)})"
                )
            seen.add(path)
            body = self.get_json(path)
            yield body
            path = cursor_of(body)
        raise ProviderError(f"{_where(first)}: more than {MAX_PAGES} pages; giving up")


class _ShortWait(Exception):
    def __init__(self, limited: RateLimited):
        super().__init__(str(limited))
        self.seconds = limited.retry_after


def _origin(url: str) -> str:
    u = httpx.URL(url)
    return f"{u.scheme}://{u.host}:{u.port or (443 if u.scheme == 'https' else 80)}"


def _where(path: str) -> str:
    """The path of a request without its query (which may carry a signature or a key)."""
    return path.split("?", 1)[0][:120]


def _read_bounded(response: httpx.Response, where: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            raise ProviderError(f"{where}: the answer is larger than {MAX_BODY // 1048576} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _brief(body: bytes) -> str:
    """A provider's error message, shortened and made printable, for the operator."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    message = None
    if isinstance(doc, dict):
        for key in ("error", "message", "Message", "errors", "error_message"):
            if key in doc:
                message = doc[key]
                break
    if isinstance(message, dict):
        message = message.get("message") or message.get("code")
    if isinstance(message, list) and message:
        first = message[0]
        message = (
            (first.get("message") or first.get("reason")) if isinstance(first, dict) else first
        )
    return f": {text(message, 160)}" if isinstance(message, str) and message else ""


def _safe(message: str) -> str:
    return text(message, 200)


def parse_json(body: bytes, where: str = "the answer") -> Any:
    stripped = body.lstrip()[:1]
    if stripped == b"<":
        raise ProviderError(
            f"{where}: the provider answered HTML, not JSON (a proxy or a login page?)"
        )
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ProviderError(f"{where}: the answer is not valid JSON") from None


# ------------------------------------------------------------ reading hostile fields


def shape(value: Any, expected: type, where: str) -> Any:
    """`value` if it is of the JSON type expected, else a ProviderError naming where."""
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ProviderError(f"{where}: expected {expected.__name__}, got {type(value).__name__}")
    return value


def text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A printable one-line string from whatever the API gave (non-strings become "")."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value).strip()[:limit]


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e8"):
        return None
    return amount.quantize(Decimal("0.01"))


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time ("2026-12-31T16:00Z", "2026-12-31 16:00:00", a date) or Unix
    seconds, as an aware UTC datetime; None for anything else."""
    if isinstance(value, bool) or value in (None, "", 0):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    raw = value.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def addresses(values: Any) -> list[str]:
    """The strings of a list (the services validate each as an address)."""
    if not isinstance(values, list):
        return []
    return [text(v, 64) for v in values if isinstance(v, str) and text(v, 64)]


def split_addresses(values: Iterable[Any]) -> tuple[list[str], list[str]]:
    """The IPv4 and IPv6 addresses of a list (subnets and anything else left out)."""
    ipv4: list[str] = []
    ipv6: list[str] = []
    for value in values:
        candidate = text(value, 64)
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        bucket = ipv4 if address.version == 4 else ipv6
        if candidate not in bucket:
            bucket.append(candidate)
    return ipv4, ipv6
