"""The OpenAPI document as the API really answers: every error is the JSON error body
`{"error", "code", "field"?, "details"?}` (FastAPI documents its own 422 shape instead), and
the routes that take credentials say so (and declare their 401 and 403 answers)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "a message for humans, naming the field"},
        "code": {
            "type": "string",
            "description": "machine-readable kind: invalid_input, not_found, ...",
        },
        "field": {"type": "string", "description": "the offending field, when there is one"},
        "details": {"description": "per-field errors, or per-row errors of an import"},
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "a token from POST /api/auth/login (an API key works here too)",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
}

# declared on every route that takes credentials (schemathesis checks them as each role)
AUTH_ERRORS = {
    "401": "Not authenticated (no, invalid or expired credentials)",
    "403": "Forbidden: the caller's role may not do this",
}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = fix(doc)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def fix(doc: dict[str, Any]) -> dict[str, Any]:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    error = {"description": "Error", "content": {"application/json": {"schema": ERROR_REF}}}
    for item in doc.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid input (the field is named)", **error}
            for status, resp in responses.items():
                if status.startswith(("4", "5")) and "content" not in resp:
                    resp["content"] = error["content"]
            responses.setdefault("default", error)
            if op.get("x-sigma-role") not in (None, "public"):
                op.setdefault("security", [{"bearer": []}, {"apiKey": []}])
                for status, text in AUTH_ERRORS.items():
                    responses.setdefault(status, {**error, "description": text})
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and unused not in _refs(doc["paths"]):
            del schemas[unused]
    return doc


def _refs(node: Any) -> str:
    import json

    return json.dumps(node)
