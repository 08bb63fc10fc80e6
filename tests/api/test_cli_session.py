"""`sigma login` / `sigma logout` and the CLI's remote mode as a user meets it: password from
stdin, the TOTP prompt, an API key, the 0600 credentials file where no keyring exists, and
the exit codes of an unreachable server (5, with its URL) and of refused credentials (6)."""

from __future__ import annotations

import json
import socket
import stat
import time

import pyotp
import pytest
import yaml
from apidriver import ADMIN_EMAIL, ADMIN_PASSWORD

SERVER = "http://testserver"

# the `cli` fixture's remote variant brings its own server and key; these tests make their
# own remote setup (login), so they take its plain, local variant
pytestmark = pytest.mark.parametrize("cli", ["local"], indirect=True)


@pytest.fixture
def db_url(sqlite_url):
    """Client-side behaviour: one database (SQLite) is enough."""
    return sqlite_url


@pytest.fixture
def server(api, monkeypatch):
    """The in-process app of the `api` fixture, reachable as http://testserver."""
    from fastapi.testclient import TestClient

    from sigma.client import remote

    monkeypatch.setattr(
        remote,
        "CLIENT_FACTORY",
        lambda base, headers: TestClient(api.app, base_url=base, headers=headers),
    )
    return api


def credentials_file(tmp_path):
    return tmp_path / "data" / "credentials.json"


def config(tmp_path) -> dict:
    path = tmp_path / "config.yaml"
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_login_with_password_from_stdin_then_logout(cli, server, tmp_path):
    r = cli(
        "login", SERVER, "--email", ADMIN_EMAIL, "--password-stdin", input=ADMIN_PASSWORD + "\n"
    )
    assert r.code == 0, r.err
    assert f"Logged in to {SERVER} as {ADMIN_EMAIL} (admin)" in r.err
    assert ADMIN_PASSWORD not in r.err + r.out
    # no keyring here (tests use keyring's fail backend): a 0600 file in the data dir
    creds = credentials_file(tmp_path)
    assert str(creds) in r.err
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    token = json.loads(creds.read_text())[SERVER]
    assert token.count(".") == 2 and token not in r.err + r.out  # a JWT, never printed
    assert config(tmp_path)["server"] == SERVER
    assert stat.S_IMODE((tmp_path / "config.yaml").stat().st_mode) == 0o600

    # every command now runs against the server, as that user
    assert cli("provider", "add", "Remote-Co", "--country", "US").code == 0
    entries = cli("audit", "list", "--resource", "provider", "--format", "json").json()
    assert entries[0]["user_email"] == ADMIN_EMAIL
    assert cli("user", "list", "-q").out.strip()

    r = cli("logout")
    assert r.code == 0 and f"Logged out of {SERVER}" in r.err
    assert "server" not in config(tmp_path)
    assert SERVER not in json.loads(creds.read_text())
    # back to the local database (the same file here): changes are by the local operator
    assert cli("provider", "add", "Local-Co").code == 0
    entries = cli("audit", "list", "--resource", "provider", "--format", "json").json()
    assert entries[0]["user_email"].startswith("local:")
    assert cli("logout").err.strip() == "Not logged in to any server."


def test_login_refused_saves_nothing(cli, server, tmp_path):
    r = cli("login", SERVER, "--email", ADMIN_EMAIL, "--password-stdin", input="wrong-password\n")
    assert r.code == 6
    assert "wrong email or password" in r.err
    assert not credentials_file(tmp_path).exists() and "server" not in config(tmp_path)


def test_login_with_totp_prompt_and_mfa_commands(cli, server, tmp_path, monkeypatch):
    from sigma.services import auth

    # an account, logged in by the CLI
    user_token = server.user("operator", email="mfa@example.com")
    assert user_token
    r = cli(
        "login", SERVER, "--email", "mfa@example.com", "--password-stdin", input="password-123\n"
    )
    assert r.code == 0, r.err
    # `sigma mfa enable` shows a QR code and the secret, then asks for a code
    secret = pyotp.random_base32(32)
    monkeypatch.setattr(pyotp, "random_base32", lambda *a, **k: secret)
    steps = iter(range(10))
    base = int(time.time()) // 30 * 30 + 15
    clock = {"t": base}
    real = auth.totp_step
    monkeypatch.setattr(
        auth,
        "totp_step",
        lambda s, c, *, at=None, window=1: real(s, c, at=clock["t"], window=window),
    )

    def code():
        clock["t"] = base + 30 * next(steps)
        return pyotp.TOTP(secret).at(clock["t"])

    r = cli("mfa", "enable", input=code() + "\n")
    assert r.code == 0, r.err
    assert secret in r.err and "otpauth://totp/Sigma:" in r.err and "MFA enabled" in r.err
    assert "█" in r.err or "▀" in r.err or "▄" in r.err  # the QR code, drawn in the terminal

    # the login now asks for the code after the password (both from stdin)
    r = cli(
        "login",
        SERVER,
        "--email",
        "mfa@example.com",
        "--password-stdin",
        input=f"password-123\n{code()}\n",
    )
    assert r.code == 0, r.err
    assert "TOTP code" in r.err
    wrong = "000000" if pyotp.TOTP(secret).at(base + 300) != "000000" else "111111"
    r = cli(
        "login",
        SERVER,
        "--email",
        "mfa@example.com",
        "--password-stdin",
        input=f"password-123\n{wrong}\n",
    )
    assert r.code == 2 and "Invalid TOTP code" in r.err

    r = cli("mfa", "disable", "--code", code())
    assert r.code == 0 and "MFA disabled" in r.err
    r = cli(
        "login", SERVER, "--email", "mfa@example.com", "--password-stdin", input="password-123\n"
    )
    assert r.code == 0 and "TOTP" not in r.err


