"""`sigma serve` as operators run it: a real process on a free loopback port, zero
configuration (embedded SQLite in the data dir), the first admin's one-time password
printed once, or SIGMA_ADMIN_EMAIL/PASSWORD; and the refusal to listen on a public
address without a real JWT secret."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from serverproc import free_port


@contextmanager
def sigma_serve(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    """Start `sigma serve` on a free port; yield (base URL, function returning the
    output so far)."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    full_env = {**os.environ, "SIGMA_JOBS_ENABLED": "false", **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sigma",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sigma serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"sigma serve did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield base, lambda: log.read_text()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_zero_config_serve_prints_the_one_time_password_once(tmp_path):
    with sigma_serve(tmp_path, env={"SIGMA_MAX_BODY_BYTES": "2048"}) as (base, output):
        r = httpx.get(f"{base}/healthz")
        assert (r.status_code, r.text) == (200, "ok")
        assert httpx.get(f"{base}/readyz").status_code == 200
        text = output()
        passwords = re.findall(r"One-time password[^:]*: (\S+)", text)
        assert len(passwords) == 1, text
        assert "changeme" not in text
        # the API document is built without library warnings landing in the server's log
        assert httpx.get(f"{base}/api-docs/openapi.json").status_code == 200
        assert "Warning" not in output(), output()
        r = httpx.post(
            f"{base}/api/auth/login", json={"email": "admin@sigma.local", "password": passwords[0]}
        )
        assert r.status_code == 200, r.text
        assert r.json()["user"]["force_password_change"] is True
        token = r.json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/vps", headers=h).status_code == 403  # change it first
        r = httpx.post(
            f"{base}/api/auth/change-password",
            headers=h,
            json={"current_password": passwords[0], "new_password": "a-real-password"},
        )
        assert r.status_code == 200
        assert httpx.get(f"{base}/api/vps", headers=h).status_code == 401  # that session is over
        r = httpx.post(
            f"{base}/api/auth/login",
            json={"email": "admin@sigma.local", "password": "a-real-password"},
        )
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        assert httpx.get(f"{base}/api/vps", headers=h).status_code == 200

        # the body limit over a real socket, chunked (no Content-Length)
        def chunks():
            yield b'{"name": "'
            for _ in range(40):
                yield b"z" * 100
            yield b'"}'

        r = httpx.post(
            f"{base}/api/providers",
            headers={**h, "Content-Type": "application/json"},
            content=chunks(),
        )
        assert r.status_code == 413, r.text
    assert (tmp_path / "data" / "sigma.db").exists()
    secret = tmp_path / "data" / "jwt-secret"
    assert secret.exists() and secret.stat().st_mode & 0o777 == 0o600


@pytest.fixture
def serve_in_process(monkeypatch, capsys):
    """`sigma serve` in this process up to the point where uvicorn would start."""
    import uvicorn

    from sigma.cli import main

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    # serve hands its settings to the workers through the environment: restore it after
    monkeypatch.setenv("SIGMA_DATABASE_URL", "")
    monkeypatch.delenv("SIGMA_DATABASE_URL")
    monkeypatch.setenv("SIGMA_JWT_SECRET", "")
    monkeypatch.delenv("SIGMA_JWT_SECRET")

    def run(*args: str) -> str:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(["serve", "--port", "1", *args])
        assert exc.value.code == 0
        assert started and started[-1]["host"] == "127.0.0.1"
        return capsys.readouterr().err

    return run


def test_restart_creates_no_second_admin(serve_in_process, tmp_path):
    first = serve_in_process()
    assert len(re.findall(r"One-time password", first)) == 1
    second = serve_in_process()
    assert "One-time password" not in second and "Created the first admin" not in second
    # the generated JWT secret is kept: the same for every start (and every worker)
    assert os.environ["SIGMA_JWT_SECRET"] == (tmp_path / "data" / "jwt-secret").read_text().strip()


def test_admin_from_the_environment(serve_in_process, monkeypatch, tmp_path):
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work
    from sigma.services import auth
    from sigma.services.users import find

    monkeypatch.setenv("SIGMA_ADMIN_EMAIL", "root@example.com")
    monkeypatch.setenv("SIGMA_ADMIN_PASSWORD", "from-the-env-123")
    err = serve_in_process()
    assert "One-time password" not in err and "from-the-env-123" not in err
    assert "root@example.com" in err
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'sigma.db'}")
    try:
        with unit_of_work(sessionmaker(engine)) as session:
            user = find(session, "root@example.com")
            assert user.role == "admin" and not user.force_password_change
            assert auth.verify_password(user.password_hash, "from-the-env-123")
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "secret", [None, "changeme", "sigma-default-jwt-secret-change-me", "too-short"]
)
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_refuses_public_address_without_a_real_jwt_secret(host, secret, monkeypatch, capsys):
    from sigma.cli import main

    if secret is not None:
        monkeypatch.setenv("SIGMA_JWT_SECRET", secret)
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--host", host, "--port", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "JWT secret" in err and "SIGMA_JWT_SECRET" in err
    if secret:
        assert secret not in err
