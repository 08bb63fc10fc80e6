"""/metrics of `sigma serve` (issue 17), in the Prometheus text format (or OpenMetrics, when
the scraper asks for it).

Exposed one of two ways, never by default:
- `metrics_token`: GET /metrics on the API port with `Authorization: Bearer <token>`,
  compared in constant time; without it, or with another one, 401;
- `metrics_listen` (HOST:PORT): a small separate listener that `sigma serve` starts
  (`listen`), so that the API port never exposes it (there /metrics is 404); with a token set
  too, the listener requires it as well.
With neither set, nothing is recorded and /metrics is 404.

What it says: the fleet's figures, read from the database at each scrape by
services.metrics.FleetCollector (one per app, in the app's own registry: nothing is shared
between two apps of one process), and `sigma_http_request_duration_seconds`, a histogram of
every HTTP request by method, route template (the route's path as declared, never the
request's: ids would make a series each) and status class, recorded by `RequestMetrics`.
The heartbeat is a plain Starlette route of the same router, so it is timed like any other
(route `/api/agent/heartbeat`). A request answered before any route matched it (a 404, a
body over the limit, a 429 of the rate limiter) is route "(unmatched)".

With several worker processes (`sigma serve --workers N`) or the separate listener, the
histogram is prometheus_client's multiprocess mode: serve points PROMETHEUS_MULTIPROC_DIR at
a fresh directory before any worker starts (`prepare_multiprocess`), each worker writes its
observations there, and what answers the scrape sums them, so a scrape says the same
whichever worker (or the listener) answers it.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from sigma.settings import Settings

log = logging.getLogger("sigma.server.metrics")

HISTOGRAM = "sigma_http_request_duration_seconds"
HISTOGRAM_HELP = (
    "Time taken to answer HTTP requests, by method, route template and status class "
    "(route (unmatched): answered before any route matched it)"
)
# the heartbeat's budget is p99 <= 50 ms: the low buckets are fine-grained
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def exposed(settings: Settings) -> bool:
    return bool(settings.metrics_token or settings.metrics_listen)


def install(app: Any, settings: Settings) -> None:
    """The request histogram's middleware and, with a token but no listener, the route.
    create_app calls it right after adding the edge middleware, so that the histogram sees
    the edge's and the rate limiter's answers too, inside the trusted-proxy layer (which may
    copy the scope: the route the router writes into it would be lost)."""
    if not exposed(settings):
        return
    registry, histogram = app_registry(app.state.sessions, os.environ.get(MULTIPROC_ENV))
    app.state.metrics_registry = registry
    app.add_middleware(RequestMetrics, histogram=histogram, router=app.router)
    if settings.metrics_listen:
        return  # the listener serves it (serve's `listen`), never the API port
    token = settings.metrics_token or ""

    async def endpoint(request: Any) -> Any:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        from sigma.errors import NotAuthenticated

        if not authorised(token, request.headers.get("authorization")):
            raise NotAuthenticated("Unauthorized: /metrics needs the metrics token (Bearer)")
        body, content_type = await run_in_threadpool(
            render, registry, request.headers.get("accept", "")
        )
        return Response(body, media_type=None, headers={"Content-Type": content_type})

    app.add_route("/metrics", endpoint, methods=["GET"], include_in_schema=False)


def authorised(token: str, header: str | None) -> bool:
    """The Authorization header carries this bearer token (constant-time comparison)."""
    if not token:
        return True
    given = header or ""
    if given[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(given[7:].strip().encode(), token.encode())


def render(registry: Any, accept: str = "") -> tuple[bytes, str]:
    """The registry in the format the scraper accepts (text unless it asks for OpenMetrics)."""
    from prometheus_client.exposition import choose_encoder

    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def app_registry(sessions: Any, multiproc_dir: str | None = None) -> tuple[Any, Any]:
    """(registry, histogram) of one app: the fleet's collector and the request histogram,
    or, in multiprocess mode, the sum of every worker's histograms."""
    from prometheus_client import CollectorRegistry, Histogram

    from sigma.services.metrics import FleetCollector

    registry = CollectorRegistry()
    registry.register(FleetCollector(sessions))
    labels = ("method", "route", "status")
    if multiproc_dir:
        histogram = Histogram(HISTOGRAM, HISTOGRAM_HELP, labels, registry=None, buckets=BUCKETS)
        registry.register(WorkersHistogram(multiproc_dir))
    else:
        histogram = Histogram(HISTOGRAM, HISTOGRAM_HELP, labels, registry=registry, buckets=BUCKETS)
    return registry, histogram


