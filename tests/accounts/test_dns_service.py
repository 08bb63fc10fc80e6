"""services.dns (issue 19) against a loopback Cloudflare and a loopback TLS server: the copy
of an account's zones and records, each address record linked to the VPS holding it, the
certificate its name serves there, what needs attention (dns-stale, domain-expiring,
cert-expiring), the listing's filters, `show`, and who may read or sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from tests.accounts.fakes import CloudflareFake, record, tls_context, tls_server

from sigma.db.models.accounts import DnsRecord as DnsRecordRow
from sigma.db.models.accounts import DnsZone as DnsZoneRow
from sigma.errors import InvalidInput, NotFound, PermissionDenied
from sigma.services import accounts, attention, dns, sync
from sigma.services import vps as vps_service
from sigma.services.actor import Actor

NOW = datetime.now(UTC).replace(microsecond=0)
READONLY = Actor(email="viewer@example.com", role="readonly")


@pytest.fixture(scope="module")
def cert_port(tmp_path_factory) -> Any:
    """A TLS server on 127.0.0.1 serving www.example.com's certificate, ending in 5 days."""
    context = tls_context(
        tmp_path_factory.mktemp("tls"), "www.example.com", NOW + timedelta(days=5)
    )
    with tls_server(context) as port:
        yield port


@pytest.fixture
def on_cert_port(monkeypatch, cert_port):
    """The port the certificate checks connect to (443 in production): the test server's."""
    monkeypatch.setattr(dns, "CERT_PORT", cert_port)
    return cert_port


def vps(run, hostname: str, ip: str, status: str = "active"):
    return run(
        vps_service.create,
        {"hostname": hostname, "ip_addresses": [{"ip": ip}], "status": status},
    )


def add(run, settings, cloudflare: CloudflareFake, name: str = "cf"):
    data = {"kind": "cloudflare", "name": name, "token": cloudflare.token}
    return run(accounts.create, settings, {**data, "api_base": cloudflare.url})


def fleet(run, cloudflare: CloudflareFake) -> dict[str, Any]:
    """Three VPS and the records of example.com that point at them, and elsewhere."""
    made = {
        "web": vps(run, "web.example.com", "127.0.0.1"),
        "old": vps(run, "old.example.com", "127.0.0.2"),
        "bin": vps(run, "bin.example.com", "127.0.0.3"),
    }
    cloudflare.zones = {1: "example.com"}
    cloudflare.records = {
        1: [
            record("r-www", "www.example.com", "127.0.0.1"),
            record("r-cdn", "cdn.example.com", "127.0.0.1", proxied=True),
            record("r-old", "old.example.com", "127.0.0.2"),
            record("r-bin", "bin.example.com", "127.0.0.3"),
            record("r-ext", "ext.example.com", "192.0.2.55"),
            record("r-mx", "example.com", "mail.example.com", type_="MX"),
            record("r-txt", "example.com", "v=spf1 -all", type_="TXT"),
        ]
    }
    return made


def records(sessions) -> dict[str, DnsRecordRow]:
    with sessions() as session:
        return {r.record_id: r for r in session.scalars(select(DnsRecordRow))}


def items(sessions, kind: str) -> list[Any]:
    with sessions() as session:
        return [i for i in attention.current(session) if i.kind == kind]


def aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=UTC)


def test_records_linked_to_the_fleet_with_their_certificates(
    run, settings, sessions, actor, cloudflare, on_cert_port
):
    made = fleet(run, cloudflare)
    add(run, settings, cloudflare)
    report = sync.sync(sessions, settings, actor, "cf")
    assert report.ok, report.error
    # a first sync creates every record of the copy
    assert (report.kind, report.listed, report.created) == ("cloudflare", 7, 7)

    rows = records(sessions)
    assert set(rows) == {"r-www", "r-cdn", "r-old", "r-bin", "r-ext", "r-mx", "r-txt"}
    assert rows["r-www"].vps_id == made["web"].id and rows["r-cdn"].vps_id == made["web"].id
    assert rows["r-old"].vps_id == made["old"].id and rows["r-bin"].vps_id == made["bin"].id
    assert rows["r-ext"].vps_id is None and rows["r-mx"].vps_id is None
    # the certificate www.example.com serves at 127.0.0.1, read by a handshake
    www = rows["r-www"]
    assert aware(www.cert_not_after) == NOW + timedelta(days=5)
    assert www.cert_error == "" and www.cert_checked_at is not None
    # a proxied record's certificate is Cloudflare's edge: not checked
    assert rows["r-cdn"].cert_checked_at is None and rows["r-cdn"].cert_not_after is None
    # nothing listens there: the reason is kept, no date
    assert rows["r-old"].cert_not_after is None and "refused" in rows["r-old"].cert_error
    # a record outside the fleet is never connected to
    assert rows["r-ext"].cert_checked_at is None

    account = run(accounts.get, settings, "cf")
    assert (account.last_status, account.role) == ("ok", "dns")

    # again, unchanged
    again = sync.sync(sessions, settings, actor, "cf")
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 7)


