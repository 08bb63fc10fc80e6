"""Rate limits of `sigma serve`, counted in the `limits` library's storages: a fixed window
per client and credential on the API, a stricter one per client on the sign-in forms.

- The window is the original system's: one counter per key and window, incremented by each
  request (INCRBY and EXPIRE in one script on Redis), so a request costs one round trip; the
  counter's expiry is read only to tell a refused client when to retry. (limits' strategies
  would read the window's state in further round trips for the headers, and its moving
  window keeps a timestamp per request: too dear when every heartbeat is counted.)
- With `redis_url` the counters live in Redis (limits' storage), shared by every replica;
  without it, in this process, in a TTL cache of at most MEMORY_KEYS counters (cachetools: a
  client rotating addresses cannot grow it without bound; limits' own memory storage sweeps
  every key from a timer thread, which with one key per agent costs more than the heartbeat
  itself: bench/README.md). When the configured Redis does not answer, this process's
  counters stand in until it does again (checked every REDIS_RETRY seconds), logged once per
  outage: the API never stops serving because its limiter is away.
- A client is its address (behind trusted proxies, the forwarded one: server.proxies) and the
  credential it sends, so users behind one NAT or proxy do not share a budget.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from cachetools import TLRUCache
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage

log = logging.getLogger("sigma.server")

REDIS_RETRY = 5.0  # seconds between attempts at a Redis that did not answer
MEMORY_KEYS = 200_000  # counters kept in this process; the least recently used go first
KEY_PREFIX = "sigma:rate"
LOGIN_PATHS = ("/api/auth/login", "/api/auth/login/totp", "/login", "/login/totp")

TOO_MANY_HTML = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too many attempts</title>'
    b"</head><body><h1>Too many sign-in attempts</h1><p>Wait a minute, then "
    b'<a href="/login">sign in again</a>.</p></body></html>'
)


class Limiter:
    def __init__(self, redis_url: str | None):
        # counter key -> [count, end of its window (time.time())]; an entry leaves at its end
        self.memory: TLRUCache[str, list[float]] = TLRUCache(
            maxsize=MEMORY_KEYS, ttu=lambda _key, entry, _now: entry[1], timer=time.time
        )
        self.redis: RedisStorage | None = None
        if redis_url:
            self.redis = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=KEY_PREFIX,
                socket_timeout=0.25,
                socket_connect_timeout=0.25,
            )
        self.redis_down = False
        self.redis_retry_at = 0.0

    async def hit(self, item: RateLimitItem, key: str) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds until a hit is allowed again) for one more hit."""
        counter = item.key_for(key)
        if self.redis is not None and time.monotonic() >= self.redis_retry_at:
            try:
                count = await self.redis.incr(counter, item.get_expiry())
                expires = await self.redis.get_expiry(counter) if count > item.amount else 0.0
            except Exception as exc:  # noqa: BLE001 - any Redis failure: this process's counters stand in
                if not self.redis_down:
                    log.warning(
                        "rate limiter: Redis unreachable (%s); "
                        "limiting in this process until it is back",
                        type(exc).__name__,
                    )
                    self.redis_down = True
                self.redis_retry_at = time.monotonic() + REDIS_RETRY
            else:
                if self.redis_down:
                    log.warning("rate limiter: Redis reachable again; limits shared again")
                    self.redis_down = False
                return _verdict(item, count, expires)
        entry = self.memory.get(counter)
        if entry is None:
            entry = self.memory[counter] = [0, time.time() + item.get_expiry()]
        entry[0] += 1
        return _verdict(item, int(entry[0]), entry[1])


def _verdict(item: RateLimitItem, count: int, expires: float) -> tuple[bool, int, int]:
    if count <= item.amount:
        return True, item.amount - count, 0
    return False, 0, max(1, math.ceil(expires - time.time()))


class RateLimit:
    """ASGI middleware: the limits on /api/ and the sign-in forms, with the contract's headers
    (X-RateLimit-Limit, X-RateLimit-Remaining, Retry-After) and a 429 that is JSON for the
    API and a page for the web UI's sign-in form."""

    def __init__(self, app: Any, settings: Any):
        self.app = app
        self.settings = settings
        self.limiter = Limiter(settings.redis_url)
        self.items: dict[tuple[int, int], RateLimitItem] = {}

    def item(self, limit: int, window: int) -> RateLimitItem:
        item = self.items.get((limit, window))
        if item is None:
            item = self.items[(limit, window)] = RateLimitItemPerSecond(limit, window)
        return item

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith("/api/") or path in LOGIN_PATHS):
            return await self.app(scope, receive, send)
        s = self.settings
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        if path in LOGIN_PATHS and scope["method"] == "POST":
            key, limit = f"login:{ip}", s.rate_limit_login
        else:
            key, limit = f"api:{ip}:{_credential_tag(scope)}", s.rate_limit_requests
        allowed, remaining, retry = await self.limiter.hit(
            self.item(limit, s.rate_limit_window), key
        )
        headers = [
            (b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
        ]
        if not allowed:
            headers.append((b"retry-after", str(retry).encode()))
            if path.startswith("/api/"):
                body, ctype = (
                    b'{"error": "Too Many Requests", "code": "rate_limited"}',
                    b"application/json",
                )
            else:
                body, ctype = TOO_MANY_HTML, b"text/html; charset=utf-8"
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", ctype),
                        (b"content-length", str(len(body)).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


def _credential_tag(scope: Any) -> str:
    """A short digest of the request's credential (bearer, API key or session cookie)."""
    parts = []
    for name, value in scope["headers"]:
        if name in (b"authorization", b"x-api-key"):
            parts.append(value)
        elif name == b"cookie" and b"sigma_session=" in value:
            parts.append(value.split(b"sigma_session=", 1)[1].split(b";", 1)[0])
    return hashlib.blake2b(b"\n".join(parts), digest_size=8).hexdigest() if parts else "-"
