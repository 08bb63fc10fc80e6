"""The HTTP side of remote mode, without pydantic: base URL, credentials, the httpx client and
the mapping of error responses to SigmaError. RemoteBackend (sigma.client.remote) builds on it;
`sigma vps list` uses it alone, reading the server's JSON as is (bench/README.md: importing
pydantic and sigma.schemas would cost more than the rest of the command)."""

from __future__ import annotations

import os
import sys
from typing import Any

if "httpx" not in sys.modules:
    # httpx's optional command line (httpx._main: click, rich, pygments) and httpcore's optional
    # trio support are never used by this client, and both import ImportError-tolerantly: kept
    # out while httpx and httpcore (what httpx.Client() imports) first load, every remote
    # command starts faster (more so where trio is installed). Only for that first import.
    _blocked = [name for name in ("httpx._main", "trio") if name not in sys.modules]
    for _name in _blocked:
        sys.modules[_name] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401
        import httpx
    finally:
        for _name in _blocked:
            if _name in sys.modules and sys.modules[_name] is None:
                del sys.modules[_name]
import httpx

from sigma.client import credentials
from sigma.errors import NotAuthenticated, Unavailable, error_from_body

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy")


def server_base(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    return url.removesuffix("/api")


def auth_headers(api_key: str | None, base: str) -> dict[str, str]:
    """The configured API key, else the secret `sigma login` stored for this server."""
    if api_key:
        return {"X-Api-Key": api_key}
    secret = credentials.load(base)
    if not secret:
        return {}
    if secret.startswith("sigma_"):
        return {"X-Api-Key": secret}
    return {"Authorization": f"Bearer {secret}"}


def _tls(base: str) -> dict[str, Any]:
    """For a plain-http server, a TLS context that trusts no CA instead of httpx's default one,
    whose loading of the CA bundle is a noticeable part of a command's start: this client
    never makes a TLS connection to an http:// base (it follows no redirects), and if it ever
    did, verification would fail closed. Not when a proxy is configured (the proxy itself may
    be https)."""
    if not base.startswith("http://") or any(
        os.environ.get(v) or os.environ.get(v.upper()) for v in _PROXY_VARS
    ):
        return {}
    import ssl

    return {"verify": ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)}


def make_client(base: str, headers: dict[str, str], timeout: float = 30.0) -> httpx.Client:
    headers = {"User-Agent": "sigma-cli", **headers}
    # tests point sigma.client.remote.CLIENT_FACTORY at an in-process app
    factory = getattr(sys.modules.get("sigma.client.remote"), "CLIENT_FACTORY", None)
    if factory is not None:
        client: httpx.Client = factory(base, headers)
        return client
    return httpx.Client(base_url=base, headers=headers, timeout=timeout, **_tls(base))


class ApiClient:
    """HTTP exchanges with a sigma server; any error status becomes the server's SigmaError
    (same message, same exit code as the local backend would give)."""

    def __init__(self, base: str, headers: dict[str, str]):
        self.base = base
        self.where = base
        self.http = make_client(base, headers)

    def request(self, method: str, path: str, *, params: Any = None, json: Any = None) -> Any:
        resp = self.http_call(method, path, params=params, json=json)
        ctype = resp.headers.get("content-type", "")
        return resp.json() if "json" in ctype else resp.text

    def http_call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            resp = self.http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TransportError as exc:
            raise Unavailable(
                f"cannot reach the sigma server at {self.base}: {exc or type(exc).__name__}"
            ) from None
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {"error": resp.text.strip()[:200] or f"HTTP {resp.status_code}"}
            err = error_from_body(resp.status_code, body)
            if isinstance(err, NotAuthenticated):
                raise NotAuthenticated(
                    f"not authenticated to {self.base}: run `sigma login {self.base}` "
                    f"(server said: {err.message})"
                )
            raise err
        return resp

    def pages(
        self, path: str, params: list[tuple[str, Any]], per_page: int = 100
    ) -> list[dict[str, Any]]:
        """Every item of a paged listing, as the server's JSON."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            result = self.request(
                "GET", path, params=[*params, ("page", page), ("per_page", per_page)]
            )
            items.extend(result["data"])
            if not result["data"] or len(items) >= result["total"]:
                return items
            page += 1

    def close(self) -> None:
        self.http.close()