def test_what_needs_attention(run, settings, sessions, actor, cloudflare, on_cert_port):
    made = fleet(run, cloudflare)
    cloudflare.zones.update({2: "example.net", 3: "example.org", 4: "example.dev"})
    cloudflare.expiry = {
        "example.net": (NOW + timedelta(days=2)).isoformat(),
        "example.org": (NOW + timedelta(hours=12)).isoformat(),
        "example.dev": (NOW + timedelta(days=300)).isoformat(),
    }
    add(run, settings, cloudflare)
    assert sync.sync(sessions, settings, actor, "cf").ok
    run(vps_service.retire, made["old"].id)
    run(vps_service.delete, made["bin"].id)

    stale = {i.subject.name: i for i in items(sessions, "dns-stale")}
    assert set(stale) == {"old.example.com A", "bin.example.com A"}
    assert "retired" in stale["old.example.com A"].summary
    assert "trashed" in stale["bin.example.com A"].summary

    domains = {i.subject.name: i.severity for i in items(sessions, "domain-expiring")}
    assert domains == {"example.net": "warning", "example.org": "critical"}

    (cert,) = items(sessions, "cert-expiring")
    assert cert.subject.name == "www.example.com" and cert.severity == "warning"
    assert "127.0.0.1" in cert.summary and cert.vps_id == str(made["web"].id)

    # a record that moves to a VPS in service is no longer stale
    cloudflare.records[1] = [
        record("r-old", "old.example.com", "127.0.0.1"),
        record("r-bin", "bin.example.com", "127.0.0.3"),
    ]
    assert sync.sync(sessions, settings, actor, "cf").ok
    assert {i.subject.name for i in items(sessions, "dns-stale")} == {"bin.example.com A"}


def test_a_record_or_zone_removed_at_the_provider_leaves_the_copy(
    run, settings, sessions, actor, cloudflare, on_cert_port
):
    fleet(run, cloudflare)
    cloudflare.zones[2] = "example.net"
    cloudflare.records[2] = [record("n-1", "example.net", "192.0.2.9")]
    add(run, settings, cloudflare)
    assert sync.sync(sessions, settings, actor, "cf").ok
    assert "r-ext" in records(sessions) and "n-1" in records(sessions)

    cloudflare.records[1] = [r for r in cloudflare.records[1] if r["id"] != "r-ext"]
    report = sync.sync(sessions, settings, actor, "cf")
    assert report.ok and report.gone == 1
    assert "r-ext" not in records(sessions) and len(records(sessions)) == 7

    del cloudflare.zones[2]
    report = sync.sync(sessions, settings, actor, "cf")
    assert report.ok and report.gone == 1
    assert "n-1" not in records(sessions)
    with sessions() as session:
        assert [z.name for z in session.scalars(select(DnsZoneRow))] == ["example.com"]

    # a dry run reports, and the copy stays as it is
    cloudflare.records[1] = []
    dry = sync.sync(sessions, settings, actor, "cf", dry_run=True)
    assert dry.ok and dry.gone == 6
    assert len(records(sessions)) == 6

    # removing the account removes its copy (the VPS stay)
    run(accounts.delete, "cf")
    assert records(sessions) == {}
    assert run(dns.list_zones) == [] and run(dns.list_records, {}).total == 0
    assert len(run(vps_service.list_vps, {}).data) == 3


