"""The accounts' credentials and their key never leave the Fernet token: not in a log line
(every logger at DEBUG, httpx's included), a sync report, an audit row, the account's status
columns, an account as shown, nor `sigma config show`."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from tests.accounts.fakes import server
from tests.cloud.fakeapi import Reply

from sigma.db.models.accounts import Account as AccountRow
from sigma.db.models.accounts import AccountInstance
from sigma.db.models.audit import AuditLog
from sigma.services import accounts, sync

GOOD = "hz-GoodSecret-5a1f0e"
BAD = "hz-BadSecret-9c2d7b"
CF = "cf-CfSecret-3e8a41"
CF_BAD = "cf-CfBadSecret-77aa"
SECRETS = (GOOD, BAD, CF, CF_BAD)


def leaks(text: str, key: str | None = None) -> list[str]:
    found = [s for s in SECRETS if s in text]
    if key and key in text:
        found.append("the account key")
    return found


def everything_stored(sessions) -> str:
    """Every audit row and every account column but the sealed secret, as text."""
    with sessions() as session:
        audits = [
            {"action": a.action, "resource": a.resource, "details": a.details}
            for a in session.scalars(select(AuditLog))
        ]
        rows = [
            {k: str(v) for k, v in r.__dict__.items() if k not in ("secret", "_sa_instance_state")}
            for r in session.scalars(select(AccountRow))
        ]
        links = [
            str(link.seen) + str(link.synced) for link in session.scalars(select(AccountInstance))
        ]
    return json.dumps([audits, rows, links], default=str)


def test_no_credential_in_logs_reports_or_audit(
    run, settings, sessions, actor, hetzner, cloudflare, caplog
):
    caplog.set_level(logging.DEBUG)  # the root logger: every logger propagates to it
    for name in ("httpx", "httpcore", "sigma", "sigma.sync", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)  # put back after the test
    hetzner.servers[GOOD] = [server(42, "web-1.example.com", "203.0.113.10")]
    cloudflare.token = CF
    cloudflare.zones = {1: "example.com"}
    cloudflare.records = {
        1: [
            {
                "id": "r1",
                "name": "www.example.com",
                "type": "A",
                "content": "203.0.113.10",
                "proxied": False,
                "ttl": 1,
            }
        ]
    }
    for name, kind, token, base in [
        ("good", "hetzner", GOOD, hetzner.url),
        ("bad", "hetzner", BAD, hetzner.url),  # not known to the fake: 401
        ("cf", "cloudflare", CF, cloudflare.url),
        ("cf-bad", "cloudflare", CF_BAD, cloudflare.url),  # 403
    ]:
        made = run(
            accounts.create,
            settings,
            {"kind": kind, "name": name, "token": token, "api_base": base},
        )
        assert not leaks(made.model_dump_json())

    reports = sync.sync_many(sessions, settings, actor, [])
    by_name = {r.account: r for r in reports}
    assert by_name["good"].ok and by_name["cf"].ok
    assert not by_name["bad"].ok and not by_name["cf-bad"].ok
    reports.append(sync.sync(sessions, settings, actor, "good", dry_run=True))
    # a 429 and a 500 whose bodies echo the header back, as a broken proxy would
    hetzner.fail[GOOD] = lambda request, page: Reply(
        500, {"error": {"message": request.headers.get("authorization", "")}}
    )
    reports.append(sync.sync(sessions, settings, actor, "good"))
    hetzner.fail[GOOD] = lambda request, page: Reply(
        429,
        {"error": {"message": request.headers.get("authorization", "")}},
        {"Retry-After": "3600"},
    )
    reports.append(sync.sync(sessions, settings, actor, "good"))
    tested = [run(accounts.test, settings, name) for name in ("good", "bad", "cf", "cf-bad")]
    # the scheduled job logs each account's outcome
    with sessions.begin() as session:
        for row in session.scalars(select(AccountRow)):
            row.next_sync_at = None
    sync.job(sessions, settings)

    for report in reports:
        assert not leaks(report.model_dump_json()), report.account
    assert not leaks(json.dumps(tested))
    assert not leaks(everything_stored(sessions))
    shown = [a.model_dump_json() for a in run(accounts.list_accounts, settings)]
    assert not leaks("".join(shown))
    assert hetzner.requests_of(GOOD) and hetzner.requests_of(BAD)  # they were sent, as headers
    assert caplog.records, "nothing was logged at all: is the capture working?"
    assert not leaks(caplog.text), leaks(caplog.text)
    for record in caplog.records:
        assert not leaks(str(record.args) + str(record.msg) + str(record.exc_text))


def test_no_key_in_logs_or_reports_when_it_does_not_decrypt(
    run, settings, sessions, actor, hetzner, caplog
):
    caplog.set_level(logging.DEBUG)
    hetzner.servers[GOOD] = [server(42, "web-1.example.com", "203.0.113.10")]
    first, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.account_key = first
    run(
        accounts.create,
        settings,
        {"kind": "hetzner", "name": "good", "token": GOOD, "api_base": hetzner.url},
    )
    settings.account_key = wrong
    report = sync.sync(sessions, settings, actor, "good")
    assert not report.ok
    sync.job(sessions, settings)
    text = report.model_dump_json() + caplog.text + everything_stored(sessions)
    assert not leaks(text, first) and wrong not in text


@pytest.mark.local_only("settings are read on this machine")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("fmt", ["json", "yaml", "table"])
def test_config_show_redacts_the_account_key(cli, monkeypatch, fmt):
    key = Fernet.generate_key().decode()
    other = Fernet.generate_key().decode()
    monkeypatch.setenv("SIGMA_ACCOUNT_KEY", f"{key},{other}")
    r = cli("config", "show", "--format", fmt)
    assert r.code == 0, r.err
    assert key not in r.out + r.err and other not in r.out + r.err
    assert key[:12] not in r.out  # not even a part of it
    if fmt == "json":
        assert r.json()["account_key"] == "********"
    else:
        assert "account_key" in r.out and "********" in r.out
