"""The edge of `sigma serve`: the security headers of every response, the request body
limit (`max_body_bytes`) and gzip.

The limit is Starlette's RequestBodyLimitMiddleware, which counts what is read (a streamed,
chunked body included) and lets the app answer 413 through its error handlers; a request that
declares a larger Content-Length is answered here at once, with the same JSON body, before
anything reads it (Starlette would answer that one in plain text).

Compression is Starlette's GZipMiddleware: a response of COMPRESS_MIN_BYTES or more (HTML,
CSS, JavaScript, JSON, CSV; never images or archives) is gzipped for a client that accepts it.
The paths in UNCOMPRESSED skip it entirely, not even a wrapper: the agent heartbeat, the
hottest request (bench/README.md), whose answer (its VPS, about a kilobyte of JSON) is not
worth the CPU of compressing it."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ),
]


COMPRESS_MIN_BYTES = 1024
COMPRESS_LEVEL = 6  # zlib's default: ~the size of 9 at a fraction of the CPU for a page
UNCOMPRESSED = frozenset({"/api/agent/heartbeat"})


def too_large(limit: int) -> dict[str, str]:
    return {"error": f"request body larger than {limit} bytes", "code": "payload_too_large"}


class Edge:
    """ASGI middleware: SECURITY_HEADERS on every HTTP response (unless it set one itself),
    a 413 for a declared Content-Length over `max_body_bytes`, and gzip (but for the paths
    in UNCOMPRESSED)."""

    def __init__(self, app: Any, max_body_bytes: int):
        from starlette.middleware.body_limit import RequestBodyLimitMiddleware
        from starlette.middleware.gzip import GZipMiddleware

        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_body_bytes)
        self.gzip = GZipMiddleware(
            self.app, minimum_size=COMPRESS_MIN_BYTES, compresslevel=COMPRESS_LEVEL
        )
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = int(value) if value.isdigit() else -1
                if declared < 0:
                    return await _json(
                        with_headers, 400, {"error": "bad Content-Length", "code": "invalid_input"}
                    )
                if declared > self.max_body_bytes:
                    return await _json(with_headers, 413, too_large(self.max_body_bytes))
        inner = self.app if scope["path"] in UNCOMPRESSED else self.gzip
        await inner(scope, receive, with_headers)


async def _json(send: Any, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