def test_listing_filters_and_show(run, settings, sessions, actor, cloudflare, on_cert_port):
    made = fleet(run, cloudflare)
    cloudflare.zones[2] = "example.net"
    cloudflare.records[2] = [record("n-1", "www.example.net", "127.0.0.1")]
    add(run, settings, cloudflare)
    assert sync.sync(sessions, settings, actor, "cf").ok

    def names(**f) -> list[str]:
        page = run(dns.list_records, f)
        return sorted(f"{r.name} {r.type}" for r in page.data)

    assert len(names()) == 8
    assert names(zone="EXAMPLE.NET.") == ["www.example.net A"]
    assert names(account="CF") == names() and names(account="nobody") == []
    assert names(linked=True) == [
        "bin.example.com A",
        "cdn.example.com A",
        "old.example.com A",
        "www.example.com A",
        "www.example.net A",
    ]
    assert names(linked=False) == [
        "example.com MX",
        "example.com TXT",
        "ext.example.com A",
    ]
    assert names(q="WWW") == ["www.example.com A", "www.example.net A"]
    assert names(q="192.0.2") == ["ext.example.com A"]
    assert names(zone="example.com", linked=True, q="old") == ["old.example.com A"]
    page = run(dns.list_records, {"per_page": 3, "page": 2})
    assert (page.total, len(page.data)) == (8, 3)
    (www,) = run(dns.list_records, {"q": "www.example.com"}).data
    assert (www.zone, www.account, www.vps_hostname, www.vps_status) == (
        "example.com",
        "cf",
        "web.example.com",
        "active",
    )
    assert www.vps_id == made["web"].id

    zones = {z.name: z for z in run(dns.list_zones)}
    assert (zones["example.com"].records, zones["example.com"].linked) == (7, 4)

    shown = run(dns.show, "Example.COM.")
    assert shown["zone"].name == "example.com" and len(shown["records"]) == 7
    shown = run(dns.show, "www.example.com")
    assert shown["zone"] is None
    assert [(r.name, r.content) for r in shown["records"]] == [("www.example.com", "127.0.0.1")]
    with pytest.raises(NotFound):
        run(dns.show, "nothing.example.org")
    with pytest.raises(InvalidInput):
        run(dns.show, "  ")


def test_show_gives_a_zone_with_all_its_records(run, settings, sessions, actor, cloudflare):
    """dns.show builds its listing with DnsFilter(per_page=1000), which clamp_page cuts to
    100: a zone of 150 records is shown with 100 of them, and nothing says so."""
    cloudflare.zones = {1: "big.example"}
    cloudflare.records = {
        1: [record(f"r{n}", f"h{n}.big.example", f"192.0.2.{n % 250 + 1}") for n in range(150)]
    }
    add(run, settings, cloudflare)
    assert sync.sync(sessions, settings, actor, "cf").ok
    assert run(dns.list_records, {"zone": "big.example"}).total == 150
    shown = run(dns.show, "big.example")
    assert len(shown["records"]) == 150


def test_readonly_reads_dns_but_cannot_sync(
    run, settings, sessions, actor, cloudflare, on_cert_port
):
    fleet(run, cloudflare)
    add(run, settings, cloudflare)
    assert sync.sync(sessions, settings, actor, "cf").ok
    assert run(dns.list_records, {}, as_actor=READONLY).total == 7
    assert len(run(dns.list_zones, as_actor=READONLY)) == 1
    assert run(dns.show, "example.com", as_actor=READONLY)["zone"].name == "example.com"
    requests = len(cloudflare.api.requests)
    with pytest.raises(PermissionDenied):
        sync.sync(sessions, settings, READONLY, "cf")
    with pytest.raises(PermissionDenied):
        sync.sync(sessions, settings, Actor(email="op@example.com", role="operator"), "cf")
    with pytest.raises(PermissionDenied):
        run(accounts.get, settings, "cf", as_actor=READONLY)
    assert len(cloudflare.api.requests) == requests  # nothing asked of Cloudflare
    with pytest.raises(PermissionDenied):
        run(dns.list_records, {}, as_actor=Actor(email="agent@x", role="agent"))


def test_a_refused_token_changes_nothing(run, settings, sessions, actor, cloudflare):
    fleet(run, cloudflare)
    add(run, settings, cloudflare)
    assert sync.sync(sessions, settings, actor, "cf").ok
    cloudflare.token = "another-token"  # the account's is refused now
    report = sync.sync(sessions, settings, actor, "cf")
    assert not report.ok and "refused the credentials" in report.error
    assert len(records(sessions)) == 7  # the copy is kept as it was
    account = run(accounts.get, settings, "cf")
    assert (account.last_status, account.failures) == ("failed", 1)


def test_the_cert_port_setting_is_read_when_a_sync_runs(
    run, settings, sessions, actor, cloudflare, monkeypatch, cert_port
):
    """dns.CERT_PORT is the module's port for the certificate checks, but dns.sync's
    `cert_port: int = CERT_PORT` binds its value when the module is imported: changing it
    (a test, a future setting) changes nothing for sync.sync, which never passes cert_port."""
    monkeypatch.setattr(dns, "CERT_PORT", cert_port)
    vps(run, "web.example.com", "127.0.0.1")
    cloudflare.zones = {1: "example.com"}
    cloudflare.records = {1: [record("r-www", "www.example.com", "127.0.0.1")]}
    add(run, settings, cloudflare)
    assert sync.sync(sessions, settings, actor, "cf").ok
    www = records(sessions)["r-www"]
    assert www.cert_error == "" and aware(www.cert_not_after) == NOW + timedelta(days=5)
