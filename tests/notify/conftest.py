"""Fixtures: cheap password hashing for the `api` fixture and service calls as the local
operator. The `cli` fixture of tests/conftest.py runs each command locally and remotely."""

from __future__ import annotations

import pytest
from tests.service_fixtures import fast_password_hashing, run  # noqa: F401 (fixtures)


class FakeServer:
    """A loopback HTTP server standing in for Telegram's Bot API or a webhook receiver.
    `responses` is a queue of (status, json body) answered in turn, then 200 {"ok": true}."""

    def __init__(self):
        import http.server
        import threading

        self.requests: list[dict] = []
        self.responses: list[tuple[int, dict]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                import json
                import time

                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with server.lock:
                    server.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "json": json.loads(body or b"null"),
                            "at": time.monotonic(),
                        }
                    )
                    status, answer = (
                        server.responses.pop(0) if server.responses else (200, {"ok": True})
                    )
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def telegram():
    server = FakeServer()
    yield server
    server.stop()


@pytest.fixture
def webhook():
    server = FakeServer()
    yield server
    server.stop()
