"""The one ASGI middleware of `sigma serve` (Gateway): security headers, the body size
limit, rate limits, and the lean routes answered before FastAPI."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger("sigma.server")


_JSON = (b"content-type", b"application/json")


class MemoryWindow:
    """Sliding-window counter in this process (used when no Redis is configured)."""

    def __init__(self):
        self.hits: dict[str, deque[float]] = {}

    async def hit(self, key: str, limit: int, window: int) -> tuple[bool, int, int]:
        now = time.monotonic()
        q = self.hits.setdefault(key, deque())
        while q and q[0] <= now - window:
            q.popleft()
        if len(q) >= limit:
            return False, 0, max(1, math.ceil(q[0] + window - now))
        q.append(now)
        if len(self.hits) > 100_000:  # bound memory under a spray of client IPs
            self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > now - window}
        return True, limit - len(q), 0


# One script call for all the hits that arrived in the same event-loop turn, instead of a
# 5-command MULTI pipeline per request: the same sliding window at a fraction of the
# client-side CPU (the limiter runs on every API request, heartbeats included). For each
# key: the count after this hit and the oldest hit's time.
_WINDOW_LUA = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, 0, now - window)
  redis.call('ZADD', key, now, ARGV[2 + i])
  redis.call('EXPIRE', key, window + 1)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  out[#out + 1] = redis.call('ZCARD', key)
  out[#out + 1] = oldest[2] or false
end
return out
"""


class RedisWindow:
    """Sliding window in a Redis sorted set per client, shared by every replica. When Redis
    is down the API keeps serving without limits (logged once per outage)."""

    def __init__(self, url: str):
        import redis.asyncio as redis

        self.redis = redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
        # EVALSHA, loading the script again after a Redis restart (NOSCRIPT)
        self.script = self.redis.register_script(_WINDOW_LUA)
        self.down = False
        self.pending: dict[int, list[tuple[str, str, asyncio.Future]]] = {}

    async def hit(self, key: str, limit: int, window: int) -> tuple[bool, int, int] | None:
        now = time.time()
        fut = asyncio.get_running_loop().create_future()
        batch = self.pending.get(window)
        if batch is None:
            batch = self.pending[window] = []
            asyncio.get_running_loop().call_soon(self._flush, window)
        batch.append((f"sigma:rate:{key}", f"{now}:{os.urandom(4).hex()}", fut))
        counted = await fut
        if counted is None:
            return None
        count, oldest = counted
        if count > limit:
            retry = max(1, math.ceil(float(oldest) + window - now)) if oldest else window
            return False, 0, retry
        return True, max(limit - count, 0), 0

    def _flush(self, window: int) -> None:
        batch = self.pending.pop(window, [])
        if batch:
            asyncio.get_running_loop().create_task(self._count(batch, window))

    async def _count(self, batch: list[tuple[str, str, asyncio.Future]], window: int) -> None:
        try:
            out = await self.script(keys=[k for k, _, _ in batch], args=[time.time(), window, *(m for _, m, _ in batch)])
        except Exception as exc:  # noqa: BLE001 - any Redis failure means: serve without limits
            if not self.down:
                log.warning("rate limiter: Redis unreachable (%s); serving without rate limits", type(exc).__name__)
                self.down = True
            out = None
        else:
            if self.down:
                log.warning("rate limiter: Redis reachable again; rate limits restored")
                self.down = False
        for i, (_, _, fut) in enumerate(batch):
            if not fut.done():
                fut.set_result(None if out is None else (out[2 * i], out[2 * i + 1]))


LOGIN_PATHS = ("/api/auth/login", "/api/auth/login/totp", "/login", "/login/totp")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
]

# A lean route: `async handler(scope, body) -> JSON bytes`; errors are raised as SigmaError.
LeanHandler = Callable[[dict, bytes], Awaitable[bytes]]


