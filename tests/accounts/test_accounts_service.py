"""services.accounts (issue 19): add, list, show, change and remove an account; what is
refused; who may; credentials sealed (never shown, never audited, never in clear in the
row); the key file; key rotation; a key that does not decrypt them."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from tests.accounts.fakes import server

from sigma.db.engine import unit_of_work
from sigma.db.models.accounts import Account as AccountRow
from sigma.db.models.audit import AuditLog
from sigma.errors import Conflict, InvalidInput, NotFound, PermissionDenied, SigmaError
from sigma.services import accounts, sync
from sigma.services.actor import Actor

TOKEN = "hz-Tok3n-4f9c2e7b1a"
NEW_TOKEN = "hz-Rotated-Tok3n-77d1"


def add(run, settings, name="Hetzner-Main", token=TOKEN, **extra):
    data = {"kind": "hetzner", "name": name, "token": token, **extra}
    return run(accounts.create, settings, data)


def secret_of(sessions, name: str) -> str:
    with sessions() as session:
        return session.scalar(select(AccountRow.secret).where(AccountRow.name == name))


def audit_details(sessions) -> str:
    with sessions() as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.resource == "account"))
        return json.dumps([r.details for r in rows])


def test_create_list_show_update_delete(run, settings, sessions):
    from sigma.services import providers

    run(providers.create, {"name": "Hetzner"})
    made = add(run, settings, provider="hetzner", interval_minutes=30)
    assert (made.name, made.kind, made.role) == ("Hetzner-Main", "hetzner", "servers")
    assert made.credentials == ["token"]
    assert made.provider_name == "Hetzner"
    assert (made.interval_minutes, made.last_status, made.failures) == (30, "never", 0)
    assert made.enabled and not made.api_wins and made.instances == 0

    dns = run(accounts.create, settings, {"kind": "cloudflare", "name": "cf", "token": "cf-1"})
    assert dns.role == "dns"

    assert {a.name for a in run(accounts.list_accounts, settings)} == {"cf", "Hetzner-Main"}
    assert run(accounts.get, settings, "hetzner-MAIN").id == made.id  # case-insensitive
    assert run(accounts.get, settings, str(made.id)).name == "Hetzner-Main"

    before = secret_of(sessions, "Hetzner-Main")
    changed = run(
        accounts.update,
        settings,
        "Hetzner-Main",
        {"name": "hz", "interval_minutes": 120, "api_wins": True, "token": NEW_TOKEN},
    )
    assert (changed.name, changed.interval_minutes, changed.api_wins) == ("hz", 120, True)
    assert changed.credentials == ["token"]
    after = secret_of(sessions, "hz")
    assert after != before
    with unit_of_work(sessions) as session:
        assert accounts.credentials(settings, accounts.find(session, "hz")).token == NEW_TOKEN
    # a rename to the same name in another case is no clash with itself
    assert run(accounts.update, settings, "hz", {"name": "HZ"}).name == "HZ"

    gone = run(accounts.delete, "HZ")
    assert gone.id == made.id
    assert [a.name for a in run(accounts.list_accounts, settings)] == ["cf"]
    with pytest.raises(NotFound):
        run(accounts.get, settings, "HZ")


def test_what_is_refused(run, settings, each):
    add(run, settings, name="Taken")

    def refused(data, error, word):
        with pytest.raises(error) as caught:
            run(accounts.create, settings, data)
        assert word in str(caught.value).lower(), str(caught.value)
        assert "hidden" not in str(caught.value)  # never quotes the credential

    each(
        [
            ({"kind": "aws", "name": "x", "token": "t"}, InvalidInput, "kind"),
            ({"kind": "hetzner", "name": "x"}, InvalidInput, "token"),
            ({"kind": "hetzner", "name": "x", "token": ""}, InvalidInput, "token"),
            ({"kind": "virtualizor", "name": "v", "key_id": "k1"}, InvalidInput, "secret"),
            (
                {"kind": "virtualizor", "name": "v", "key_id": "k1", "secret": "s1"},
                InvalidInput,
                "api base",
            ),
            ({"kind": "hetzner", "name": "taken", "token": "t"}, Conflict, "already exists"),
            ({"kind": "hetzner", "name": "TAKEN", "token": "t"}, Conflict, "already exists"),
            ({"kind": "hetzner", "name": "x", "token": "abc\ndef-hidden"}, InvalidInput, "control"),
            ({"kind": "hetzner", "name": "x", "token": "abc\x00def-hidden"}, InvalidInput, "nul"),
            (
                {"kind": "hetzner", "name": "x", "token": "abc\x1bdef-hidden"},
                InvalidInput,
                "control",
            ),
        ],
        refused,
    )
    # a duplicate by renaming, too
    add(run, settings, name="Other")
    with pytest.raises(Conflict):
        run(accounts.update, settings, "Other", {"name": "tAkEn"})
    with pytest.raises(InvalidInput):
        run(accounts.update, settings, "Other", {"token": "new\r\ntoken"})
    # the virtualizor account is accepted with its panel's address
    made = run(
        accounts.create,
        settings,
        {
            "kind": "virtualizor",
            "name": "panel",
            "key_id": "k1",
            "secret": "s1",
            "api_base": "https://panel.example.com:4083",
        },
    )
    assert made.credentials == ["key_id", "secret"]
    assert {a.name for a in run(accounts.list_accounts, settings)} == {"Other", "panel", "Taken"}


@pytest.mark.parametrize("role", ["operator", "readonly"])
def test_only_admins(run, settings, sessions, role):
    add(run, settings)
    who = Actor(email=f"{role}@example.com", role=role)
    calls = [
        (accounts.list_accounts, settings),
        (accounts.get, settings, "Hetzner-Main"),
        (accounts.create, settings, {"kind": "hetzner", "name": "x", "token": "t"}),
        (accounts.update, settings, "Hetzner-Main", {"interval_minutes": 5}),
        (accounts.delete, "Hetzner-Main"),
        (accounts.test, settings, "Hetzner-Main"),
        (accounts.rotate_key, settings),
    ]
    for fn, *args in calls:
        with pytest.raises(PermissionDenied):
            run(fn, *args, as_actor=who)
    with pytest.raises(PermissionDenied):
        sync.sync(sessions, settings, who, "Hetzner-Main")
    with pytest.raises(PermissionDenied):
        sync.sync_many(sessions, settings, who, [])
    assert run(accounts.get, settings, "Hetzner-Main").interval_minutes == 60


def test_credentials_never_shown_audited_or_in_clear(run, settings, sessions, hetzner):
    hetzner.servers[TOKEN] = [server(1, "a.example.com")]
    made = add(run, settings, api_base=hetzner.url)
    changed = run(accounts.update, settings, made.id, {"token": NEW_TOKEN})
    hetzner.servers[NEW_TOKEN] = hetzner.servers[TOKEN]
    report = sync.sync(sessions, settings, Actor(email="root@x", role="admin"), made.id)
    assert report.ok, report.error
    shown = run(accounts.get, settings, made.id)
    listed = run(accounts.list_accounts, settings)
    for out in (made, changed, shown, *listed):
        text = out.model_dump_json()
        assert TOKEN not in text and NEW_TOKEN not in text
        assert "secret" not in out.model_dump()  # no such field at all
        assert out.credentials == ["token"]
    assert TOKEN not in repr(made) and NEW_TOKEN not in repr(changed)

    audited = audit_details(sessions)
    assert '"credentials": ["token"]' in audited  # which ones changed, never their values
    assert TOKEN not in audited and NEW_TOKEN not in audited

    sealed = secret_of(sessions, made.name)
    assert sealed.startswith("gAAAAA")  # a Fernet token (version byte 0x80, base64)
    assert TOKEN not in sealed and NEW_TOKEN not in sealed
    key = (settings_key_file(settings)).read_text().split()[0]
    assert json.loads(Fernet(key).decrypt(sealed.encode())) == {"token": NEW_TOKEN}
    with sessions() as session:
        for value in session.execute(select(AccountRow)).scalars().one().__dict__.values():
            assert NEW_TOKEN not in str(value)


def settings_key_file(settings):
    from sigma.services import secrets

    return secrets.key_path(settings)


def test_the_key_file_is_made_on_first_use_owner_only(run, settings):
    path = settings_key_file(settings)
    assert path == settings_key_file(settings).parent / "account.key"
    assert str(path).startswith(os.environ["SIGMA_DATA_DIR"])
    assert not path.exists()
    add(run, settings)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = path.read_text().split()
    assert len(keys) == 1
    Fernet(keys[0])  # a Fernet key
    add(run, settings, name="second")
    assert path.read_text().split() == keys  # the same key, not a new one per account


def test_rotate_key_keeps_credentials_usable(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [server(1, "a.example.com")]
    made = add(run, settings, api_base=hetzner.url)
    assert sync.sync(sessions, settings, actor, made.id).ok
    path = settings_key_file(settings)
    old_key, old_secret = path.read_text().split(), secret_of(sessions, made.name)

    result = run(accounts.rotate_key, settings)
    assert result == {"accounts": 1, "new_key_file": True}
    keys = path.read_text().split()
    assert len(keys) == 2 and keys[1:] == old_key  # the new key first, the old one kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    accounts.finish_rotation(settings)
    new_keys = path.read_text().split()
    assert new_keys == keys[:1] and new_keys != old_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    new_secret = secret_of(sessions, made.name)
    assert new_secret != old_secret and TOKEN not in new_secret
    assert json.loads(Fernet(new_keys[0]).decrypt(new_secret.encode())) == {"token": TOKEN}
    report = sync.sync(sessions, settings, actor, made.id)
    assert report.ok, report.error
    assert {r.headers["authorization"] for r in hetzner.requests_of(TOKEN)} == {f"Bearer {TOKEN}"}
    assert run(accounts.get, settings, made.id).credentials == ["token"]
    assert "rotate-key" in {r.action for r in run(lambda s, a: list(s.scalars(select(AuditLog))))}


def test_rotate_key_with_the_setting(run, settings, sessions, actor, hetzner):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.account_key = first
    hetzner.servers[TOKEN] = [server(1, "a.example.com")]
    made = add(run, settings, api_base=hetzner.url)
    assert not settings_key_file(settings).exists()  # the setting, no file
    old_secret = secret_of(sessions, made.name)
    settings.account_key = f"{second},{first}"
    assert run(accounts.rotate_key, settings)["new_key_file"] is False
    new_secret = secret_of(sessions, made.name)
    assert new_secret != old_secret
    settings.account_key = second  # the old key gone
    assert sync.sync(sessions, settings, actor, made.id).ok


def test_a_wrong_key_is_reported_not_a_crash(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [server(1, "a.example.com")]
    made = add(run, settings, api_base=hetzner.url)
    settings.account_key = Fernet.generate_key().decode()

    report = sync.sync(sessions, settings, actor, made.id)
    assert not report.ok
    assert "cannot be decrypted" in report.error
    assert report.created == 0 and hetzner.api.requests == []
    shown = run(accounts.get, settings, made.id)
    assert shown.last_status == "failed" and shown.failures == 1
    assert shown.credentials == []  # unreadable, shown as none
    assert [a.name for a in run(accounts.list_accounts, settings)] == [made.name]
    # many accounts, the scheduled job: reports and a log line, no exception
    assert [r.ok for r in sync.sync_many(sessions, settings, actor, [])] == [False]
    sync.job(sessions, settings)
    # testing it: an error the faces can show, never an unexpected exception
    try:
        tested = run(accounts.test, settings, made.id)
    except SigmaError as exc:
        assert "cannot be decrypted" in exc.message
    else:
        assert tested["ok"] is False and "cannot be decrypted" in tested["error"]
    # entering the credentials again (the documented way out) makes it work again
    run(accounts.update, settings, made.id, {"token": TOKEN})
    assert sync.sync(sessions, settings, actor, made.id).ok
