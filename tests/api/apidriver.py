"""Drive every operation of the app's own OpenAPI document with a minimal valid request.

Bodies, query parameters and path references are built from the document alone: required
fields only, values from the JSON schema (enums, formats, bounds) plus a few hints by field
name for rules that JSON schema cannot express (an email, a country code, an IP...). Path
references point at real resources: the collection in front of the `{param}` is asked to
create one (POST, as admin), or else its first listed item is used. So a route's success
status is really reached, and a role check cannot hide behind a 422 or a 404.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
AGENT_HOST = "agent-matrix-host"  # the VPS the agent principal's key is bound to (conftest)
PRINCIPAL_PASSWORD = "password-123"  # the password of the users made by conftest's Api.user
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@test.local", "testpass123"  # tests/conftest.py's admin
LEGACY_KEY = "legacy-test-api-key-0123456789abcdef"  # settings.api_key of the API tests
JWT_SECRET = "test-jwt-secret-0123456789abcdef"


@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def rule(self) -> str | None:
        return self.spec.get("x-sigma-role")

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Call:
    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    has_json: bool = False
    content: bytes | None = None
    content_type: str | None = None


def audit_count(api) -> int:
    from sqlalchemy import text

    with api.app.state.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_logs")).scalar_one()


class Driver:
    def __init__(self, api, overrides: dict[str, Callable[[Driver], Any]] | None = None):
        """`overrides`: body factories keyed by component schema name (e.g. "LoginRequest")
        or by operation ("POST /api/vps/import"), for content no JSON schema can describe."""
        self.api = api
        self.client = api.client
        r = self.client.get("/api-docs/openapi.json")
        assert r.status_code == 200, r.text
        self.doc = r.json()
        self.admin = api.headers()
        self.overrides = overrides or {}
        self.cached: dict[str, str] = {}
        self.seq = itertools.count(1)
        self.tag = uuid.uuid4().hex[:6]

    # ------------------------------------------------------------ the document

    def operations(self) -> list[Operation]:
        ops = []
        for path, item in self.doc["paths"].items():
            for method, spec in item.items():
                if method in HTTP_METHODS:
                    ops.append(Operation(method.upper(), path, spec))
        return ops

    def deref(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.doc["components"]["schemas"][name]
        return schema

    # ------------------------------------------------------------ values

    def example(self, schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
        ref_name = schema.get("$ref", "").rsplit("/", 1)[-1]
        if ref_name in self.overrides:
            return self.overrides[ref_name](self)
        schema = self.deref(schema)
        if depth > 8:
            return None
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return next((e for e in schema["enum"] if e not in (None, "")), schema["enum"][0])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                variants = [v for v in schema[key] if self.deref(v).get("type") != "null"]
                return self.example(variants[0] if variants else schema[key][0], name, depth + 1)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self.deref(part))
            return self.example(merged, name, depth + 1)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            required = schema.get("required", [])
            return {
                k: self.example(v, k, depth + 1)
                for k, v in schema.get("properties", {}).items()
                if k in required
            }
        if kind == "array":
            item_name = name[:-1] if name.endswith("s") else name
            return [
                self.example(schema.get("items", {}), item_name, depth + 1)
                for _ in range(schema.get("minItems", 0))
            ]
        if kind in ("integer", "number"):
            low = schema.get(
                "minimum",
                schema.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in schema else 1,
            )
            high = schema.get(
                "maximum",
                schema.get("exclusiveMaximum", 10**9) - 1
                if "exclusiveMaximum" in schema
                else 10**9,
            )
            # varying values, so that a repeated update really changes something
            value = min(max(1, low) + next(self.seq) % 7, high)
            return int(value) if kind == "integer" else value
        if kind == "boolean":
            return False
        if kind == "null":
            return None
        return self.string(name, schema)

    def string(self, name: str, schema: dict[str, Any]) -> str:
        n = next(self.seq)
        low = name.lower()
        fmt = schema.get("format")
        if fmt == "uuid" or low.endswith("_id"):
            return self.reference(low)
        if fmt == "date" or low.endswith("_date") or low in ("date", "month"):
            return date.today().isoformat()
        if fmt == "date-time" or low.endswith("_at") or low in ("since", "until"):
            return datetime.now(UTC).isoformat()
        if fmt == "email" or "email" in low:
            return f"u{n}-{self.tag}@example.com"
        if low == "current_password":
            return PRINCIPAL_PASSWORD
        if "password" in low:
            return f"new-password-{n}"
        if "country" in low:
            return "US"
        if "currency" in low:
            return "EUR" if low.startswith("to") else "USD"
        if low.endswith("days"):
            return "30"
        if low in ("ip", "ip_address", "address", "source_ip", "target_ip"):
            return f"192.0.2.{n % 250 + 1}"
        if low.endswith("url") or low == "website":
            return "https://example.com/"
        if low == "code":
            return "000000"
        if low == "role":
            return "readonly"
        value = f"{low or 'x'}-{self.tag}-{n}"
        value = value[: schema.get("maxLength", len(value))]
        return value.ljust(schema.get("minLength", 0), "x")

    def reference(self, field_name: str) -> str:
        """A real id for a field like `vps_id`: from the collection /api/vps (or /api/<x>s)."""
        stem = field_name.removesuffix("_id")
        for candidate in (f"/api/{stem}", f"/api/{stem}s", f"/api/{stem}es"):
            if candidate in self.doc["paths"]:
                return self.existing(candidate)
        return str(uuid.uuid4())

    # ------------------------------------------------------------ resources

    def existing(self, collection: str, fresh: bool = False, depth: int = 0) -> str:
        if not fresh and collection in self.cached:
            return self.cached[collection]
        rid = self.create(collection, depth) or self.first(collection) or str(uuid.uuid4())
        if not fresh:
            self.cached[collection] = rid
        return rid

    def create(self, collection: str, depth: int = 0) -> str | None:
        template = self._template_of(collection)
        spec = self.doc["paths"].get(template, {}).get("post") if template else None
        if spec is None or depth > 4:
            return None
        call = self.build(Operation("POST", template, spec), depth=depth + 1, url=collection)
        r = self.send(call, self.admin)
        if r.status_code < 300 and "json" in r.headers.get("content-type", ""):
            body = r.json()
            if isinstance(body, dict) and body.get("id"):
                return str(body["id"])
        return None

    def get(self, rid: str, collection: str) -> dict[str, Any]:
        r = self.client.get(f"{collection}/{rid}", headers=self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def first(self, collection: str) -> str | None:
        r = self.client.get(collection, headers=self.admin)
        if r.status_code >= 300 or "json" not in r.headers.get("content-type", ""):
            return None
        body = r.json()
        items = body.get("data") if isinstance(body, dict) else body
        if isinstance(items, list) and items and isinstance(items[0], dict) and items[0].get("id"):
            return str(items[0]["id"])
        return None

    def _template_of(self, filled: str) -> str | None:
        """The document's path template that `filled` (a concrete path) is an instance of."""
        parts = filled.strip("/").split("/")
        # literal segments win over parameters: /api/vps/export before /api/vps/{ref}
        for template in sorted(self.doc["paths"], key=lambda t: t.count("{")):
            tparts = template.strip("/").split("/")
            if len(tparts) == len(parts) and all(
                t == p or (t.startswith("{") and t.endswith("}"))
                for t, p in zip(tparts, parts, strict=True)
            ):
                return template
        return None

    # ------------------------------------------------------------ calls

    def fill_path(self, path: str, fresh: bool = False, depth: int = 0) -> str:
        parts = path.strip("/").split("/")
        params = [i for i, p in enumerate(parts) if p.startswith("{")]
        for i in params:
            collection = "/" + "/".join(parts[:i])
            parts[i] = self.existing(collection, fresh=fresh and i == params[-1], depth=depth)
        return "/" + "/".join(parts)

    def build(
        self, op: Operation, *, fresh: bool = False, depth: int = 0, url: str | None = None
    ) -> Call:
        call = Call(op.method, url or self.fill_path(op.path, fresh, depth))
        for p in op.spec.get("parameters", []):
            if p.get("in") == "query" and p.get("required"):
                call.params[p["name"]] = self.example(p.get("schema", {}), p["name"])
        body = op.spec.get("requestBody")
        if body:
            content = body.get("content", {})
            if "application/json" in content:
                schema = content["application/json"].get("schema", {})
                override = self.overrides.get(str(op))
                call.json = override(self) if override else self.example(schema, "body")
                call.has_json = True
                if op.method in ("PUT", "PATCH") and isinstance(call.json, dict) and not call.json:
                    # an update with no field changes nothing: set the first field
                    props = self.deref(schema).get("properties", {})
                    for key, prop in list(props.items())[:1]:
                        call.json[key] = self.example(prop, key)
            elif content:
                ctype = next(iter(content))
                call.content, call.content_type = b"", ctype
        return call

    def send(self, call: Call, headers: dict[str, str]):
        kwargs: dict[str, Any] = {"params": call.params or None, "headers": dict(headers)}
        if call.has_json:
            kwargs["json"] = call.json
        elif call.content is not None:
            kwargs["content"] = call.content
            kwargs["headers"]["Content-Type"] = call.content_type
        return self.client.request(call.method, call.url, **kwargs)