class Gateway:
    """Outermost middleware, one per app, doing in one pass what would otherwise be three
    layers of send/receive wrappers on every request:

    - security headers on every response;
    - 413 for bodies over `max_body_bytes`, by Content-Length or while streaming;
    - rate limits per client IP on /api/ and the login forms (Redis sliding window shared
      by replicas, in-process without Redis; when Redis is down: no limits, logged);
    - the lean routes: (method, path) -> handler, answered here without FastAPI's routing,
      dependency solving and Request/Response objects. Agent heartbeats are the only one:
      every agent, every interval, and the framework cost ~0.3 ms of CPU per request,
      several times the heartbeat's own work (bench/README.md). The handler does the same
      authentication, role check and validation as a FastAPI route would.
    """

    def __init__(self, app, settings, lean: dict[tuple[str, str], LeanHandler] | None = None):
        self.app = app
        self.settings = settings
        self.max_bytes = settings.max_body_bytes
        self.window = RedisWindow(settings.redis_url) if settings.redis_url else MemoryWindow()
        self.lean = lean or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = SECURITY_HEADERS
        too_big = {"error": f"request body larger than {self.max_bytes} bytes", "code": "payload_too_large"}
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > self.max_bytes:
                        return await _respond(send, 413, too_big, extra)
                except ValueError:
                    return await _respond(send, 400, {"error": "bad Content-Length", "code": "invalid_input"}, extra)

        path = scope["path"]
        if path.startswith("/api/") or path in LOGIN_PATHS:
            verdict = await self._rate_limit(scope, path)
            if verdict is not None:
                allowed, limit_headers = verdict
                extra = limit_headers + SECURITY_HEADERS
                if not allowed:
                    if not path.startswith("/api/"):  # the web UI's sign-in form: a page, not JSON
                        return await _send_html(send, 429, TOO_MANY_HTML, extra)
                    return await _respond(send, 429, {"error": "Too Many Requests", "code": "rate_limited"}, extra)

        handler = self.lean.get((scope["method"], path))
        if handler is not None:
            return await self._lean(handler, scope, receive, send, extra, too_big)

        seen = 0
        exceeded = False
        started = False

        async def limited_receive():
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def gated_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # the app caught _TooLarge while parsing and answered something else
                    return await _respond(send, 413, too_big, extra)
                message = {**message, "headers": _with(message.get("headers", []), extra)}
            elif exceeded:
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, gated_send)
        except _TooLarge:
            if not started:
                await _respond(send, 413, too_big, extra)

    async def _rate_limit(self, scope, path: str) -> tuple[bool, list[tuple[bytes, bytes]]] | None:
        """(allowed, rate-limit headers) for this request, or None when no limit applies
        (Redis unreachable)."""
        s = self.settings
        client = scope.get("client")  # behind trusted proxies: the forwarded client (proxies.py)
        ip = client[0] if client else "unknown"
        if path in LOGIN_PATHS and scope["method"] == "POST":
            key, limit = f"login:{ip}", s.rate_limit_login
        else:
            # per client address and credential: users behind one NAT or one proxy that is not
            # declared in trusted_proxies do not share a bucket (nor lock each other out)
            key, limit = f"api:{ip}:{_credential_tag(scope)}", s.rate_limit_requests
        result = await self.window.hit(key, limit, s.rate_limit_window)
        if result is None:
            return None
        allowed, remaining, retry_after = result
        headers = [(b"x-ratelimit-limit", str(limit).encode()), (b"x-ratelimit-remaining", str(remaining).encode())]
        if not allowed:
            headers.append((b"retry-after", str(retry_after).encode()))
        return allowed, headers

    async def _lean(self, handler: LeanHandler, scope, receive, send, extra, too_big) -> None:
        from sigma.errors import SigmaError
        from sigma.server.errors import sigma_error_parts

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await _respond(send, 413, too_big, extra)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        try:
            payload = await handler(scope, b"".join(chunks))
        except SigmaError as exc:
            status, body, headers = sigma_error_parts(exc)
            more = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
            return await _respond(send, status, body, more + extra)
        except Exception:  # noqa: BLE001 - the same answer as the app's catch-all handler
            log.exception("unhandled error")
            return await _respond(send, 500, {"error": "Internal error", "code": "internal"}, extra)
        await _send(send, 200, payload, extra)


class _TooLarge(Exception):
    pass


def _credential_tag(scope) -> str:
    """A short digest of the request's credential (bearer, API key or session cookie)."""
    import hashlib

    parts = []
    for name, value in scope["headers"]:
        if name in (b"authorization", b"x-api-key"):
            parts.append(value)
        elif name == b"cookie" and b"sigma_session=" in value:
            parts.append(value.split(b"sigma_session=", 1)[1].split(b";", 1)[0])
    return hashlib.blake2b(b"\n".join(parts), digest_size=8).hexdigest() if parts else "-"


def _with(headers, extra) -> list:
    names = {k.lower() for k, _ in headers}
    return [*headers, *(h for h in extra if h[0] not in names)]


async def _send(send, status: int, payload: bytes, extra) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [_JSON, (b"content-length", str(len(payload)).encode()), *extra],
    })
    await send({"type": "http.response.body", "body": payload})


TOO_MANY_HTML = (b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too many attempts</title>'
                 b'</head><body><h1>Too many sign-in attempts</h1><p>Wait a minute, then '
                 b'<a href="/login">sign in again</a>.</p></body></html>')


async def _send_html(send, status: int, payload: bytes, extra) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(payload)).encode()),
                    *extra],
    })
    await send({"type": "http.response.body", "body": payload})


async def _respond(send, status: int, body: dict, extra) -> None:
    await _send(send, status, json.dumps(body).encode(), extra)
