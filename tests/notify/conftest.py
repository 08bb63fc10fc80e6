"""Fixtures: cheap password hashing for the `api` fixture and service calls as the local
operator. The `cli` fixture of tests/conftest.py runs each command locally and remotely."""

from __future__ import annotations

import pytest
from tests.service_fixtures import each, fast_password_hashing, run  # noqa: F401 (fixtures)


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


class Receiver:
    """A loopback HTTP server for Apprise's json://, form:// and xml:// notices: records
    every request (path, headers, raw body); `fail[path] = status` answers that status,
    `hang[path] = seconds` answers that late (a timeout for a short ?rto=)."""

    def __init__(self):
        import http.server
        import threading

        self.requests: list[dict] = []
        self.fail: dict[str, int] = {}
        self.hang: dict[str, float] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                import time

                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                path = self.path.split("?", 1)[0]
                hang = server.hang.get(path)
                status = server.fail.get(path, 200)
                with server.lock:
                    server.requests.append(
                        {
                            "path": path,
                            "headers": dict(self.headers),
                            "body": body,
                            "status": "hung" if hang else status,
                        }
                    )
                if hang:
                    time.sleep(hang)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (a hang)
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, scheme: str, path: str, **query: str) -> str:
        from urllib.parse import urlencode

        q = ("?" + urlencode(query)) if query else ""
        return f"{scheme}://127.0.0.1:{self.port}{path}{q}"

    def to(self, path: str) -> list[dict]:
        """The requests that reached `path` and were answered 200."""
        return [r for r in self.requests if r["path"] == path and r["status"] == 200]

    def json(self, path: str) -> list[dict]:
        import json

        return [json.loads(r["body"]) for r in self.to(path)]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


class Smtp:
    """An aiosmtpd server on loopback that wants AUTH (user sigma, password PASSWORD)."""

    USER, PASSWORD = "sigma", "smtp-Pa55word-x9"

    def __init__(self):
        import socket
        import warnings

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[dict] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                outer.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "content": envelope.content.decode("utf-8", "replace"),
                    }
                )
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == self.USER.encode()
                and auth_data.password == self.PASSWORD.encode()
            )
            return AuthResult(success=ok)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # AUTH without TLS: loopback, on purpose
            self.controller = Controller(
                Handler(),
                hostname="127.0.0.1",
                port=self.port,
                authenticator=authenticate,
                auth_required=True,
                auth_require_tls=False,
            )
            self.controller.start()

    def url(self, password: str | None = None) -> str:
        return (
            f"mailto://{self.USER}:{password or self.PASSWORD}@localhost:{self.port}"
            "?to=ops@example.com&from=sigma@example.com&smtp=127.0.0.1&mode=insecure&cto=3"
        )

    def stop(self):
        self.controller.stop()


@pytest.fixture
def smtp():
    server = Smtp()
    yield server
    server.stop()