class WorkersHistogram:
    """prometheus_client's MultiProcessCollector (the workers' histograms, summed), with the
    histogram's HELP text (the files keep only the numbers)."""

    def __init__(self, path: str):
        from prometheus_client.multiprocess import MultiProcessCollector

        self.inner = MultiProcessCollector(None, path=path)

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        for family in self.inner.collect():
            if family.name == HISTOGRAM:
                family.documentation = HISTOGRAM_HELP
            yield family


class RequestMetrics:
    """ASGI middleware: the duration of every HTTP request into the histogram, by method,
    route template and status class. A few dictionary lookups and one observation per
    request (bench/README.md, "metrics")."""

    def __init__(self, app: Any, histogram: Any, router: Any):
        self.app = app
        self.histogram = histogram
        self.router = router
        self.observers: dict[tuple[str, str, int], Callable[[float], None]] = {}
        self.endpoints: dict[Any, str] | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500  # an exception that escapes is answered 500 by the outermost layer

        async def seen(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, seen)
        finally:
            self.observe(scope, status, time.perf_counter() - start)

    def observe(self, scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
        method = scope["method"]
        if method not in METHODS:
            method = "OTHER"  # a client's invented method is not a series of its own
        route = scope.get("route")
        template = getattr(route, "path", None) if route is not None else None
        if template is None:
            template = self.template(scope.get("endpoint"))
        key = (method, template, status // 100)
        observe = self.observers.get(key)
        if observe is None:
            cls = f"{key[2]}xx" if 1 <= key[2] <= 5 else "other"
            observe = self.observers[key] = self.histogram.labels(method, template, cls).observe
        observe(seconds)

    def template(self, endpoint: Any) -> str:
        """The declared path of the route whose endpoint the router matched (Starlette's own
        routes and mounts say only their endpoint)."""
        if endpoint is None:
            return UNMATCHED
        if self.endpoints is None:
            self.endpoints = {}
            for r in self.router.routes:
                target = getattr(r, "endpoint", None) or getattr(r, "app", None)
                path = getattr(r, "path", None)
                if target is not None and path is not None:
                    self.endpoints.setdefault(target, path or "/")
        return self.endpoints.get(endpoint, UNMATCHED)


# ------------------------------------------------------------------ serve's side


def prepare_multiprocess() -> str:
    """A fresh directory for the workers' histograms, in PROMETHEUS_MULTIPROC_DIR before any
    worker starts (and before prometheus_client is imported here: it picks its value store
    when imported); removed when serve exits."""
    import atexit
    import shutil
    import signal
    import sys
    import tempfile

    path = tempfile.mkdtemp(prefix="sigma-metrics-")
    os.environ[MULTIPROC_ENV] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)

    def terminated(signum: int, _frame: Any) -> None:
        # uvicorn re-raises the SIGTERM it stopped on once it has shut down, which ends the
        # process without atexit: remove the directory, then die of the signal as before
        shutil.rmtree(path, ignore_errors=True)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, terminated)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # imported already: switch this process's store as well
        setattr(values, "ValueClass", values.get_value_class())  # noqa: B010 (untyped module)
    return path


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9464' -> ('127.0.0.1', 9464); '[::1]:9464' -> ('::1', 9464)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def listen(settings: Settings, multiproc_dir: str) -> Any:
    """The separate /metrics listener on `metrics_listen`, in a daemon thread of serve's
    process: its own small engine and fleet collector, and the workers' histograms. Returns
    the server (shutdown() stops it)."""
    import socket
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import CollectorRegistry

    from sigma.db.engine import make_engine, session_factory
    from sigma.services.metrics import FleetCollector

    engine = make_engine(
        settings.effective_database_url, pool_size=1, pooler=settings.database_pooler
    )
    registry = CollectorRegistry()
    registry.register(FleetCollector(session_factory(engine, **settings.session_info())))
    registry.register(WorkersHistogram(multiproc_dir))
    token = settings.metrics_token or ""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") not in (
            "GET",
            "HEAD",
        ):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found: GET /metrics\n"]
        if not authorised(token, environ.get("HTTP_AUTHORIZATION")):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
            )
            return [b"Unauthorized: /metrics needs the metrics token (Bearer)\n"]
        try:
            body, content_type = render(registry, environ.get("HTTP_ACCEPT", ""))
        except Exception:  # noqa: BLE001 - the scrape fails, the listener stays
            log.exception("metrics scrape failed")
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"metrics unavailable, retry later\n"]
        start_response(
            "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        )
        return [body]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:  # serve's log is uvicorn's
            pass

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        allow_reuse_address = True

    host, port = split_listen(settings.metrics_listen or "")
    if ":" in host:
        Server.address_family = socket.AF_INET6
    server = make_server(host, port, app, server_class=Server, handler_class=Quiet)
    threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.5},
        name="sigma-metrics",
        daemon=True,
    ).start()
    return server
