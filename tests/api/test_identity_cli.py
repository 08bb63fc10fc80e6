"""`sigma user`, `sigma api-key` and `sigma audit` on both backends (the `cli` fixture runs
each test locally and against the server): same output, same exit codes."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def db_url(sqlite_url):
    """The two backends are the point here; the databases are covered by test_auth_api."""
    return sqlite_url


@pytest.fixture
def backend(request) -> str:
    return request.node.callspec.params["cli"]


def test_user_commands(cli, backend):
    r = cli("user", "add", "ops@example.com", "--role", "operator", "--name", "Ops team")
    assert r.code == 0, r.err
    assert r.out == ""
    assert re.match(r"Created user ops@example.com \(operator, [0-9a-f-]{36}\)\n", r.err)
    password = re.search(r"One-time password \(shown only now\): (\S+)", r.err).group(1)
    assert len(password) >= 12

    shown = cli("user", "show", "ops@example.com", "--format", "json").json()
    assert (shown["role"], shown["name"], shown["force_password_change"]) == (
        "operator",
        "Ops team",
        True,
    )
    assert not {"password", "password_hash", "totp_secret"} & set(shown) and password not in str(
        shown
    )
    listed = cli("user", "list", "--format", "json").json()
    assert "ops@example.com" in [u["email"] for u in listed]
    assert cli("user", "list", "--role", "operator", "-q").out.split() == [shown["id"]]
    table = cli("user", "list", "--role", "operator")
    assert (
        "ops@example.com" in table.out
        and "Ops team" in table.out
        and "Page 1 of 1 (1 total)" in table.err
    )

    assert (
        cli("user", "set-role", "ops@example.com", "admin").err.strip()
        == "ops@example.com is now admin"
    )
    assert cli("user", "disable", shown["id"][:8]).err.strip() == "Disabled ops@example.com"
    assert cli("user", "show", "ops@example.com", "--format", "json").json()["active"] is False
    assert cli("user", "enable", "OPS@example.com").err.strip() == "Enabled ops@example.com"
    r = cli("user", "passwd", "ops@example.com", "--password-stdin", input="another-password\n")
    assert r.code == 0 and "Password set for ops@example.com" in r.err

    # bad input: exit 2 naming the field; duplicates 4; unknown 3; nothing written
    r = cli("user", "add", "x@example.com", "--role", "root")
    assert r.code == 2 and "role" in r.err
    r = cli("user", "add", "x@example.com", "--password-stdin", input="short\n")
    assert r.code == 2 and "password" in r.err
    r = cli("user", "add", "not-an-email")
    assert r.code == 2 and "email" in r.err
    assert cli("user", "add", "Ops@Example.com").code == 4
    assert cli("user", "show", "nobody@example.com").code == 3
    assert "x@example.com" not in cli("user", "list").out

    r = cli("user", "rm", "ops@example.com")
    assert r.code == 2 and "--yes" in r.err  # not a terminal: no silent deletion
    r = cli("user", "rm", "ops@example.com", "--yes")
    assert r.code == 0 and r.err.strip() == "Deleted user ops@example.com"
    assert cli("user", "show", "ops@example.com").code == 3

    entries = cli("audit", "list", "--resource", "user", "--format", "json").json()
    actions = [e["action"] for e in entries if e["details"].get("email") == "ops@example.com"]
    assert actions == ["delete", "update", "update", "update", "update", "create"]
    actor = entries[0]["user_email"]
    # the one inherent difference: who acted
    assert actor.startswith("local:") if backend == "local" else actor == "admin@test.local"
    page = cli("audit", "list", "--per-page", "2")
    assert "Page 1" in page.err and len(page.out.strip().splitlines()) == 3  # header + 2 rows


def test_api_key_commands(cli):
    assert cli("user", "add", "agent-1@example.com", "--role", "agent").code == 0
    r = cli(
        "api-key",
        "create",
        "agent-hk-1",
        "--user",
        "agent-1@example.com",
        "--expires-in-days",
        "30",
    )
    assert r.code == 0, r.err
    key = r.out.strip()
    assert key.startswith("sigma_") and len(key) > 40
    assert "not shown again" in r.err and key not in r.err
    listed = cli("api-key", "list", "--all", "--format", "json").json()
    mine = [k for k in listed if k["name"] == "agent-hk-1"]
    assert len(mine) == 1 and key not in str(listed)
    assert mine[0]["expires_at"] and mine[0]["revoked_at"] is None and not mine[0]["read_only"]
    table = cli("api-key", "list", "--all")
    assert "agent-hk-1" in table.out and key[:12] in table.out and key not in table.out

    r = cli(
        "api-key",
        "create",
        "ro",
        "--user",
        "agent-1@example.com",
        "--read-only",
        "--format",
        "json",
    )
    assert r.code == 0 and r.json()["read_only"] is True and r.json()["key"].startswith("sigma_")
    assert cli("api-key", "create", "", "--user", "agent-1@example.com").code == 2
    assert cli("api-key", "create", "x", "--user", "nobody@example.com").code == 3

    r = cli("api-key", "revoke", "agent-hk-1")
    assert r.code == 0 and r.err.startswith("Revoked API key agent-hk-1")
    assert [
        k["revoked_at"]
        for k in cli("api-key", "list", "--all", "--format", "json").json()
        if k["name"] == "agent-hk-1"
    ][0]
    assert cli("api-key", "revoke", "no-such-key").code == 3
