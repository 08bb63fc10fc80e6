"""One JSON error body for every API error: {"error": message, "code", "field"?, "details"?}."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException

from sigma.errors import SigmaError, Unavailable

log = logging.getLogger("sigma.server")


def error_response(
    status: int, body: dict, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def sigma_error_parts(exc: SigmaError) -> tuple[int, dict, dict | None]:
    """(status, body, headers) of a SigmaError: shared by the FastAPI handler below and the
    lean routes of the gateway (server.middleware), so both answer alike."""
    if isinstance(exc, Unavailable):
        # the database's address is for the log, not for every client; clients retry
        log.warning("%s", exc.message)
        return (
            503,
            {"error": "database unavailable, retry later", "code": "unavailable"},
            {"Retry-After": "5"},
        )
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    return exc.http_status, exc.to_body(), headers


async def _refusal_first(request: Request) -> JSONResponse | None:
    """Who may not call a route hears so before anything about its body: FastAPI parses the
    body before the route's dependencies run, so a request it could not parse is
    authenticated here first (401 / 403 instead of the 422)."""
    from starlette.concurrency import run_in_threadpool

    from sigma.server.deps import current_actor, route_rule

    if route_rule(request) in (None, "public"):
        return None
    try:
        await run_in_threadpool(current_actor, request)
    except SigmaError as exc:
        return error_response(*sigma_error_parts(exc))
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(SigmaError)
    async def sigma_error(_request: Request, exc: SigmaError):
        return error_response(*sigma_error_parts(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        refused = await _refusal_first(request)
        if refused is not None:
            return refused
        details = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            field: str | None = ".".join(
                loc[1:] if loc and loc[0] in ("query", "path", "header") else loc
            )
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "json_invalid":
                msg, field = "malformed JSON body", "body"
            elif err.get("type") == "extra_forbidden":
                msg = "unknown field"
            elif err.get("type") == "missing":
                msg = "field required"
            if not field:
                from sigma.schemas.common import located

                field, msg = located(msg, field)
            details.append({"field": field or "body", "message": msg})
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        return error_response(
            422,
            {
                "error": f"{first['field']}: {first['message']}",
                "code": "invalid_input",
                "field": first["field"],
                "details": details,
            },
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 413:  # a streamed body over max_body_bytes (server.middleware)
            from sigma.server.middleware import too_large

            return error_response(413, too_large(request.app.state.settings.max_body_bytes))
        message = {404: "Not found", 405: "Method not allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        code = {400: "invalid_input", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, {"error": message, "code": code}, exc.headers)

    @app.exception_handler(OperationalError)
    async def db_down(_request: Request, exc: OperationalError):
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return error_response(
            503,
            {"error": "database unavailable, retry later", "code": "unavailable"},
            {"Retry-After": "5"},
        )

    @app.exception_handler(DBAPIError)
    async def db_error(_request: Request, exc: DBAPIError):
        log.error("database error: %s", exc.orig)
        return error_response(500, {"error": "Database error", "code": "internal"})

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception):
        log.exception("unhandled error")
        return error_response(500, {"error": "Internal error", "code": "internal"})
