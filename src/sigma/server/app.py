"""create_app(settings): the FastAPI application behind `sigma serve`."""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from sigma import __version__
from sigma.settings import Settings, load_settings

log = logging.getLogger("sigma.server")
STATIC = Path(__file__).parent / "static"

# FastAPI wraps each body parameter (`data`, `body`) in a Field(alias=<its name>) when it
# first builds its validator or the API document, and pydantic 2.12 reports the alias as
# unused: a library's noise in every server's log, not a fault of these routes
warnings.filterwarnings(
    "ignore", message=r"The 'alias' attribute with value '(data|body)' was provided"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    from sqlalchemy import text

    from sigma.db.engine import make_engine, session_factory
    from sigma.server import errors, heartbeats, middleware, openapi, ratelimit, web
    from sigma.server.api import ROUTERS
    from sigma.server.deps import query_guard

    settings = settings or load_settings()
    engine = make_engine(
        settings.effective_database_url, pool_size=10, pooler=settings.database_pooler
    )
    app = FastAPI(
        lifespan=_lifespan,
        title="sigma",
        version=__version__,
        description="VPS fleet inventory API (compatible with the original sigma-api).",
        openapi_url="/api-docs/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(query_guard)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine, **settings.session_info())
    errors.install(app)
    openapi.install(app)
    # the hottest request, every agent every interval: a plain route, matched first, without
    # FastAPI's dependency solving (its declaration in api/agents.py documents it)
    app.router.routes.insert(0, heartbeats.route())
    for router in ROUTERS:
        app.include_router(router)
    web.install(app)

    @app.get("/healthz", response_class=PlainTextResponse, include_in_schema=False)
    def healthz() -> str:
        return "ok"

    @app.get("/readyz", include_in_schema=False)
    def readyz():
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            return JSONResponse(
                {"error": f"database unreachable: {type(exc).__name__}", "code": "unavailable"}, 503
            )
        return PlainTextResponse("ok")

    _swagger(app)
    # middleware, innermost first: CORS (when configured), rate limits, the edge (security
    # headers, on the 429s too, and the body limit), then the trusted proxies, outermost, so
    # that every layer sees the forwarded client
    if settings.cors_origins:  # off unless origins are listed: the web UI is same-origin
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=["*"],
            allow_headers=["Authorization", "X-Api-Key", "Content-Type", "If-Match"],
            expose_headers=["ETag", "X-RateLimit-Limit", "X-RateLimit-Remaining", "Retry-After"],
        )
    app.add_middleware(ratelimit.RateLimit, settings=settings)
    app.add_middleware(middleware.Edge, max_body_bytes=settings.max_body_bytes)
    from sigma.server.metrics import install as install_metrics

    install_metrics(app, settings)  # /metrics and the request histogram: only when exposed
    if settings.trusted_proxies:
        from sigma.server.proxies import TrustedProxies

        app.add_middleware(TrustedProxies, trusted=settings.trusted_proxies)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    import asyncio
    import gc

    from sigma.server.jobs import scheduler

    # what start-up built (modules, routes, schemas: ~1e5 objects) lives as long as the
    # process: out of the collector's sight, a full collection no longer walks it, which was
    # a tail-latency pause of tens of ms under load (bench/heartbeats.py p99)
    gc.collect()
    gc.freeze()
    task = None
    if app.state.settings.jobs_enabled:
        task = asyncio.create_task(scheduler(app.state.sessions, app.state.settings))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        app.state.engine.dispose()
        gc.unfreeze()  # an app run inside a longer process (tests, embedding) gives them back


def _swagger(app: FastAPI) -> None:
    """Swagger UI from the installed swagger-ui-bundle package: no CDN, no inline script."""
    import swagger_ui_bundle

    app.mount(
        "/swagger-ui/assets",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-assets",
    )
    app.mount("/static", VersionedStatic(directory=STATIC), name="static")

    @app.get("/swagger-ui", response_class=HTMLResponse, include_in_schema=False)
    def swagger_ui() -> str:
        return (STATIC / "swagger.html").read_text(encoding="utf-8")


class VersionedStatic(StaticFiles):
    """/static: a file asked for with its version (`?v=`, as the templates link the web UI's
    files) never changes under that URL, so browsers keep it for a year without asking again;
    without one it is kept briefly, then revalidated (ETag, Last-Modified)."""

    LONG = "public, max-age=31536000, immutable"
    SHORT = "public, max-age=300"

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            versioned = any(
                part.startswith(b"v=") and len(part) > 2
                for part in scope.get("query_string", b"").split(b"&")
            )
            response.headers["Cache-Control"] = self.LONG if versioned else self.SHORT
        return response


class RedactQuerySecrets(logging.Filter):
    """Calendar apps pass their API key as ?key=: the access log keeps the request, not the key."""

    _SECRET = re.compile(r"([?&](?:key|api_key|token)=)[^&\s\"]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._SECRET.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = self._SECRET.sub(r"\1***", record.msg)
        return True


def factory() -> FastAPI:
    """uvicorn --factory entry point: settings from config file and SIGMA_* environment."""
    logging.basicConfig(
        level=load_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(RedactQuerySecrets())
    return create_app()
