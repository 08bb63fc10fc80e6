from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serverproc import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("probe-server"))
    yield srv
    srv.stop()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(418)  # any status from the real server counts
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"hi")

    def log_message(self, *args):
        pass


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture(scope="module")
def listeners():
    """A TCP listener and an HTTP server on the same port, on 127.0.0.1 and [::1]."""
    v4 = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = v4.server_address[1]
    v6 = _Server6(("::1", port), _Handler)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (v4, v6)]
    for t in threads:
        t.start()
    yield port
    for s in (v4, v6):
        s.shutdown()
        s.server_close()
