"""services.sync (issue 19) against a loopback Hetzner Cloud: the first import, a dry run,
what changes at the provider (a rename, an address, a machine gone and back), who wins
(the operator, unless api_wins), matching a hand-made VPS by address, an instance two
accounts list, the ways a provider fails (401, 429, a broken page), a hostile listing, two
runs at once, and the scheduled job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update
from tests.accounts.fakes import HetznerFake, server
from tests.cloud.fakeapi import Reply

from sigma.db.engine import unit_of_work
from sigma.db.models.accounts import Account as AccountRow
from sigma.db.models.accounts import AccountInstance
from sigma.db.models.audit import AuditLog
from sigma.db.models.core import Vps as VpsRow
from sigma.db.models.history import VpsHistory
from sigma.schemas.common import check_hostname
from sigma.services import accounts, attention, sync
from sigma.services import vps as vps_service

TOKEN = "hz-main-Tok3n-91ab"
OTHER = "hz-other-Tok3n-22cd"


def add(run, settings, hetzner: HetznerFake, name: str = "hz", token: str = TOKEN, **extra):
    data = {"kind": "hetzner", "name": name, "token": token, "api_base": hetzner.url, **extra}
    return run(accounts.create, settings, data)


def all_vps(sessions) -> list[VpsRow]:
    with sessions() as session:
        return list(session.scalars(select(VpsRow).order_by(VpsRow.hostname)))


def one_vps(sessions, hostname: str | None = None) -> VpsRow:
    rows = all_vps(sessions)
    if hostname is None:
        assert len(rows) == 1, [r.hostname for r in rows]
        return rows[0]
    (row,) = [r for r in rows if r.hostname == hostname]
    return row


def events(sessions, vps_id: Any = None, kind: str | None = None) -> list[VpsHistory]:
    with sessions() as session:
        q = select(VpsHistory).order_by(VpsHistory.at)
        if vps_id is not None:
            q = q.where(VpsHistory.vps_id == vps_id)
        if kind is not None:
            q = q.where(VpsHistory.kind == kind)
        return list(session.scalars(q))


def account_row(sessions, name: str = "hz") -> AccountRow:
    with sessions() as session:
        return session.scalars(select(AccountRow).where(AccountRow.name == name)).one()


def items(sessions, kind: str) -> list[Any]:
    with sessions() as session:
        return [i for i in attention.current(session) if i.kind == kind]


def ips(row: VpsRow) -> list[str]:
    return sorted(e["ip"] for e in row.ip_addresses)


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def table_counts(sessions) -> tuple[int, ...]:
    with sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(m)) or 0
            for m in (VpsRow, VpsHistory, AuditLog, AccountInstance)
        )


WEB = server(42, "web-1.example.com", "203.0.113.10", "2001:db8:c012:abcd::/64")
DB = server(43, "db-1.example.com", "203.0.113.11", location="hel1", country="FI", city="Helsinki")


# ------------------------------------------------------------------------ first import


def test_first_import(run, settings, sessions, actor, hetzner):
    from sigma.services import providers

    provider = run(providers.create, {"name": "Hetzner"})
    hetzner.servers[TOKEN] = [WEB, DB]
    made = add(run, settings, hetzner, provider="Hetzner", interval_minutes=30)

    report = sync.sync(sessions, settings, actor, "hz")
    assert report.ok, report.error
    assert (report.listed, report.created, report.updated, report.gone) == (2, 2, 0, 0)
    assert report.warnings == [] and not report.dry_run
    assert {c.action for c in report.changes} == {"create"}

    web = one_vps(sessions, "web-1.example.com")
    assert ips(web) == ["2001:db8:c012:abcd::1", "203.0.113.10"]
    assert (web.country, web.city, web.status) == ("DE", "Falkenstein", "active")
    assert (web.cost_monthly, web.currency) == (Decimal("4.51"), "EUR")
    assert (web.cpu_cores, web.ram_mb, web.disk_gb) == (2, 4096, 40)
    assert web.traffic_quota_gb == 21990
    assert web.provider_id == provider.id
    db = one_vps(sessions, "db-1.example.com")
    assert (db.country, db.city) == ("FI", "Helsinki")

    created = events(sessions, kind="created")
    assert len(created) == 2
    assert {(e.source, e.actor) for e in created} == {("sync", actor.email)}
    with sessions() as session:
        audited = list(session.scalars(select(AuditLog).order_by(AuditLog.created_at)))
    vps_audits = [a for a in audited if a.resource == "vps" and a.action == "create"]
    assert len(vps_audits) == 2
    (sync_audit,) = [a for a in audited if a.resource == "account" and a.action == "sync"]
    assert sync_audit.resource_id == str(made.id)
    assert (sync_audit.details["ok"], sync_audit.details["created"]) == (True, 2)

    row = account_row(sessions)
    assert (row.last_status, row.failures, row.last_error) == ("ok", 0, "")
    assert row.last_report["created"] == 2
    now = datetime.now(UTC)
    assert now + timedelta(minutes=29) < aware(row.next_sync_at) <= now + timedelta(minutes=31)
    assert run(accounts.get, settings, "hz").instances == 2

    # nothing changed at the provider: nothing written
    before = table_counts(sessions)
    again = sync.sync(sessions, settings, actor, "hz")
    assert (again.ok, again.created, again.updated, again.unchanged) == (True, 0, 0, 2)
    assert table_counts(sessions)[:2] == before[:2]  # no VPS, no event (one more audit row)


def test_a_dry_run_reports_the_same_and_writes_nothing(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [WEB, DB]
    add(run, settings, hetzner)
    before = table_counts(sessions)

    dry = sync.sync(sessions, settings, actor, "hz", dry_run=True)
    assert dry.ok and dry.dry_run, dry.error
    assert (dry.listed, dry.created) == (2, 2)
    assert table_counts(sessions) == before
    row = account_row(sessions)
    assert (row.last_status, row.last_sync_at, row.next_sync_at) == ("never", None, None)

    real = sync.sync(sessions, settings, actor, "hz")

    def what(r):
        return sorted((c.action, c.instance_id, c.hostname, str(c.changes)) for c in r.changes)

    assert what(dry) == what(real)
    assert (dry.created, dry.updated, dry.gone) == (real.created, real.updated, real.gone)

    # a dry run of changes, too: a rename and a machine gone
    hetzner.servers[TOKEN] = [server(42, "renamed.example.com", "203.0.113.10")]
    before = table_counts(sessions)
    dry = sync.sync(sessions, settings, actor, "hz", dry_run=True)
    assert (dry.updated, dry.gone) == (1, 1)
    assert table_counts(sessions) == before
    assert {r.hostname for r in all_vps(sessions)} == {"web-1.example.com", "db-1.example.com"}
    assert {r.status for r in all_vps(sessions)} == {"active"}
    assert account_row(sessions).last_report["created"] == 2  # the real run's, not the dry one's


# ------------------------------------------------------------------- changes upstream


def test_a_rename_and_an_address_change(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [server(42, "web-1.example.com", "203.0.113.10")]
    add(run, settings, hetzner)
    sync.sync(sessions, settings, actor, "hz")
    vps_id = one_vps(sessions).id

    hetzner.servers[TOKEN] = [server(42, "web-one.example.com", "203.0.113.10")]
    report = sync.sync(sessions, settings, actor, "hz")
    assert (report.updated, report.created) == (1, 0)
    assert one_vps(sessions).hostname == "web-one.example.com"
    (change,) = report.changes
    assert change.changes == {"hostname": "web-one.example.com"}

    hetzner.servers[TOKEN] = [server(42, "web-one.example.com", "198.51.100.7")]
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.updated == 1
    row = one_vps(sessions)
    assert (row.id, ips(row)) == (vps_id, ["198.51.100.7"])
    added = events(sessions, vps_id, "ip-added")
    removed = events(sessions, vps_id, "ip-removed")
    assert [e.details["ip"] for e in removed] == ["203.0.113.10"]
    assert "198.51.100.7" in [e.details["ip"] for e in added]
    assert {e.source for e in added + removed} == {"sync"}


def test_a_machine_gone_then_back(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [WEB, DB]
    add(run, settings, hetzner)
    sync.sync(sessions, settings, actor, "hz")
    db_id = one_vps(sessions, "db-1.example.com").id

    hetzner.servers[TOKEN] = [WEB]
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.ok and report.gone == 1
    db = one_vps(sessions, "db-1.example.com")
    assert (db.id, db.status, db.deleted_at) == (db_id, "retiring", None)
    (gone,) = events(sessions, db_id, "gone")
    assert gone.source == "sync" and gone.details["instance_id"] == "43"
    (item,) = items(sessions, "gone")
    assert item.vps_id == str(db_id) and "43" in item.summary
    assert one_vps(sessions, "web-1.example.com").status == "active"

    # still gone: no second event, no second item, never deleted
    assert sync.sync(sessions, settings, actor, "hz").gone == 0
    assert len(events(sessions, db_id, "gone")) == 1
    assert len(items(sessions, "gone")) == 1
    assert len(all_vps(sessions)) == 2

    hetzner.servers[TOKEN] = [WEB, DB]
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.ok and report.created == 0
    assert any("listed again" in w for w in report.warnings)
    with sessions() as session:
        link = session.scalars(
            select(AccountInstance).where(AccountInstance.instance_id == "43")
        ).one()
    assert link.gone_at is None and link.vps_id == db_id
    assert one_vps(sessions, "db-1.example.com").status == "retiring"  # its status stays
    assert items(sessions, "gone") == []
    assert len(all_vps(sessions)) == 2


def test_removing_the_account_keeps_its_vps(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [WEB]
    add(run, settings, hetzner)
    sync.sync(sessions, settings, actor, "hz")
    run(accounts.delete, "hz")
    assert one_vps(sessions).status == "active"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AccountInstance)) == 0


# ------------------------------------------------------------------------ who wins


def test_the_operator_wins_unless_api_wins(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [WEB]
    add(run, settings, hetzner)
    sync.sync(sessions, settings, actor, "hz")
    vps_id = one_vps(sessions).id
    run(vps_service.update, vps_id, {"hostname": "mine.example.com", "country": "FR"})

    hetzner.servers[TOKEN] = [{**WEB, "name": "theirs.example.com"}]
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.ok and report.updated == 0
    (change,) = report.changes
    assert change.action == "keep" and set(change.kept) == {"hostname", "country"}
    row = one_vps(sessions)
    assert (row.hostname, row.country) == ("mine.example.com", "FR")

    # a field the operator left alone still follows the API, next to a kept one
    hetzner.servers[TOKEN] = [
        {**WEB, "name": "theirs.example.com", "server_type": {**WEB["server_type"], "cores": 4}}
    ]
    report = sync.sync(sessions, settings, actor, "hz")
    (change,) = report.changes
    assert change.action == "update" and change.changes == {"cpu_cores": 4}
    assert set(change.kept) == {"hostname", "country"}
    assert (one_vps(sessions).cpu_cores, one_vps(sessions).hostname) == (4, "mine.example.com")

    run(accounts.update, settings, "hz", {"api_wins": True})
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.updated == 1
    row = one_vps(sessions)
    assert (row.id, row.hostname, row.country) == (vps_id, "theirs.example.com", "DE")
    assert events(sessions, vps_id, "updated")[-1].source == "sync"


def test_a_hand_made_vps_is_matched_by_address(run, settings, sessions, actor, hetzner):
    made = run(
        vps_service.create,
        {
            "hostname": "handmade.example.com",
            "ip_addresses": [{"ip": "203.0.113.10", "label": "overseas"}],
            "country": "NL",
            "cost_monthly": "9.99",
            "currency": "USD",
            "status": "active",
        },
    )
    hetzner.servers[TOKEN] = [WEB]
    add(run, settings, hetzner)
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.ok and report.created == 0, report
    assert [c.action for c in report.changes][:1] == ["link"]
    row = one_vps(sessions)
    assert row.id == made.id
    # the hand-set fields are the operator's; the empty ones are filled
    assert (row.hostname, row.country) == ("handmade.example.com", "NL")
    assert (row.cost_monthly, row.currency) == (Decimal("9.99"), "USD")
    assert ips(row) == ["203.0.113.10"] and row.ip_addresses[0]["label"] == "overseas"
    assert (row.cpu_cores, row.ram_mb, row.city) == (2, 4096, "Falkenstein")
    with sessions() as session:
        link = session.scalars(select(AccountInstance)).one()
    assert link.vps_id == made.id


def test_a_matched_vps_never_gets_a_price_in_another_currency(
    run, settings, sessions, actor, hetzner
):
    """A hand-made VPS with no price has the form's default currency (USD). The sync fills
    the empty price with Hetzner's EUR amount but keeps the operator's 'USD' (not empty, so
    the operator's): the VPS now costs 4.51 USD, a price nobody quoted. A price and its
    currency must be taken (or kept) together."""
    run(
        vps_service.create,
        {"hostname": "handmade.example.com", "ip_addresses": [{"ip": "203.0.113.10"}]},
    )
    hetzner.servers[TOKEN] = [WEB]
    add(run, settings, hetzner)
    assert sync.sync(sessions, settings, actor, "hz").ok
    row = one_vps(sessions)
    assert (row.cost_monthly, row.currency) in [(None, "USD"), (Decimal("4.51"), "EUR")], (
        row.cost_monthly,
        row.currency,
    )


def test_an_instance_two_accounts_list_makes_one_vps(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [WEB]
    hetzner.servers[OTHER] = [WEB, DB]
    add(run, settings, hetzner, name="hz")
    add(run, settings, hetzner, name="hz-readonly-token", token=OTHER)
    assert sync.sync(sessions, settings, actor, "hz").created == 1
    second = sync.sync(sessions, settings, actor, "hz-readonly-token")
    assert second.ok and (second.created, second.skipped) == (1, 1)
    assert any("42" in w and "hz" in w for w in second.warnings)
    assert sorted(r.hostname for r in all_vps(sessions)) == [
        "db-1.example.com",
        "web-1.example.com",
    ]
    # and again: still skipped, still one VPS each
    assert sync.sync(sessions, settings, actor, "hz-readonly-token").skipped == 1
    assert len(all_vps(sessions)) == 2


# ----------------------------------------------------------------- a failing provider


def test_a_refused_token(run, settings, sessions, actor, hetzner):
    add(run, settings, hetzner, token="hz-Wrong-Tok3n")  # not in hetzner.servers: 401
    report = sync.sync(sessions, settings, actor, "hz")
    assert not report.ok
    assert "refused the credentials" in report.error and "401" in report.error
    assert "hz-Wrong-Tok3n" not in report.model_dump_json()
    row = account_row(sessions)
    assert (row.last_status, row.failures) == ("failed", 1)
    assert row.last_error == report.error
    first_next = aware(row.next_sync_at)
    assert first_next > datetime.now(UTC) + timedelta(minutes=60)  # interval x 2
    assert all_vps(sessions) == []

    sync.sync(sessions, settings, actor, "hz")
    row = account_row(sessions)
    assert row.failures == 2 and aware(row.next_sync_at) > first_next  # backing off

    hetzner.servers["hz-Wrong-Tok3n"] = [WEB]  # the provider takes it again
    assert sync.sync(sessions, settings, actor, "hz").ok
    row = account_row(sessions)
    assert (row.last_status, row.failures, row.last_error) == ("ok", 0, "")


def test_a_failed_sync_is_an_attention_item(run, settings, sessions, actor, hetzner):
    add(run, settings, hetzner, token="hz-Wrong-Tok3n")
    assert not sync.sync(sessions, settings, actor, "hz").ok
    (item,) = items(sessions, "sync-failed")
    assert item.subject.type == "account" and item.subject.name == "hz"
    assert "refused" in item.summary and item.severity == "warning"
    assert "hz-Wrong-Tok3n" not in item.model_dump_json()

    hetzner.servers["hz-Wrong-Tok3n"] = [WEB]
    assert sync.sync(sessions, settings, actor, "hz").ok
    assert items(sessions, "sync-failed") == []


def test_a_long_retry_after_puts_the_next_run_off(run, settings, sessions, actor, hetzner):
    add(run, settings, hetzner, interval_minutes=5)
    hetzner.fail[TOKEN] = lambda r, p: Reply(
        429, {"error": {"code": "rate_limit"}}, {"Retry-After": "7200"}
    )
    report = sync.sync(sessions, settings, actor, "hz")
    assert not report.ok and "429" in report.error
    assert report.retry_after == pytest.approx(7200)
    row = account_row(sessions)
    assert aware(row.next_sync_at) >= datetime.now(UTC) + timedelta(hours=2) - timedelta(seconds=5)
    assert len(hetzner.requests_of(TOKEN)) == 1  # not waited for, not retried


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, "<html><body>Please sign in</body></html>"),
        Reply(500, {"error": {"code": "server_error", "message": "oops"}}),
        Reply(200, b'{"servers": [{"id": 9'),
    ],
    ids=["html", "500", "truncated"],
)
def test_a_page_failing_mid_listing_changes_nothing(run, settings, sessions, actor, hetzner, reply):
    hetzner.per_page = 2
    hetzner.servers[TOKEN] = [WEB, DB, server(44, "edge.example.com", "203.0.113.12")]
    hetzner.fail[TOKEN] = lambda request, page: reply if page == 2 else None
    hetzner.servers[OTHER] = [server(50, "other.example.com", "198.51.100.50")]
    add(run, settings, hetzner, name="broken")
    add(run, settings, hetzner, name="fine", token=OTHER)

    reports = {r.account: r for r in sync.sync_many(sessions, settings, actor, [])}
    broken, fine = reports["broken"], reports["fine"]
    assert not broken.ok and broken.created == 0, broken
    assert "/v1/servers" in broken.error
    assert len(hetzner.requests_of(TOKEN)) == 2  # page 1 was read, then page 2 failed
    assert fine.ok and fine.created == 1
    assert [r.hostname for r in all_vps(sessions)] == ["other.example.com"]
    assert (
        account_row(sessions, "broken").last_status,
        account_row(sessions, "fine").last_status,
    ) == (
        "failed",
        "ok",
    )


# ------------------------------------------------------------------ a hostile listing


@pytest.fixture
def with_expiry(monkeypatch):
    """Hetzner has no term: this stand-in gives one (`x_expires`), as a prepaid provider
    (Alibaba, KiwiVM) would."""
    from sigma.cloud import base
    from sigma.cloud import hetzner as adapter

    plain = adapter._instance

    def instance(item):
        inst = plain(item)
        if "x_expires" in item:
            inst.expires_at = base.timestamp(item["x_expires"])
            inst.charge_type = "prepaid"
        return inst

    monkeypatch.setattr(adapter, "_instance", instance)


def test_a_hostile_listing_is_sanitised(run, settings, sessions, actor, hetzner, with_expiry):
    soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    hetzner.servers[TOKEN] = [
        server(1, "evil\x00\x1b[31m\nhost\u2028.example.com", "999.1.2.3", price="1e12"),
        server(2, "a" * 300, "203.0.113.20", "not-an-ipv6", x_expires="2199-01-01T00:00:00Z"),
        server(3, "ok.example.com", "203.0.113.30", price="-5", x_expires="1990-05-05T00:00:00Z"),
        server(
            4,
            "-dash-.example.com",
            "203.0.113.40",
            "::ffff:zz",
            country="X\u202eY",
            city="C" * 500,
            memory=-3,
            cores=10**9,
            disk="1e999",
        ),
        server(5, "fine.example.com", "203.0.113.50", price="99999999.999", x_expires=soon),
    ]
    add(run, settings, hetzner)
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.ok, report.error
    assert report.created == 5
    text = "\n".join(report.warnings)
    assert "'999.1.2.3' is not an IP address" in text
    assert "not-an-ipv6" in text
    assert "2199-01-01" in text and "1990-05-05" in text and "implausible" in text
    for row in all_vps(sessions):
        assert check_hostname(row.hostname) == row.hostname
        assert all(c.isprintable() for c in row.hostname + row.city + row.country)
        assert len(row.city) <= 255
        assert row.cost_monthly is None or row.cost_monthly < Decimal("100000000")
        assert row.cpu_cores is None or row.cpu_cores <= 32767
    by_ip = {ip: row for row in all_vps(sessions) for ip in ips(row)}
    assert one_vps(sessions, "hetzner-1").ip_addresses == []
    assert by_ip["203.0.113.20"].hostname == "hetzner-2"
    assert by_ip["203.0.113.20"].expire_date is None
    assert by_ip["203.0.113.30"].expire_date is None
    assert by_ip["203.0.113.30"].cost_monthly is None
    assert by_ip["203.0.113.50"].expire_date == (datetime.now(UTC) + timedelta(days=30)).date()


def test_a_value_the_rules_refuse_does_not_fail_the_account(
    run, settings, sessions, actor, hetzner, with_expiry
):
    """The module's promise: a value the rules refuse is left out with a warning, it does
    not fail the account. Here the provider's (plausible, recent) expiry falls before the
    purchase date the operator entered on the VPS it matches by address: vps.update refuses
    it (expire_date before purchase_date) and the whole account's run is rolled back, the
    other instance never imported."""
    today = datetime.now(UTC).date()
    run(
        vps_service.create,
        {
            "hostname": "handmade.example.com",
            "ip_addresses": [{"ip": "203.0.113.10"}],
            "purchase_date": str(today - timedelta(days=5)),
            "status": "active",
        },
    )
    expired = (datetime.now(UTC) - timedelta(days=20)).isoformat()
    hetzner.servers[TOKEN] = [{**WEB, "x_expires": expired}, DB]
    add(run, settings, hetzner)
    report = sync.sync(sessions, settings, actor, "hz")
    assert report.ok, report.error
    assert report.created == 1 and any("expir" in w for w in report.warnings)
    assert {r.hostname for r in all_vps(sessions)} == {"handmade.example.com", "db-1.example.com"}


def test_an_answer_nested_too_deep_is_that_accounts_failure(
    run, settings, sessions, actor, hetzner
):
    """`[[[[...` 100,000 deep (100 kB, far under the size bound) makes json.loads raise
    RecursionError, which is not a ValueError: it escapes base.parse_json, then sync.sync
    (whose fetch step catches ProviderError and SigmaError only), and ends sync_many and the
    scheduled job for every account after this one. The same body as a 401's error
    (base._brief parses it too) does the same."""
    deep = b'{"servers": ' + b"[" * 100_000
    hetzner.fail["tok-deep"] = lambda request, page: Reply(200, deep)
    hetzner.fail["tok-deep-401"] = lambda request, page: Reply(401, deep)
    hetzner.servers[OTHER] = [WEB]
    add(run, settings, hetzner, name="a-deep", token="tok-deep")
    add(run, settings, hetzner, name="b-deep-401", token="tok-deep-401")
    add(run, settings, hetzner, name="c-fine", token=OTHER)

    reports = {r.account: r for r in sync.sync_many(sessions, settings, actor, [])}
    assert not reports["a-deep"].ok and "/v1/servers" in reports["a-deep"].error
    assert not reports["b-deep-401"].ok and "401" in reports["b-deep-401"].error
    assert reports["c-fine"].ok and reports["c-fine"].created == 1
    assert account_row(sessions, "a-deep").last_status == "failed"
    # the scheduled job goes on past them, too
    with unit_of_work(sessions) as session:
        session.execute(update(AccountRow).values(next_sync_at=None))
    sync.job(sessions, settings)
    assert account_row(sessions, "c-fine").failures == 0
    assert account_row(sessions, "b-deep-401").failures == 2


# --------------------------------------------------------------- two runs at once, the job


def test_two_runs_at_once_one_runs(run, settings, sessions, actor, hetzner):
    hetzner.servers[TOKEN] = [WEB, DB]
    hetzner.delay = 0.5
    add(run, settings, hetzner)
    start = threading.Barrier(2)
    reports: list[Any] = []

    def go() -> None:
        start.wait()
        reports.append(sync.sync(sessions, settings, actor, "hz"))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(reports) == 2
    ran = [r for r in reports if r.ok]
    refused = [r for r in reports if not r.ok]
    assert len(ran) == 1 and len(refused) == 1, [r.error for r in reports]
    assert "another sync of this account is running" in refused[0].error
    assert ran[0].created == 2
    assert len(all_vps(sessions)) == 2
    assert len(hetzner.requests_of(TOKEN)) == 1
    # the lease is given back: the next run runs
    hetzner.delay = 0
    assert sync.sync(sessions, settings, actor, "hz").ok


def test_the_job_syncs_the_due_enabled_accounts(run, settings, sessions, actor, hetzner):
    tokens = {"due": "tok-due-1", "later": "tok-later-2", "off": "tok-off-3"}
    for n, (name, token) in enumerate(tokens.items()):
        hetzner.servers[token] = [server(100 + n, f"{name}.example.com", f"198.51.100.{n + 1}")]
        add(run, settings, hetzner, name=name, token=token, enabled=name != "off")
    assert sync.sync(sessions, settings, actor, "later").ok  # next run in an hour
    hetzner.api.requests.clear()

    sync.job(sessions, settings)
    assert hetzner.requests_of(tokens["due"]) and not hetzner.requests_of(tokens["later"])
    assert not hetzner.requests_of(tokens["off"])
    assert {r.hostname for r in all_vps(sessions)} == {"due.example.com", "later.example.com"}
    assert account_row(sessions, "due").last_status == "ok"
    (audit,) = [
        a
        for a in (run(lambda s, a: list(s.scalars(select(AuditLog)))))
        if a.action == "sync" and a.details["name"] == "due"
    ]
    assert audit.user_email == "sync:due"

    sync.job(sessions, settings)  # nothing due any more
    assert len(hetzner.requests_of(tokens["due"])) == 1

    # sync_enabled=False: the job does nothing, even for an account due
    with unit_of_work(sessions) as session:
        session.execute(update(AccountRow).values(next_sync_at=None))
    settings.sync_enabled = False
    hetzner.api.requests.clear()
    sync.job(sessions, settings)
    assert hetzner.api.requests == []
    settings.sync_enabled = True
    sync.job(sessions, settings)
    assert hetzner.requests_of(tokens["due"]) and hetzner.requests_of(tokens["later"])
    assert not hetzner.requests_of(tokens["off"])
