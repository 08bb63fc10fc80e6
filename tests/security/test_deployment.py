"""Secrets at rest and in logs (issue 13, the smaller items).

A real server on a data directory that does not exist yet, with uvicorn's access log on:
the SQLite database (and its WAL and shared-memory files) holds password hashes and TOTP
secrets, so it is 0600 in a 0700 directory; a calendar app's `?key=` never reaches the
access log; `sigma config show` prints no DSN password."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import httpx
import pytest

from serverproc import ADMIN, Server


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A server whose SQLite file is in a directory `sigma serve` creates."""
    work = tmp_path_factory.mktemp("fresh-data")
    db = work / "new-dir" / "sigma.db"
    srv = Server(f"sqlite:///{db}", work, log_level="info")
    srv.start()
    yield srv
    srv.stop()


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_sqlite_files_and_their_directory_are_private(fresh):
    db_dir = fresh.workdir / "new-dir"
    with fresh.admin() as c:  # a write, so that the WAL is in use
        assert c.post("/api/vps", json={"hostname": "mode-check"}).status_code == 200
    assert _mode(db_dir) == 0o700
    files = sorted(p.name for p in db_dir.iterdir())
    assert files == ["sigma.db", "sigma.db-shm", "sigma.db-wal"], files
    for name in files:
        assert _mode(db_dir / name) == 0o600, (name, oct(_mode(db_dir / name)))


def _log_after(fresh, needle: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = fresh.log.read_text(errors="replace")
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_calendar_key_stays_out_of_the_access_log(fresh):
    key = fresh.api_key("readonly")
    r = httpx.get(fresh.base + "/api/calendar.ics", params={"key": key}, timeout=10)
    assert r.status_code == 200 and r.text.startswith("BEGIN:VCALENDAR"), r.text[:200]
    wrong = "sigma_" + "w" * 43
    r = httpx.get(fresh.base + "/api/calendar.ics", params={"key": wrong, "x": "1"}, timeout=10)
    assert r.status_code == 401
    log = _log_after(fresh, "x=1")
    assert (
        "GET /api/calendar.ics?key=*** HTTP/1.1" in log
        and "GET /api/calendar.ics?key=***&x=1" in log
    ), log[-2000:]
    for secret in (key, key[len("sigma_") :], wrong, ADMIN[1], fresh.env()["SIGMA_JWT_SECRET"]):
        assert secret not in log


@pytest.mark.parametrize("fmt", ["table", "json", "yaml", "csv"])
def test_config_show_prints_no_dsn_password(tmp_path, fmt):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGMA_")}
    env.update(
        SIGMA_CONFIG=str(tmp_path / "none.yaml"),
        SIGMA_DATA_DIR=str(tmp_path / "data"),
        COLUMNS="200",
        NO_COLOR="1",
        SIGMA_DATABASE_URL="postgresql+psycopg://u:pw@127.0.0.1/db?sslpassword=hunter2&password=hunter3",
        SIGMA_REDIS_URL="redis://:redis-pw-9@127.0.0.1:6379/0",
        SIGMA_JWT_SECRET="jwt-secret-0123456789abcdef",
        SIGMA_API_KEY="sigma_legacy_key_value",
    )
    r = subprocess.run(
        [sys.executable, "-m", "sigma", "config", "show", "--format", fmt],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "postgresql+psycopg://u:***@127.0.0.1/db" in out, out
    for secret in (
        ":pw@",
        "hunter2",
        "hunter3",
        "redis-pw-9",
        "jwt-secret-0123456789abcdef",
        "sigma_legacy_key_value",
    ):
        assert secret not in out, (secret, out)
