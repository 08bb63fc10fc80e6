"""Pure ASGI middleware (cheap on the hot agent routes): body size limit, rate limiting,
security headers."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque

log = logging.getLogger("sigma.server")


async def _send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """413 for request bodies over `max_bytes`, by Content-Length or while streaming."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = {"error": f"request body larger than {self.max_bytes} bytes", "code": "payload_too_large"}
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > self.max_bytes:
                        return await _send_json(send, 413, too_big)
                except ValueError:
                    return await _send_json(send, 400, {"error": "bad Content-Length", "code": "invalid_input"})
        seen = 0
        exceeded = False

        async def limited_receive():
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message):
            nonlocal started
            if exceeded:
                # the app caught _TooLarge while parsing (FastAPI turns it into a 400):
                # answer 413 instead of whatever it says
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _send_json(send, 413, too_big)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, too_big)


class _TooLarge(Exception):
    pass


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


class RedisWindow:
    """Sliding window in a Redis sorted set per client, shared by every replica. When Redis
    is down the API keeps serving without limits (logged once per outage)."""

    def __init__(self, url: str):
        import redis.asyncio as redis

        self.redis = redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)
        self.down = False

    async def hit(self, key: str, limit: int, window: int) -> tuple[bool, int, int] | None:
        import uuid

        now = time.time()
        rkey = f"sigma:rate:{key}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(rkey, 0, now - window)
                pipe.zadd(rkey, {f"{now}:{uuid.uuid4().hex[:8]}": now})
                pipe.zcard(rkey)
                pipe.zrange(rkey, 0, 0, withscores=True)
                pipe.expire(rkey, window + 1)
                _, _, count, oldest, _ = await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any Redis failure means: serve without limits
            if not self.down:
                log.warning("rate limiter: Redis unreachable (%s); serving without rate limits", type(exc).__name__)
                self.down = True
            return None
        if self.down:
            log.warning("rate limiter: Redis reachable again; rate limits restored")
            self.down = False
        if count > limit:
            retry = max(1, math.ceil(oldest[0][1] + window - now)) if oldest else window
            return False, 0, retry
        return True, max(limit - count, 0), 0


LOGIN_PATHS = ("/api/auth/login", "/api/auth/login/totp", "/login", "/login/totp")


class RateLimit:
    def __init__(self, app, settings):
        self.app = app
        self.settings = settings
        self.window = RedisWindow(settings.redis_url) if settings.redis_url else MemoryWindow()

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith("/api/") or path in LOGIN_PATHS):
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers

        from sigma.server.deps import peer_ip

        client = scope.get("client")
        ip = peer_ip(Headers(scope=scope), client[0] if client else None, self.settings.trust_forwarded_for)
        s = self.settings
        if path in LOGIN_PATHS and scope.get("method") == "POST":
            key, limit = f"login:{ip}", s.rate_limit_login
        else:
            key, limit = f"api:{ip}", s.rate_limit_requests
        result = await self.window.hit(key, limit, s.rate_limit_window)
        if result is None:
            return await self.app(scope, receive, send)
        allowed, remaining, retry_after = result
        limit_headers = [(b"x-ratelimit-limit", str(limit).encode()), (b"x-ratelimit-remaining", str(remaining).encode())]
        if not allowed:
            return await _send_json(
                send, 429, {"error": "Too Many Requests", "code": "rate_limited"},
                [*limit_headers, (b"retry-after", str(retry_after).encode())],
            )

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *limit_headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
]


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def add(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in SECURITY_HEADERS if h[0] not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, add)
