"""Redis stopped and started under load: the rate limiter falls back to this process's
window (logged once per outage), no request fails with a 5xx, and the shared limits come back
with Redis."""

import logging
import shutil
import socket
import subprocess
import time

import pytest

from serverproc import free_port

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server not installed"
)


def _start_redis(port: int, tmp_path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.fixture
def private_redis(tmp_path):
    port = free_port()
    proc = _start_redis(port, tmp_path)
    state = {"port": port, "proc": proc}
    yield state
    state["proc"].kill()
    state["proc"].wait()


def test_redis_outage_under_load(api_settings, private_redis, tmp_path, caplog, monkeypatch):
    from fastapi.testclient import TestClient

    from sigma.db.engine import make_engine, upgrade
    from sigma.server import ratelimit
    from sigma.server.app import create_app

    monkeypatch.setattr(ratelimit, "REDIS_RETRY", 0.5)
    settings = api_settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{private_redis['port']}/0",
            "rate_limit_requests": 40,
            "rate_limit_window": 60,
        }
    )
    upgrade(make_engine(settings.effective_database_url))
    caplog.set_level(logging.WARNING, logger="sigma.server")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        statuses = []

        def burst(n):
            for _ in range(n):
                statuses.append(client.get("/api/vps").status_code)  # 401: counted, not served

        burst(20)
        assert set(statuses) == {401}
        assert client.get("/api/vps").headers.get("x-ratelimit-limit") == "40"

        private_redis["proc"].kill()
        private_redis["proc"].wait()
        statuses.clear()
        started = time.monotonic()
        burst(60)  # Redis is gone: this process's window counts afresh, and limits
        assert statuses[:40] == [401] * 40 and set(statuses[40:]) == {429}, statuses
        assert time.monotonic() - started < 30  # short socket timeouts: no hang per request
        outage_logs = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(outage_logs) == 1

        private_redis["proc"] = _start_redis(private_redis["port"], tmp_path)
        time.sleep(0.6)
        statuses.clear()
        burst(45)
        assert 429 in statuses, statuses
        assert not [s for s in statuses if s >= 500]
        limited = client.get("/api/vps")
        assert limited.status_code == 429
        assert limited.json()["error"] == "Too Many Requests"
        assert int(limited.headers["retry-after"]) >= 1
        assert any("reachable again" in r.getMessage() for r in caplog.records)