def test_login_with_an_api_key(cli, server, tmp_path):
    key = server.api_key("readonly")
    r = cli("login", SERVER, "--api-key", key)
    assert r.code == 0 and "(readonly)" in r.err and key not in r.err
    assert key in credentials_file(tmp_path).read_text()
    assert cli("provider", "list").code == 0
    # the key's role applies: a readonly key cannot add a provider -> exit 6
    r = cli("provider", "add", "Nope")
    assert r.code == 6
    assert "Role 'readonly' is not allowed" in r.err
    r = cli("login", SERVER, "--api-key", "sigma_not-a-real-key")
    assert r.code == 6


def test_unreachable_server_exit_5_with_its_url(cli, tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("SIGMA_API_KEY", "sigma_anything")
    r = cli("--server", url, "provider", "list")
    assert r.code == 5
    assert url in r.err and "cannot reach" in r.err
    assert "Traceback" not in r.err
    r = cli("login", url, "--email", "a@example.com", "--password-stdin", input="whatever-123\n")
    assert r.code == 5 and url in r.err
    assert not credentials_file(tmp_path).exists()


def test_refused_credentials_exit_6(cli, server, monkeypatch):
    monkeypatch.setenv("SIGMA_SERVER", SERVER)
    monkeypatch.setenv("SIGMA_API_KEY", "sigma_revoked-or-never-was")
    r = cli("vps", "list")
    assert r.code == 6
    assert f"sigma login {SERVER}" in r.err
    monkeypatch.setenv("SIGMA_API_KEY", server.api_key("readonly"))
    assert cli("vps", "list").code == 0
    r = cli("vps", "add", "nope-1")
    assert r.code == 6 and "Forbidden" in r.err
    r = cli("user", "list")
    assert r.code == 6 and "Required: admin" in r.err


def test_logout_all_signs_out_every_session_and_passwd_signs_in_again(cli, server, tmp_path):
    """`sigma logout --all` revokes every token of the user (another terminal's too);
    `sigma user passwd` revokes them as well, and signs this CLI in again with the new one."""
    login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    other = server.client.post("/api/auth/login", json=login).json()["token"]  # another terminal
    assert (
        cli(
            "login", SERVER, "--email", ADMIN_EMAIL, "--password-stdin", input=ADMIN_PASSWORD + "\n"
        ).code
        == 0
    )
    r = cli("user", "passwd", "--password-stdin", input=f"{ADMIN_PASSWORD}\nnew-password-456\n")
    assert r.code == 0 and "Password changed" in r.err, r.err
    assert server.client.get("/api/auth/me", headers=server.headers(other)).status_code == 401
    assert cli("vps", "list").code == 0  # this CLI holds a token of the new password
    other = server.client.post(
        "/api/auth/login", json={**login, "password": "new-password-456"}
    ).json()["token"]
    r = cli("logout", "--all")
    assert r.code == 0 and "Every session of your user" in r.err and "Logged out" in r.err
    assert server.client.get("/api/auth/me", headers=server.headers(other)).status_code == 401
    assert "server" not in config(tmp_path)


def test_whoami_and_where_commands_run(cli, server, tmp_path):
    """`sigma whoami` says who and where; login and logout say where commands now run."""
    local = cli("whoami", "--format", "json").json()
    assert local["mode"] == "local" and local["role"] == "admin"
    assert local["email"].startswith("local:") and local["where"].startswith("sqlite:")
    r = cli(
        "login", SERVER, "--email", ADMIN_EMAIL, "--password-stdin", input=ADMIN_PASSWORD + "\n"
    )
    assert r.code == 0 and "Commands now run against this server" in r.err, r.err
    remote = cli("whoami", "--format", "json").json()
    assert remote == {
        "where": SERVER,
        "mode": "remote",
        "email": ADMIN_EMAIL,
        "role": "admin",
        "mfa": False,
        "password_change_required": False,
    }
    assert cli("whoami").out.strip() == f"{ADMIN_EMAIL} (admin) on {SERVER}"
    r = cli("logout")
    assert "Commands now run on the local database (sqlite:" in r.err, r.err
    assert cli("whoami", "--format", "json").json()["mode"] == "local"


def test_a_keyring_that_forgets_is_not_used(cli, server, tmp_path, monkeypatch):
    """keyring's null backend (its documented way to turn keyrings off) accepts a secret and
    forgets it: the token goes to the 0600 file and the next command is authenticated."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    r = cli(
        "login", SERVER, "--email", ADMIN_EMAIL, "--password-stdin", input=ADMIN_PASSWORD + "\n"
    )
    assert r.code == 0 and "OS keyring" not in r.err and str(credentials_file(tmp_path)) in r.err
    assert cli("whoami", "--format", "json").json()["email"] == ADMIN_EMAIL


def test_usage_errors_are_one_line_in_the_house_style(cli):
    r = cli("vps", "list", "--per-page", "0")
    assert r.code == 2 and r.err.count("\n") == 1, r.err
    assert r.err.startswith("error: Invalid value for '--per-page'")
    assert "(see 'sigma vps list --help')" in r.err
    r = cli("vps", "lst")
    assert r.err.count("Did you mean") == 1 and r.err.startswith("error: No such command")
    r = cli("cost", "rate", "set", "EUR", "USD", "-1")
    assert r.code != 0 and "must not be negative" in r.err
