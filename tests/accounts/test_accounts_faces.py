"""The accounts on every face: `sigma account|sync|dns` locally and against a server, and
/api/accounts, /api/sync, /api/dns with their role rules; the secret never comes back."""

from __future__ import annotations

import json

import pytest
from tests.accounts.fakes import HetznerFake, server
from tests.service_fixtures import fast_password_hashing  # noqa: F401 (fixture)

TOKEN = "hz-face-token-7Qx"


def _add(cli, hetzner: HetznerFake, name: str = "hz-main", token: str = TOKEN):
    hetzner.servers[token] = [server(101, "fra-exit-1", "203.0.113.41")]
    return cli(
        "account",
        "add",
        "hetzner",
        name,
        "--api-base",
        hetzner.url,
        "--token-stdin",
        input=token + "\n",
    )


def test_add_list_show_sync_rm_on_both_backends(cli, hetzner: HetznerFake) -> None:
    r = _add(cli, hetzner)
    assert r.code == 0, r.err
    assert TOKEN not in r.out + r.err
    r = cli("account", "list", "--format", "json")
    assert r.code == 0, r.err
    [account] = json.loads(r.out)
    assert account["name"] == "hz-main" and account["credentials"] == ["token"]
    assert TOKEN not in r.out

    r = cli("sync", "--dry-run", "-v")
    assert r.code == 0, r.err
    assert "1 created" in r.out and "dry run" in r.out
    assert json.loads(cli("vps", "list", "--format", "json").out) == []

    r = cli("sync", "hz-main")
    assert r.code == 0, r.err
    assert "1 created" in r.out
    [vps] = json.loads(cli("vps", "list", "--format", "json").out)
    assert vps["hostname"] == "fra-exit-1" and vps["country"] == "DE"

    r = cli("account", "show", "hz-main", "--format", "json")
    shown = json.loads(r.out)
    assert shown["last_status"] == "ok"
    assert [i["instance_id"] for i in shown["synced_instances"]] == ["101"]
    assert TOKEN not in r.out

    history = cli("vps", "history", "fra-exit-1", "--format", "json")
    assert any(e["source"] == "sync" for e in json.loads(history.out)), history.out

    assert cli("account", "test", "hz-main").code == 0
    r = cli("account", "rm", "hz-main", "--yes")
    assert r.code == 0, r.err
    assert json.loads(cli("account", "list", "--format", "json").out) == []
    # its VPS stay
    assert len(json.loads(cli("vps", "list", "--format", "json").out)) == 1


def test_bad_input_gets_clear_errors(cli, hetzner: HetznerFake) -> None:
    r = cli("account", "add", "nosuch", "x", "--token-stdin", input="t\n")
    assert r.code == 2 and "unknown account kind" in r.err
    r = cli("account", "add", "hetzner", "x", "--token-stdin", input="\n")
    assert r.code == 2 and "empty" in r.err
    r = cli("account", "add", "virtualizor", "v", "--key-id", "k", "--token-stdin", input="p\n")
    assert r.code == 2 and "API base" in r.err
    r = cli("account", "add", "alibaba", "a", "--token-stdin", input="secret\n")
    assert r.code == 2 and "key_id" in r.err
    r = cli("account", "show", "missing")
    assert r.code == 3
    assert _add(cli, hetzner).code == 0
    r = _add(cli, hetzner, name="HZ-MAIN")
    assert r.code == 4 and "already exists" in r.err


def test_a_refused_token_fails_the_sync_with_exit_1(cli, hetzner: HetznerFake) -> None:
    assert _add(cli, hetzner, token="wrong-token-xyz").code == 0
    hetzner.servers.pop("wrong-token-xyz")
    r = cli("sync")
    assert r.code == 1
    assert "FAILED" in r.out and "refused the credentials" in r.out
    assert "wrong-token-xyz" not in r.out + r.err
    r = cli("account", "test", "hz-main")
    assert r.code == 1 and "wrong-token-xyz" not in r.err


def test_api_accounts_are_for_admins_and_never_return_secrets(api, hetzner: HetznerFake) -> None:
    hetzner.servers[TOKEN] = [server(7, "ams-1", "203.0.113.77")]
    body = {"kind": "hetzner", "name": "hz", "api_base": hetzner.url, "token": TOKEN}
    for role in ("operator", "readonly"):
        token = api.user(role)
        r = api.client.post("/api/accounts", headers=api.headers(token), json=body)
        assert r.status_code == 403, r.text
        assert api.client.get("/api/accounts", headers=api.headers(token)).status_code == 403
    r = api.client.post("/api/accounts", headers=api.headers(), json=body)
    assert r.status_code == 200, r.text
    assert TOKEN not in r.text and r.json()["credentials"] == ["token"]
    r = api.client.post("/api/accounts/hz/sync", headers=api.headers(), params={"dry_run": True})
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["dry_run"]
    r = api.client.post("/api/sync", headers=api.headers(), json={"accounts": ["hz"]})
    assert r.status_code == 200 and r.json()[0]["created"] == 1
    for path in ("/api/accounts", "/api/accounts/hz", "/api/accounts/hz/instances"):
        r = api.client.get(path, headers=api.headers())
        assert r.status_code == 200 and TOKEN not in r.text
    r = api.client.get("/api/audit-logs", headers=api.headers(), params={"per_page": 100})
    assert r.status_code == 200 and TOKEN not in r.text
    # bad bodies: unknown kind, unknown field, control characters, unknown account
    bad = [
        {**body, "kind": "aws", "name": "a1"},
        {**body, "name": "a2", "password": "x"},
        {**body, "name": "a3", "token": "abc\ndef"},
        {**body, "name": "a4", "interval_minutes": 1},
    ]
    for b in bad:
        r = api.client.post("/api/accounts", headers=api.headers(), json=b)
        assert r.status_code == 422, (b, r.text)
    assert api.client.post("/api/accounts/nosuch/sync", headers=api.headers()).status_code == 404
    # DNS is readable by every reader
    reader = api.user("readonly")
    assert api.client.get("/api/dns/zones", headers=api.headers(reader)).status_code == 200
    r = api.client.get("/api/dns/records", headers=api.headers(reader))
    assert r.status_code == 200 and r.json()["total"] == 0
    assert api.client.get("/api/dns/nosuch.example", headers=api.headers(reader)).status_code == 404
    r = api.client.post("/api/sync", headers=api.headers(reader), json={})
    assert r.status_code == 403


@pytest.mark.local_only("the key file lives with the local database")
def test_rotate_key_keeps_the_credentials_usable(cli, hetzner: HetznerFake) -> None:
    assert _add(cli, hetzner).code == 0
    r = cli("account", "rotate-key", "--yes")
    assert r.code == 0, r.err
    assert "1 accounts" in r.err
    r = cli("sync", "hz-main")
    assert r.code == 0 and "1 created" in r.out, r.out + r.err
