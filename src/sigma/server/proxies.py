"""Behind reverse proxies: who the client is, and which scheme and host it used.

Only a request whose TCP peer is one of `trusted_proxies` (addresses or CIDRs) has its
forwarded headers believed, and then:
- the client address is the rightmost X-Forwarded-For hop that is not itself a trusted proxy
  (the leftmost entries are whatever the client chose to send), and the scheme is
  X-Forwarded-Proto: uvicorn's ProxyHeadersMiddleware, which implements exactly that;
- the host is X-Forwarded-Host when the proxy sets it (the web UI's Origin check and the
  cookie's Secure flag then see what the browser saw).
From any other peer these headers are ignored, whatever they say.
"""

from __future__ import annotations

import ipaddress
from typing import Any


class TrustedProxies:
    """ASGI middleware: forwarded client, scheme and host from trusted proxies only."""

    def __init__(self, app: Any, trusted: list[str]):
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        self.app = app
        self.networks = [ipaddress.ip_network(t, strict=False) for t in trusted]
        self.proxy_headers = ProxyHeadersMiddleware(app, trusted_hosts=list(trusted))

    def trusted(self, host: str | None) -> bool:
        try:
            addr = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        peer = scope.get("client")
        if not self.trusted(peer[0] if peer else None):
            return await self.app(scope, receive, send)
        forwarded_host = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-host":
                forwarded_host = value.split(b",")[0].strip()
        if forwarded_host:
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {**scope, "headers": [*headers, (b"host", forwarded_host)]}
        return await self.proxy_headers(scope, receive, send)
