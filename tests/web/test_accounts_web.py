"""The accounts and DNS pages (issue 19) without a browser, on SQLite and PostgreSQL: only
admins see /accounts; an account added through the form against a loopback Hetzner Cloud
stand-in, tested, dry-run (nothing made), synced (its VPS made), changed, disabled and
removed; bad input shown again on the form, never with a credential; no credential in any
page; /dns for every reader, its filters and paging, the linked VPS and its state, and a
provider's record content shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from test_web_pages import ADMIN_EMAIL, ADMIN_PASSWORD, Browser
from tests.accounts.fakes import CloudflareFake, HetznerFake, record, server
from tests.cloud.fakeapi import FakeApi

from sigma.server.web.core import FORM_ERROR_STATUS

TOKEN = "hz-Web-Tok3n-9a8b7c6d5e"
NEW_TOKEN = "hz-Web-Rotated-4e3d2c1b"
CF_TOKEN = "cf-Web-Tok3n-Zq8x"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class Recorder(Browser):
    """A Browser that keeps the text of every response, to look for credentials in."""

    def __init__(self, app):
        super().__init__(app)
        self.pages: list[str] = []

    def get(self, path: str, **kw):
        r = super().get(path, **kw)
        self.pages.append(r.text + str(r.headers))
        return r

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kw):
        r = super().post(path, data, csrf, **kw)
        self.pages.append(r.text + str(r.headers))
        return r

    def assert_never_shown(self, *secrets: str) -> None:
        assert self.pages
        for page in self.pages:
            for secret in secrets:
                assert secret not in page


def _signed_in(api, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> Recorder:
    b = Recorder(api.app)
    r = b.login(email, password)
    assert r.status_code == 303, r.text
    return b


@pytest.fixture
def admin(api) -> Recorder:
    return _signed_in(api)


@pytest.fixture(scope="module")
def _loopback() -> Iterator[FakeApi]:
    server_ = FakeApi().start()
    yield server_
    server_.stop()


@pytest.fixture
def fake_api(_loopback: FakeApi) -> FakeApi:
    _loopback.routes.clear()
    _loopback.requests.clear()
    return _loopback


@pytest.fixture
def hetzner(fake_api: FakeApi) -> HetznerFake:
    return HetznerFake(fake_api)


def _location_id(r) -> str:
    assert r.status_code == 303, (r.status_code, r.text[-2000:])
    m = re.match(r"^/accounts/([0-9a-f-]{36})\?flash=account-saved$", r.headers["location"])
    assert m, r.headers["location"]
    return m.group(1)


def _accounts(api) -> list[dict]:
    r = api.client.get("/api/accounts", headers=api.headers())
    assert r.status_code == 200, r.text
    return r.json()


def _vps_total(api) -> int:
    return api.client.get("/api/vps", headers=api.headers()).json()["total"]


def _count(page: str, name: str) -> int:
    m = re.search(rf'data-count="{name}">(\d+)<', page)
    assert m, name
    return int(m.group(1))


def _hetzner_form(url: str, **extra) -> dict:
    return {
        "kind": "hetzner",
        "name": "Hetzner-Main",
        "api_base": url,
        "token": TOKEN,
        "interval_minutes": "60",
        "enabled": "1",
        **extra,
    }


# ------------------------------------------------------------------ who may


def test_accounts_page_is_for_admins_only(api, admin):
    page = admin.get("/accounts")
    assert page.status_code == 200, page.text
    assert 'id="account-form"' in page.text and 'id="account-kinds"' in page.text
    nav = page.text.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    assert 'href="/accounts"' in nav and 'href="/dns"' in nav
    # the kinds from the service, each in the select
    for kind in ("hetzner", "virtualizor", "cloudflare"):
        assert f'<option value="{kind}"' in page.text
    made = api.client.post(
        "/api/accounts",
        headers=api.headers(),
        json={"kind": "hetzner", "name": "hz-1", "token": TOKEN},
    ).json()

    for role in ("operator", "readonly"):
        email = f"{role}@example.com"
        api.user(role, email=email)
        b = _signed_in(api, email, "password-123")
        home = b.get("/")
        nav = home.text.split('<nav aria-label="Main">')[1].split("</nav>")[0]
        assert 'href="/accounts"' not in nav and 'href="/dns"' in nav
        for path in ("/accounts", f"/accounts/{made['id']}"):
            r = b.get(path)
            assert r.status_code == 403 and "This page is for administrators." in r.text, path
        for path, data in (
            ("/accounts/new", {"kind": "hetzner", "name": "forged", "token": "t"}),
            (f"/accounts/{made['id']}/sync", {}),
            (f"/accounts/{made['id']}/dry-run", {}),
            (f"/accounts/{made['id']}/test", {}),
            (f"/accounts/{made['id']}/disable", {}),
            (f"/accounts/{made['id']}/edit", {"interval_minutes": "5"}),
            (f"/accounts/{made['id']}/delete", {"confirmed": "yes"}),
        ):
            assert b.post(path, data).status_code == 403, (role, path)
        assert b.get("/dns").status_code == 200
    assert [(a["name"], a["enabled"], a["interval_minutes"]) for a in _accounts(api)] == [
        ("hz-1", True, 60)
    ]
    # a forged form (no CSRF token) is refused before anything else
    assert admin.post("/accounts/new", _hetzner_form("http://x"), csrf=False).status_code == 403
    assert len(_accounts(api)) == 1
    admin.assert_never_shown(TOKEN)


# ------------------------------------------------------------------ the journey


def test_add_test_dry_run_sync_change_and_remove(api, admin, hetzner):
    hetzner.servers[TOKEN] = [server(42, "web-1.example.com", "203.0.113.10")]
    hetzner.servers[NEW_TOKEN] = hetzner.servers[TOKEN]
    api.client.post("/api/providers", headers=api.headers(), json={"name": "Hetzner <b>"})
    providers = api.client.get("/api/providers", headers=api.headers()).json()["data"]
    form = admin.get("/accounts").text
    assert f'<option value="{providers[0]["id"]}">Hetzner &lt;b&gt;</option>' in form

    r = admin.post(
        "/accounts/new",
        _hetzner_form(hetzner.url, provider=providers[0]["id"], region=""),
    )
    account_id = _location_id(r)
    page = admin.get(r.headers["location"])
    assert page.status_code == 200 and "Account saved." in page.text
    assert re.search(r'id="account-credentials">token\b', page.text)
    assert "Hetzner &lt;b&gt;" in page.text and "No instances yet" in page.text
    listing = admin.get("/accounts").text
    assert f'id="account-{account_id}"' in listing and "never" in listing

    # Test: asks the API, changes nothing
    r = admin.post(f"/accounts/{account_id}/test")
    assert r.status_code == 200 and "The credentials work." in r.text
    assert "lists 1 instances" in r.text
    assert _vps_total(api) == 0
    # ...but the use of the credentials is audited; the audit page filters and links it
    audit = admin.get(f"/audit-log?resource=account&action=test&resource_id={account_id}")
    assert audit.status_code == 200 and audit.text.count('class="badge action-test"') == 1
    assert f'<a href="/accounts/{account_id}"><code>{account_id[:8]}</code></a>' in audit.text

    # Dry run: the change list, nothing made, the account's status untouched
    r = admin.post(f"/accounts/{account_id}/dry-run")
    assert r.status_code == 200, r.text
    assert "Dry run: what a sync would do" in r.text
    assert _count(r.text, "listed") == 1 and _count(r.text, "created") == 1
    assert 'data-action="create"' in r.text and "web-1.example.com" in r.text
    assert "203.0.113.10" in r.text  # the values it would write
    assert _vps_total(api) == 0
    assert _accounts(api)[0]["last_status"] == "never"

    # Sync now: the VPS is made, the counts shown, the instance listed
    r = admin.post(f"/accounts/{account_id}/sync")
    assert r.status_code == 200, r.text
    assert "Sync report" in r.text and 'id="sync-error"' not in r.text
    assert _count(r.text, "created") == 1 and _count(r.text, "updated") == 0
    v = api.client.get("/api/vps/web-1.example.com", headers=api.headers())
    assert v.status_code == 200, v.text
    vps = v.json()
    assert vps["provider_id"] == providers[0]["id"]
    assert f'href="/vps/{vps["id"]}"' in r.text
    assert 'id="instance-table"' in r.text and "<code>42</code>" in r.text
    listing = admin.get("/accounts").text
    row = listing.split(f'id="account-{account_id}"')[1].split("</tr>")[0]
    assert 'class="badge status-ok">ok<' in row and '<td class="num">1</td>' in row
    # again: nothing new
    r = admin.post(f"/accounts/{account_id}/sync")
    assert _count(r.text, "created") == 0 and _count(r.text, "unchanged") == 1
    assert _vps_total(api) == 1

    # change: a new token, another interval, the provider's values win
    r = admin.post(
        f"/accounts/{account_id}/edit",
        {"token": NEW_TOKEN, "interval_minutes": "30", "api_wins": "1", "enabled": "1"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("flash=account-saved")
    a = _accounts(api)[0]
    assert (a["interval_minutes"], a["api_wins"], a["enabled"]) == (30, True, True)
    assert a["credentials"] == ["token"]
    r = admin.post(f"/accounts/{account_id}/sync")
    assert 'id="sync-error"' not in r.text
    assert hetzner.requests_of(NEW_TOKEN)  # the new token was used
    # an empty credential field keeps the stored one
    r = admin.post(f"/accounts/{account_id}/edit", {"interval_minutes": "45", "enabled": "1"})
    assert r.status_code == 303
    assert "The credentials work." in admin.post(f"/accounts/{account_id}/test").text

    # disable, enable
    r = admin.post(f"/accounts/{account_id}/disable")
    assert r.status_code == 303 and "flash=account-disabled" in r.headers["location"]
    assert _accounts(api)[0]["enabled"] is False
    assert "Account disabled" in admin.get(r.headers["location"]).text
    r = admin.post(f"/accounts/{account_id}/enable")
    assert r.status_code == 303 and _accounts(api)[0]["enabled"] is True

    # remove: asks first, then the account goes and its VPS stays
    r = admin.post(f"/accounts/{account_id}/delete")
    assert r.status_code == 200 and "Remove account Hetzner-Main?" in r.text
    assert len(_accounts(api)) == 1
    r = admin.post(f"/accounts/{account_id}/delete", {"confirmed": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/accounts?flash=account-deleted"
    assert _accounts(api) == []
    assert _vps_total(api) == 1
    assert admin.get(f"/accounts/{account_id}").status_code == 404
    assert admin.post(f"/accounts/{account_id}/sync").status_code == 404
    admin.assert_never_shown(TOKEN, NEW_TOKEN)


def test_a_failing_sync_and_test_show_the_providers_error(api, admin, hetzner):
    """A token the provider refuses: the report carries the error, the account's status
    says failed, the page is no 500 and shows no token."""
    r = admin.post("/accounts/new", _hetzner_form(hetzner.url, token="hz-Unknown-Tok3n"))
    account_id = _location_id(r)
    r = admin.post(f"/accounts/{account_id}/test")
    assert r.status_code == 200 and "The test failed:" in r.text
    assert "refused the credentials" in r.text
    r = admin.post(f"/accounts/{account_id}/sync")
    assert r.status_code == 200 and 'id="sync-error"' in r.text
    assert "refused the credentials (HTTP 401" in r.text
    listing = admin.get("/accounts").text
    assert 'class="badge status-failed">failed<' in listing and "refused the credentials" in listing
    assert _vps_total(api) == 0
    admin.assert_never_shown("hz-Unknown-Tok3n")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "nosuch"}, "kind", "account kind"),
        ({"kind": ""}, "kind", "account kind"),
        ({"name": ""}, "name", "name is required"),
        ({"name": "   "}, "name", "name is required"),
        ({"name": "bad\x07name"}, "name", "control"),
        ({"token": "abc\ndef"}, "token", "control characters"),
        ({"token": ""}, "token", "needs token"),
        ({"api_base": "ftp://x"}, "api_base", "not an http(s) URL"),
        ({"interval_minutes": "1"}, "interval_minutes", "5"),
        ({"interval_minutes": "soon"}, "interval_minutes", "integer"),
        (
            {"kind": "virtualizor", "api_base": "", "key_id": "vz-Key-1", "secret": "vz-Pass-1"},
            "api_base",
            "needs its API base",
        ),
        ({"kind": "virtualizor", "api_base": "https://panel.example.com:4083"}, "key_id", "needs"),
    ],
)
def test_bad_input_is_shown_on_the_form_without_the_credentials(
    api, admin, changes, field, message
):
    r = admin.post("/accounts/new", _hetzner_form("http://127.0.0.1:9", **changes))
    assert r.status_code == FORM_ERROR_STATUS, r.text[-2000:]
    assert r.status_code < 500
    err = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', r.text)
    assert err and message in err.group(1), (field, r.text[-3000:])
    assert 'aria-describedby="' in r.text and 'aria-invalid="true"' in r.text
    # the typed values come back, the credentials never
    if changes.get("name", "Hetzner-Main").strip() and "\x07" not in changes.get("name", ""):
        assert 'value="Hetzner-Main"' in r.text
    for secret in (TOKEN, "vz-Key-1", "vz-Pass-1", "abc\ndef", "abc"):
        assert f'value="{secret}' not in r.text
    assert TOKEN not in r.text and "vz-Pass-1" not in r.text and "vz-Key-1" not in r.text
    assert _accounts(api) == []


def test_a_name_taken_and_a_bad_change_are_shown_on_their_forms(api, admin):
    made = api.client.post(
        "/api/accounts",
        headers=api.headers(),
        json={"kind": "hetzner", "name": "hz-1", "token": TOKEN},
    ).json()
    r = admin.post("/accounts/new", _hetzner_form("http://127.0.0.1:9", name="HZ-1"))
    assert r.status_code == FORM_ERROR_STATUS
    assert re.search(r'id="err-name">account &#39;hz-1&#39; already exists', r.text), r.text
    assert len(_accounts(api)) == 1
    r = admin.post(
        f"/accounts/{made['id']}/edit",
        {"interval_minutes": "99999", "token": NEW_TOKEN, "enabled": "1"},
    )
    assert r.status_code == FORM_ERROR_STATUS
    assert 'id="err-interval_minutes"' in r.text and 'value="99999"' in r.text
    assert NEW_TOKEN not in r.text
    r = admin.post(f"/accounts/{made['id']}/edit", {"token": "a\x01b", "enabled": "1"})
    assert r.status_code == FORM_ERROR_STATUS and 'id="err-token"' in r.text
    a = _accounts(api)[0]
    assert (a["interval_minutes"], a["enabled"]) == (60, True)
    assert admin.get("/accounts/00000000-0000-0000-0000-000000000000").status_code == 404
    admin.assert_never_shown(TOKEN, NEW_TOKEN)


# ------------------------------------------------------------------ DNS


def _seed_dns(api, fake_api: FakeApi) -> dict:
    """A Cloudflare account synced from the web page against the loopback stand-in: two
    zones; records at an active, a retired, a trashed and a blocked VPS (all proxied: no
    certificate check leaves the machine), one at no VPS, a TXT record holding markup, and
    30 CNAMEs in the second zone (two pages of 25)."""
    from sigma.db.engine import unit_of_work
    from sigma.db.models.monitoring import Reachability

    h = api.headers()
    ids = {}
    for hostname, ip in (
        ("web-1", "203.0.113.10"),
        ("old-1", "198.51.100.20"),
        ("trash-1", "198.51.100.30"),
        ("cn-1", "203.0.113.11"),
    ):
        r = api.client.post(
            "/api/vps",
            headers=h,
            json={"hostname": hostname, "status": "active", "ip_addresses": [{"ip": ip}]},
        )
        assert r.status_code == 200, r.text
        ids[hostname] = r.json()["id"]
    assert api.client.post(f"/api/vps/{ids['old-1']}/retire", headers=h).status_code == 200
    assert api.client.delete(f"/api/vps/{ids['trash-1']}", headers=h).status_code == 200
    import uuid

    with unit_of_work(api.app.state.sessions) as session:
        session.add(
            Reachability(vps_id=uuid.UUID(ids["cn-1"]), ip="203.0.113.11", verdict="blocked")
        )

    cf = CloudflareFake(fake_api, token=CF_TOKEN)
    cf.zones = {1: "example.com", 2: "other.org"}
    cf.records = {
        1: [
            record("r1", "www.example.com", "203.0.113.10", proxied=True),
            record("r2", "old.example.com", "198.51.100.20", proxied=True),
            record("r3", "gone.example.com", "198.51.100.30", proxied=True),
            record("r4", "cn.example.com", "203.0.113.11", proxied=True),
            record("r5", "free.example.com", "192.0.2.99"),
            record("r6", "example.com", SCRIPT, type_="TXT"),
        ],
        2: [record(f"c{i:02d}", f"h{i:02d}.other.org", "example.com", "CNAME") for i in range(30)],
    }
    r = api.client.post(
        "/api/accounts",
        headers=h,
        json={"kind": "cloudflare", "name": "CF <Main>", "token": CF_TOKEN, "api_base": cf.url},
    )
    assert r.status_code == 200, r.text
    ids["account"] = r.json()["id"]
    return ids


def test_dns_records_their_vps_and_filters(api, admin, fake_api):
    from sqlalchemy import update

    from sigma.db.engine import unit_of_work
    from sigma.db.models.accounts import DnsRecord as DnsRecordRow
    from sigma.db.types import utcnow

    api.user("readonly", email="ro@example.com")
    ro = _signed_in(api, "ro@example.com", "password-123")
    empty = admin.get("/dns")
    assert empty.status_code == 200 and "No zones yet" in empty.text
    ids = _seed_dns(api, fake_api)
    r = admin.post(f"/accounts/{ids['account']}/sync")
    assert r.status_code == 200 and 'id="sync-error"' not in r.text, r.text[-3000:]
    assert _count(r.text, "listed") == 36
    assert SCRIPT not in r.text
    # the account's name is text in its heading, its buttons' confirmation, everywhere
    assert "<Main>" not in r.text and 'id="account-name">CF &lt;Main&gt;</span>' in r.text
    assert 'data-confirm="Remove account CF &lt;Main&gt;? Its VPS stay."' in r.text
    # certificates as a sync's check would leave them (that check is services.dns's own test)
    with unit_of_work(api.app.state.sessions) as session:
        session.execute(
            update(DnsRecordRow)
            .where(DnsRecordRow.name == "free.example.com")
            .values(cert_not_after=utcnow() + timedelta(days=5), cert_checked_at=utcnow())
        )
        session.execute(
            update(DnsRecordRow)
            .where(DnsRecordRow.name == "old.example.com")
            .values(cert_error="<b>handshake</b> failed", cert_checked_at=utcnow())
        )

    for b in (admin, ro):
        page = b.get("/dns")
        assert page.status_code == 200, page.text[-2000:]
        text = page.text
        # the zones, with their counts
        zones = text.split('id="zone-table"')[1].split("</table>")[0]
        assert "example.com" in zones and "other.org" in zones and "CF &lt;Main&gt;" in zones
        assert "<Main>" not in text
        # the record holding markup is text
        assert SCRIPT not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        # 36 records: one page of the default 50
        assert text.count("data-record=") == 36
    page = ro.get("/dns?zone=example.com").text
    assert page.count("data-record=") == 6

    def row(page: str, name: str) -> str:
        m = re.search(
            rf'<tr[^>]*data-record="[^"]+">\s*<td class="strong">{re.escape(name)}</td>(.*?)</tr>',
            page,
            re.S,
        )
        assert m, name
        return m.group(0)

    www = row(page, "www.example.com")
    assert f'href="/vps/{ids["web-1"]}">web-1</a>' in www and "status-active" in www
    assert 'class="stale"' not in www and "at the proxy" in www and "Yes" in www
    old = row(page, "old.example.com")
    assert 'class="stale"' in old and "status-retired" in old
    assert "&lt;b&gt;handshake&lt;/b&gt; failed" in old and "<b>handshake" not in page
    gone = row(page, "gone.example.com")
    assert 'class="stale"' in gone and 'badge status-trashed">trashed<' in gone
    cn = row(page, "cn.example.com")
    assert 'class="stale"' in cn and 'badge status-blocked">blocked<' in cn
    free = row(page, "free.example.com")
    assert "/vps/" not in free and 'class="expiring"' in free and "(5 d)" in free

    # filters: linked, the account, a search, the zone in another case
    linked = ro.get("/dns?linked=yes").text
    assert linked.count("data-record=") == 4 and 'value="yes" selected' in linked
    assert ro.get("/dns?linked=no").text.count("data-record=") == 32
    assert ro.get("/dns?account=cf%20%3Cmain%3E").text.count("data-record=") == 36
    assert ro.get("/dns?account=nobody").text.count("data-record=") == 0
    found = ro.get("/dns?q=www").text
    assert found.count("data-record=") == 1 and 'value="www"' in found
    assert ro.get("/dns?zone=OTHER.org.").text.count("data-record=") == 30
    # paging like the other listings
    first = ro.get("/dns?zone=other.org&per_page=25").text
    assert first.count("data-record=") == 25 and "1–25 of 30" in first
    assert 'href="?zone=other.org&amp;per_page=25&amp;page=2"' in first
    second = ro.get("/dns?zone=other.org&per_page=25&page=2").text
    assert second.count("data-record=") == 5 and "26–30 of 30" in second
    # bad filters: a message, not a 500
    r = ro.get("/dns?linked=maybe")
    assert r.status_code == 200 and 'id="err-linked"' in r.text
    r = ro.get("/dns?q=" + "x" * 300)
    assert r.status_code == 200 and 'id="err-q"' in r.text
    assert ro.get("/dns?page=abc").status_code == 200
    # the attention list's links land on the page with their filter
    assert ro.get("/dns?q=old.example.com").text.count("data-record=") == 1
    admin.assert_never_shown(CF_TOKEN)
    ro.assert_never_shown(CF_TOKEN)


def test_attention_items_link_to_these_pages(api, admin, hetzner, fake_api):
    """The dashboard's sync-failed item opens /accounts, a dns-stale item opens /dns on its
    record (services.attention's links)."""
    r = admin.post("/accounts/new", _hetzner_form(hetzner.url, token="hz-Refused-Tok3n"))
    account_id = _location_id(r)
    assert 'id="sync-error"' in admin.post(f"/accounts/{account_id}/sync").text
    ids = _seed_dns(api, fake_api)
    assert 'id="sync-error"' not in admin.post(f"/accounts/{ids['account']}/sync").text
    dash = admin.get("/")
    assert dash.status_code == 200, dash.text[-2000:]
    links = dict(
        (kind, href)
        for href, kind in re.findall(
            r'<a href="([^"]+)">[^<]*</a> <span class="muted small">([a-z-]+)</span>', dash.text
        )
    )
    assert links.get("sync-failed") == "/accounts", links
    assert admin.get(links["sync-failed"]).status_code == 200
    stale = re.findall(
        r'<a href="(/dns\?q=[^"]+)">[^<]*</a> <span class="muted small">dns-stale', dash.text
    )
    assert sorted(stale) == [
        "/dns?q=cn.example.com",
        "/dns?q=gone.example.com",
        "/dns?q=old.example.com",
    ]
    for href in stale:
        page = admin.get(href.replace("&amp;", "&"))
        assert page.status_code == 200 and page.text.count('class="stale"') == 1, href
    admin.assert_never_shown("hz-Refused-Tok3n", CF_TOKEN)


def test_a_vps_page_shows_its_account_and_dns_records(api, admin, hetzner, fake_api):
    """A synced VPS's page names the account and instance it comes from (a link for admins,
    text for readers) and the DNS records pointing at it, escaped."""
    ids = _seed_dns(api, fake_api)
    assert admin.post(f"/accounts/{ids['account']}/sync").status_code == 200
    page = admin.get(f"/vps/{ids['web-1']}").text
    assert 'id="vps-dns-records"' in page and "www.example.com" in page
    assert "Synced from" not in page  # made by hand: no account fills it

    hetzner.servers[TOKEN] = [server(77, "ams-9.example.com", "203.0.113.90")]
    r = api.client.post(
        "/api/accounts",
        headers=api.headers(),
        json={"kind": "hetzner", "name": "hz <web>", "token": TOKEN, "api_base": hetzner.url},
    )
    assert r.status_code == 200, r.text
    [report] = api.client.post(
        "/api/sync", headers=api.headers(), json={"accounts": [r.json()["id"]]}
    ).json()
    assert report["created"] == 1, report
    vps_id = report["changes"][0]["vps_id"]
    page = admin.get(f"/vps/{vps_id}").text
    assert "Synced from" in page and "<code>77</code>" in page
    assert '<a href="/accounts/hz%20%3Cweb%3E">hz &lt;web&gt;</a>' in page
    assert "<web>" not in page
    api.user("readonly", email="ro-src@example.com")
    ro = _signed_in(api, "ro-src@example.com", "password-123").get(f"/vps/{vps_id}").text
    assert "Synced from" in ro and "hz &lt;web&gt;" in ro and 'href="/accounts/' not in ro
