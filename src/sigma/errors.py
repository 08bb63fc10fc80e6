"""The SigmaError family: one class per kind of failure, each with its CLI exit code
and HTTP status, so services raise once and every face (CLI, API, remote client) agrees.

Exit codes (documented in the README):
    0 ok, 1 unexpected, 2 invalid input, 3 not found, 4 conflict,
    5 server unreachable / unavailable, 6 not authenticated or not permitted.
"""

from __future__ import annotations

from typing import Any, ClassVar


class SigmaError(Exception):
    code: ClassVar[str] = "internal"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: Any = None,
        audit: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details
        # the columns of an audit row that must outlive the rolled-back transaction (a
        # refused attempt, services.audit.refusal); written by db.engine.unit_of_work
        self.audit = audit

    def __str__(self) -> str:
        return self.message

    def to_body(self) -> dict[str, Any]:
        """The JSON error body: the contract's `error` key plus machine-readable extras."""
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(SigmaError):
    code = "invalid_input"
    exit_code = 2
    http_status = 422


class NotFound(SigmaError):
    code = "not_found"
    exit_code = 3
    http_status = 404


class Ambiguous(InvalidInput):
    """A reference (prefix or name) matched more than one record."""

    code = "ambiguous"


class Conflict(SigmaError):
    code = "conflict"
    exit_code = 4
    http_status = 409


class PreconditionFailed(Conflict):
    code = "precondition_failed"
    http_status = 412


class Unavailable(SigmaError):
    """The server or the database cannot be reached."""

    code = "unavailable"
    exit_code = 5
    http_status = 503


class NotAuthenticated(SigmaError):
    code = "not_authenticated"
    exit_code = 6
    http_status = 401


class PermissionDenied(SigmaError):
    code = "forbidden"
    exit_code = 6
    http_status = 403


class RateLimited(SigmaError):
    code = "rate_limited"
    exit_code = 5
    http_status = 429


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    http_status = 413


ERRORS_BY_CODE: dict[str, type[SigmaError]] = {
    cls.code: cls
    for cls in (
        SigmaError,
        InvalidInput,
        NotFound,
        Ambiguous,
        Conflict,
        PreconditionFailed,
        Unavailable,
        NotAuthenticated,
        PermissionDenied,
        RateLimited,
        PayloadTooLarge,
    )
}


def error_from_body(status: int, body: Any) -> SigmaError:
    """Rebuild the SigmaError a server answered with (used by the remote backend)."""
    message = "Unexpected error"
    cls: type[SigmaError] | None = None
    field = details = None
    if isinstance(body, dict):
        message = str(body.get("error") or message)
        cls = ERRORS_BY_CODE.get(str(body.get("code")))
        field = body.get("field")
        details = body.get("details")
    if cls is None:
        cls = _class_for_status(status)
    return cls(message, field=field, details=details)


def _class_for_status(status: int) -> type[SigmaError]:
    return {
        400: InvalidInput,
        401: NotAuthenticated,
        403: PermissionDenied,
        404: NotFound,
        409: Conflict,
        412: PreconditionFailed,
        413: PayloadTooLarge,
        422: InvalidInput,
        429: RateLimited,
        503: Unavailable,
    }.get(status, SigmaError)
