"""HTTP plumbing of `sigma serve`: body limit, malformed and wrong-typed input, unknown
paths, security headers, health and readiness, the offline Swagger UI and the validity of
the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from apidriver import LEGACY_KEY

H = {"X-Api-Key": LEGACY_KEY}


@pytest.fixture
def db_url(sqlite_url):
    """Plumbing above the database: SQLite is enough."""
    return sqlite_url


@pytest.fixture
def small(api_settings):
    """A server whose body limit is 2 KiB."""
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app

    with TestClient(create_app(api_settings.model_copy(update={"max_body_bytes": 2048}))) as client:
        yield client


def test_body_limit_by_content_length_and_while_streaming(small):
    ok = small.post("/api/providers", headers=H, json={"name": "fits", "notes": "x" * 1000})
    assert ok.status_code == 200
    big = {"name": "too-big", "notes": "x" * 3000}
    r = small.post("/api/providers", headers=H, json=big)
    assert r.status_code == 413
    assert r.json() == {"error": "request body larger than 2048 bytes", "code": "payload_too_large"}

    def chunks():  # no Content-Length: Transfer-Encoding chunked
        yield b'{"name": "streamed", "notes": "'
        for _ in range(30):
            yield b"y" * 100
        yield b'"}'

    r = small.post(
        "/api/providers", headers={**H, "Content-Type": "application/json"}, content=chunks()
    )
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "payload_too_large"
    # unauthenticated: refused before anything reads the body
    assert small.post("/api/providers", json=big).status_code in (401, 413)
    names = [p["name"] for p in small.get("/api/providers", headers=H).json()["data"]]
    assert names == ["fits"]


def test_lean_heartbeat_route_keeps_the_gateway_rules(small):
    """The heartbeat is answered by the gateway before FastAPI: the same body limit (by
    Content-Length and while streaming), security headers, JSON errors and auth."""
    url = "/api/agent/heartbeat"
    r = small.post(url, headers=H, json={"hostname": "hb-01", "system_info": {"pad": "x" * 3000}})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert r.headers["x-content-type-options"] == "nosniff"

    def chunks():
        yield b'{"hostname": "hb-01", "system_info": {"pad": "'
        for _ in range(30):
            yield b"z" * 100
        yield b'"}}'

    r = small.post(url, headers={**H, "Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = small.post(url, json={"hostname": "hb-01"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["code"] == "not_authenticated"
    r = small.post(url, headers={**H, "Content-Type": "application/json"}, content=b"{not json")
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = small.post(url, headers=H, json={"hostname": "no-such-host", "system_info": {}})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert small.get(url, headers=H).status_code == 405  # other methods: FastAPI as usual


def test_malformed_and_wrong_typed_input_is_422_naming_the_field(api):
    h = {**api.headers(), "Content-Type": "application/json"}
    r = api.client.post("/api/providers", headers=h, content=b'{"name": ')
    assert r.status_code == 422
    assert r.json()["field"] == "body" and "malformed JSON" in r.json()["error"]
    r = api.client.post("/api/providers", headers=h, content=b"[1, 2]")
    assert r.status_code == 422 and r.json()["field"] == "body"
    for body, field in (
        ({"name": "a", "rating": "five"}, "rating"),
        ({"name": "a", "api_supported": "maybe"}, "api_supported"),
        ({"name": 5}, "name"),
        ({"name": "a", "colour": "red"}, "colour"),
        ({}, "name"),
    ):
        r = api.client.post("/api/providers", headers=api.headers(), json=body)
        assert r.status_code == 422, body
        assert r.json()["field"] == field and field in r.json()["error"], r.text
        assert r.json()["code"] == "invalid_input"
    r = api.client.post(
        "/api/vps",
        headers=api.headers(),
        json={"hostname": "h", "ip_addresses": [{"ip": "300.1.1.1"}]},
    )
    assert r.status_code == 422 and r.json()["field"] == "ip_addresses.0.ip"
    r = api.client.get("/api/vps", headers=api.headers(), params={"page": "two"})
    assert r.status_code == 422 and r.json()["field"] == "page"
    r = api.client.get("/api/vps", headers=api.headers(), params={"status": "exploded"})
    assert r.status_code == 422 and r.json()["field"] == "status"


def test_unknown_paths_and_methods_answer_json(api):
    for path in ("/api/nothing-here", "/nothing-here", "/api/vps/x/y/z"):
        r = api.client.get(path, headers=api.headers())
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json"
        assert r.json()["error"] == "Not found"
    r = api.client.patch("/api/providers", headers=api.headers(), json={})
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"


def test_security_headers_everywhere(api):
    for path in (
        "/healthz",
        "/api/auth/me",
        "/api/nothing",
        "/swagger-ui",
        "/api-docs/openapi.json",
    ):
        r = api.client.get(path, headers=api.headers())
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"], path
        assert "default-src 'self'" in r.headers["content-security-policy"], path
        assert "server" not in r.headers or "uvicorn" not in r.headers["server"].lower()


def test_health_and_readiness(api, api_settings):
    from fastapi.testclient import TestClient

    from sigma.server.app import create_app

    r = api.client.get("/healthz")
    assert (r.status_code, r.text) == (200, "ok")
    assert api.client.get("/readyz").status_code == 200
    # a database that cannot be reached: not ready (503), but alive
    broken = api_settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    with TestClient(create_app(broken)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["code"] == "unavailable"
        assert "nobody" not in r.text
        assert client.get("/healthz").text == "ok"
        r = client.get("/api/vps", headers=H)
        assert r.status_code == 503 and r.headers["retry-after"]


def test_swagger_ui_is_served_locally(api):
    r = api.client.get("/swagger-ui")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    # nothing from another host: no CDN (browsers may be offline or behind the GFW)
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?:https?:)?//", html), html
    assets = re.findall(r"(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        a = api.client.get(asset)
        assert a.status_code == 200 and len(a.content) > 100, asset
        if asset.endswith(".js"):
            assert "javascript" in a.headers["content-type"]
            if "swagger-ui-bundle" not in asset:
                assert "/api-docs/openapi.json" in a.text
        # an inline <script> would be blocked by the Content-Security-Policy
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)


def test_openapi_document_is_valid_and_complete(api):
    from openapi_spec_validator import validate

    r = api.client.get("/api-docs/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in (
        "/api/auth/login",
        "/api/providers",
        "/api/providers/{ref}",
        "/api/vps",
        "/api/vps/{ref}/retire",
        "/api/users",
        "/api/audit-logs",
    ):
        assert path in paths, path
    error = doc["components"]["schemas"]["Error"]
    assert "error" in error["required"]
    for path, item in paths.items():
        for method, op in item.items():
            responses = op["responses"]
            assert "default" in responses, (method, path)
            if "422" in responses:
                schema = responses["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
