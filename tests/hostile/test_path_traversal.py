"""Path traversal: the server serves files only from its two static directories and never
takes a file path from a client. Encoded and raw dot-dot segments, absolute paths and
backslashes in those URLs get a 404 (or 400), never a file from outside."""

import asyncio

import pytest

SECRETS = ("def create_app", "root:x:0:0", "[project]", "jwt_secret")

PATHS = [
    "/static/../app.py",
    "/static/%2e%2e/app.py",
    "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2fapp.py",
    "/static/..%5capp.py",
    "/static/%2fetc%2fpasswd",
    "/static//etc/passwd",
    "/static/web/../../app.py",
    "/swagger-ui/assets/../../../../../../etc/passwd",
    "/swagger-ui/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/web/%00.css",
]


@pytest.fixture
def db_url(sqlite_url):
    """Files, not data: SQLite is enough."""
    return sqlite_url


def _get_raw(app, raw_path: str) -> tuple[int, bytes]:
    """One GET with the path exactly as given (HTTP clients normalise '..' away)."""
    from urllib.parse import unquote

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    out: dict = {"status": 0, "body": b""}

    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(60)  # a client that stays: file responses listen for a disconnect
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return out["status"], out["body"]


@pytest.mark.parametrize("path", PATHS)
def test_static_urls_never_leave_their_directory(api, path):
    status, body = _get_raw(api.client.app, path)
    assert status in (400, 404, 405), (path, status, body[:200])
    text = body.decode("utf-8", "replace")
    assert not any(s in text for s in SECRETS), (path, text[:200])


def test_the_static_files_themselves_are_served(api):
    status, body = _get_raw(api.client.app, "/static/swagger.html")
    assert status == 200 and b"swagger" in body.lower()
