"""The fleet-scale pages without a browser, on SQLite and PostgreSQL: the VPS list's sort,
page size, IP search, status filter and bulk actions; the dashboard's attention strip and its
JSON; the reachability page, problems first and paged; the same sort and paging on the API."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from test_web_pages import ADMIN_EMAIL, ADMIN_PASSWORD, Browser


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def admin(api):
    b = Browser(api.app)
    r = b.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/", r.text
    return b


@pytest.fixture
def readonly(api):
    api.user("readonly", email="ro@example.com")
    b = Browser(api.app)
    assert b.login("ro@example.com", "password-123").status_code == 303
    return b


def _day(n: int) -> str:
    return (date.today() + timedelta(days=n)).isoformat()


def _vps(api, hostname: str, **fields) -> dict:
    r = api.client.post("/api/vps", headers=api.headers(), json={"hostname": hostname, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def _hostnames(html: str) -> list[str]:
    return re.findall(r'<tr data-hostname="([^"]+)"', html)


def _provider(api, name: str) -> str:
    r = api.client.post("/api/providers", headers=api.headers(), json={"name": name})
    assert r.status_code == 200, r.text
    return r.json()["id"]


@pytest.fixture
def priced(api) -> list[dict]:
    """Five VPS with distinct costs (one without), countries and providers."""
    zeta, alpha = _provider(api, "Zeta"), _provider(api, "Alpha")
    return [
        _vps(api, "a-1", status="active", country="JP", cost_monthly="5.00", provider_id=zeta),
        _vps(api, "b-2", status="active", country="HK", cost_monthly="30.00", provider_id=alpha),
        _vps(api, "c-3", status="active", country="HK", cost_monthly="12.50"),
        _vps(api, "d-4", status="retired", country="US", cost_monthly="99.00"),
        _vps(api, "e-5", status="active", country="", expire_date=_day(3)),
    ]


# ------------------------------------------------------------------ sort


def test_sort_by_column_headers_keeps_the_filters(admin, priced):
    page = admin.get("/vps?sort=cost&dir=desc").text
    assert _hostnames(page) == ["d-4", "b-2", "c-3", "a-1", "e-5"]  # no cost: last
    assert re.search(r'<th class="sortable num" aria-sort="descending"><a href="\?[^"]*"', page)
    assert page.count("aria-sort=") == 1
    page = admin.get("/vps?sort=cost&dir=asc").text
    assert _hostnames(page) == ["a-1", "c-3", "b-2", "d-4", "e-5"]  # still last
    assert 'aria-sort="ascending"' in page
    page = admin.get("/vps?sort=country").text
    assert _hostnames(page)[:3] == ["b-2", "c-3", "a-1"]  # HK (ties by hostname), JP...
    assert _hostnames(page)[-1] == "e-5"  # no country: last
    assert _hostnames(admin.get("/vps?sort=provider&dir=asc").text)[:2] == ["b-2", "a-1"]
    assert _hostnames(admin.get("/vps?sort=hostname&dir=desc").text)[0] == "e-5"
    # the header links keep the filters and flip the direction of the sorted column
    page = admin.get("/vps?status=active&country=HK&sort=cost&dir=desc").text
    assert _hostnames(page) == ["b-2", "c-3"]
    link = re.search(r'href="(\?[^"]*)" data-sort="cost"', page).group(1).replace("&amp;", "&")
    assert "status=active" in link and "country=HK" in link and "dir=asc" in link
    link = re.search(r'href="(\?[^"]*)" data-sort="hostname"', page).group(1).replace("&amp;", "&")
    assert "status=active" in link and "sort=hostname" in link and "dir=asc" in link
    # the filter form keeps the sort
    assert '<input type="hidden" name="sort" value="cost">' in page
    # no sort: the default order (status, expiry, hostname)
    assert _hostnames(admin.get("/vps").text) == ["e-5", "a-1", "b-2", "c-3", "d-4"]


def test_unknown_sort_is_a_clear_422(api, admin, priced):
    r = admin.get("/vps?sort=price")
    assert r.status_code == 422
    assert "unknown sort field" in r.text and "hostname, country, provider, status, cost" in r.text
    assert admin.get("/vps?sort=cost&dir=sideways").status_code == 422
    r = api.client.get("/api/vps", headers=api.headers(), params={"sort": "price"})
    assert r.status_code == 422 and r.json()["field"] == "sort"
    assert "expiry, created" in r.json()["error"]


def test_api_sort(api, priced):
    h = api.headers()
    rows = api.client.get("/api/vps", headers=h, params={"sort": "cost:desc"}).json()["data"]
    assert [v["hostname"] for v in rows] == ["d-4", "b-2", "c-3", "a-1", "e-5"]
    rows = api.client.get(
        "/api/vps", headers=h, params={"sort": "expiry", "status": "active"}
    ).json()["data"]
    assert rows[0]["hostname"] == "e-5"  # the only expiry; the others (none) after it
    # ties are stable across pages: created at the same instant is ordered by hostname
    got = [
        v["hostname"]
        for p in (1, 2, 3)
        for v in api.client.get(
            "/api/vps", headers=h, params={"sort": "status", "per_page": 2, "page": p}
        ).json()["data"]
    ]
    assert got == ["a-1", "b-2", "c-3", "e-5", "d-4"]
    # the other new filters of the listing
    rows = api.client.get("/api/vps", headers=h, params={"expiry": "soon"}).json()["data"]
    assert [v["hostname"] for v in rows] == ["e-5"]
    rows = api.client.get("/api/vps", headers=h, params={"agent": "none", "status": "retired"})
    assert [v["hostname"] for v in rows.json()["data"]] == ["d-4"]
    r = api.client.get("/api/vps", headers=h, params={"expiry": "late"})
    assert r.status_code == 422 and r.json()["field"] == "expiry"


# ------------------------------------------------------------------ page size, search, status


def test_page_size_choice_is_kept(api, admin):
    for i in range(60):
        _vps(api, f"n-{i:02d}")
    page = admin.get("/vps?per_page=50").text
    assert len(_hostnames(page)) == 50
    assert '<option value="50" selected>' in page
    assert re.search(
        r'href="\?[^"]*per_page=50[^"]*page=2"|href="\?[^"]*page=2[^"]*per_page=50', page
    )
    assert len(_hostnames(admin.get("/vps?per_page=50&page=2").text)) == 10
    assert len(_hostnames(admin.get("/vps?per_page=100").text)) == 60
    assert len(_hostnames(admin.get("/vps?per_page=30").text)) == 25  # not a choice: 25
    link = re.search(r'href="(\?[^"]*)" data-sort="hostname"', page).group(1)
    assert "per_page=50" in link


def test_search_finds_ip_addresses(api, admin):
    _vps(api, "hk-1", ip_addresses=[{"ip": "103.1.2.3"}, {"ip": "2001:db8::5"}])
    _vps(api, "hk-2", ip_addresses=[{"ip": "103.1.2.30"}])
    _vps(api, "cafe-1", ip_addresses=[{"ip": "198.51.100.1"}])
    _vps(api, "x103-1", alias="edge 103")
    assert _hostnames(admin.get("/vps?search=103.1.2.3").text) == ["hk-1"]  # the address
    assert _hostnames(admin.get("/vps?search=+103.1.2.3+").text) == ["hk-1"]
    assert _hostnames(admin.get("/vps?search=103.1.2").text) == ["hk-1", "hk-2"]  # its start
    assert _hostnames(admin.get("/vps?search=2001:DB8:").text) == ["hk-1"]
    assert _hostnames(admin.get("/vps?search=2001:db8::5").text) == ["hk-1"]
    assert _hostnames(admin.get("/vps?search=103").text) == ["hk-1", "hk-2", "x103-1"]
    assert _hostnames(admin.get("/vps?search=cafe").text) == ["cafe-1"]  # a word: names only
    assert _hostnames(admin.get("/vps?search=198.51.100.1").text) == ["cafe-1"]
    assert _hostnames(admin.get("/vps?search=10.9.9.9").text) == []
    assert _hostnames(admin.get("/vps?search=100%25").text) == []  # wildcards are literal
    rows = api.client.get("/api/vps", headers=api.headers(), params={"search": "103.1.2."})
    assert [v["hostname"] for v in rows.json()["data"]] == ["hk-1", "hk-2"]


def test_status_filter_has_every_status(api, admin):
    from sigma.vocab import VPS_STATUSES

    _vps(api, "s-1", status="suspended")
    _vps(api, "a-1", status="active")
    page = admin.get("/vps").text
    select = re.search(r'<select id="f-status" name="status">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)"', select) == list(VPS_STATUSES)
    page = admin.get("/vps?status=suspended").text
    assert _hostnames(page) == ["s-1"] and '<option value="suspended" selected>' in page


def test_expiry_marks_overdue_and_due_soon_apart(api, admin):
    _vps(api, "late-1", status="active", expire_date=_day(-2))
    _vps(api, "soon-1", status="active", expire_date=_day(3))
    _vps(api, "today-1", status="active", expire_date=_day(0))
    _vps(api, "later-1", status="active", expire_date=_day(40))
    _vps(api, "gone-1", status="retired", expire_date=_day(-400))
    page = admin.get("/vps?per_page=100").text

    def cell(hostname: str) -> str:
        row = re.search(rf'<tr data-hostname="{hostname}">(.*?)</tr>', page, re.S).group(1)
        return row

    assert 'class="expiry expiry-overdue"' in cell("late-1") and "Overdue 2 d" in cell("late-1")
    assert 'class="expiry expiry-soon"' in cell("soon-1") and "Due in 3 d" in cell("soon-1")
    assert "Due today" in cell("today-1")
    for quiet in ("later-1", "gone-1"):  # a retired VPS's old expiry is not a warning
        assert "expiry-overdue" not in cell(quiet) and "expiry-soon" not in cell(quiet)
        assert "expiring" not in cell(quiet)
    assert _hostnames(admin.get("/vps?expiry=overdue").text) == ["late-1"]
    assert _hostnames(admin.get("/vps?expiry=soon&sort=expiry").text) == ["today-1", "soon-1"]


# ------------------------------------------------------------------ bulk actions


def _audit(api, action: str) -> int:
    r = api.client.get(
        "/api/audit-logs", headers=api.headers(), params={"action": action, "resource": "vps"}
    )
    return r.json()["total"]


def test_bulk_retire_tag_and_export(api, admin):
    a = _vps(api, "a-1", status="active", tags=["x"])
    b = _vps(api, "b-2", status="active")
    c = _vps(api, "c-3", status="active")
    page = admin.get("/vps?status=active&sort=hostname").text
    assert 'id="bulk-form"' in page and page.count("data-row-select") == 3
    back = "/vps?status=active&sort=hostname"
    # retire asks first (without JavaScript, on a page of its own)
    r = admin.post("/vps/bulk", {"action": "retire", "id": [a["id"], b["id"]], "back": back})
    assert r.status_code == 200 and "Retire 2 VPS?" in r.text
    assert r.text.count('name="id"') == 2
    r = admin.post(
        "/vps/bulk",
        {"action": "retire", "id": [a["id"], b["id"]], "back": back, "confirmed": "yes"},
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/vps?") and "status=active" in location and "n=2" in location
    assert "2 of 2 selected VPS retired." in admin.get(location).text
    statuses = {
        v["hostname"]: v["status"]
        for v in api.client.get("/api/vps", headers=api.headers()).json()["data"]
    }
    assert statuses == {"a-1": "retired", "b-2": "retired", "c-3": "active"}
    assert _audit(api, "retire") == 2  # once per VPS, through vps.retire
    # again: nothing changes, nothing more is audited
    r = admin.post(
        "/vps/bulk", {"action": "retire", "id": [a["id"]], "back": back, "confirmed": "yes"}
    )
    assert "0 of 1 selected VPS retired." in admin.get(r.headers["location"]).text
    assert _audit(api, "retire") == 2
    # add a tag: the VPS that has it already is left alone
    r = admin.post("/vps/bulk", {"action": "tag", "tag": "x", "id": [a["id"], c["id"]]})
    assert (
        r.status_code == 303 and "n=1" in r.headers["location"] and "of=2" in r.headers["location"]
    )
    assert "Tag added to 1 of 2 selected VPS." in admin.get(r.headers["location"]).text
    tags = {
        v["hostname"]: v["tags"]
        for v in api.client.get("/api/vps", headers=api.headers()).json()["data"]
    }
    assert tags == {"a-1": ["x"], "b-2": [], "c-3": ["x"]}
    # export the selection as CSV
    r = admin.post("/vps/bulk", {"action": "export", "id": [b["id"], c["id"]]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["hostname"] for row in rows) == ["b-2", "c-3"]
    # "select all on this page" without JavaScript: scope=page takes the page's rows
    r = admin.post(
        "/vps/bulk",
        {"action": "tag", "tag": "all", "scope": "page", "page_id": [a["id"], b["id"], c["id"]]},
    )
    assert r.status_code == 303 and "n=3" in r.headers["location"]
    # nothing selected
    r = admin.post("/vps/bulk", {"action": "tag", "tag": "y", "back": back})
    assert r.status_code == 303 and "flash=bulk-none" in r.headers["location"]
    assert "Select at least one VPS first." in admin.get(r.headers["location"]).text
    # never off-site
    r = admin.post("/vps/bulk", {"action": "tag", "tag": "y", "back": "//evil.example/vps"})
    assert r.headers["location"].startswith("/vps?")


def test_bulk_is_all_or_nothing(api, admin):
    a = _vps(api, "a-1", status="active")
    ghost = str(uuid.uuid4())
    r = admin.post("/vps/bulk", {"action": "retire", "id": [a["id"], ghost], "confirmed": "yes"})
    assert r.status_code == 404
    assert api.client.get("/api/vps/a-1", headers=api.headers()).json()["status"] == "active"
    r = admin.post("/vps/bulk", {"action": "tag", "tag": "bad tag", "id": [a["id"]]})
    assert r.status_code == 422 and "spaces" in r.text
    r = admin.post("/vps/bulk", {"action": "tag", "tag": "ok", "id": [a["id"], "nope"]})
    assert r.status_code == 422
    assert api.client.get("/api/vps/a-1", headers=api.headers()).json()["tags"] == []
    assert admin.post("/vps/bulk", {"action": "explode", "id": [a["id"]]}).status_code == 422


def test_bulk_refused_to_readonly_and_without_csrf(api, admin, readonly):
    a = _vps(api, "a-1", status="active")
    page = readonly.get("/vps").text
    assert (
        "bulk-form" not in page and "data-row-select" not in page and "data-select-all" not in page
    )
    assert "row-menu" not in page
    for data in (
        {"action": "retire", "confirmed": "yes"},
        {"action": "tag", "tag": "x"},
        {"action": "export"},
    ):
        r = readonly.post("/vps/bulk", {**data, "id": [a["id"]]})
        assert r.status_code == 403, data
    # an admin without the form's token
    r = admin.post(
        "/vps/bulk", {"action": "retire", "id": [a["id"]], "confirmed": "yes"}, csrf=False
    )
    assert r.status_code == 403
    r = admin.post(
        "/vps/bulk",
        {"action": "retire", "id": [a["id"]], "confirmed": "yes"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    v = api.client.get("/api/vps/a-1", headers=api.headers()).json()
    assert v["status"] == "active" and v["tags"] == []
    assert _audit(api, "retire") == 0 and _audit(api, "update") == 0


# ------------------------------------------------------------------ dashboard


def _reach(api, vps_id: str, ip: str, verdict: str, since: datetime | None = None) -> None:
    from sigma.db.engine import unit_of_work
    from sigma.db.models.monitoring import Reachability

    now = datetime.now(UTC)
    at = now.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    state = {
        "cn-ct": {"icmp": {"ok": verdict == "ok", "fails": 3, "oks": 0, "at": at}},
        "us": {"icmp": {"ok": verdict != "down", "fails": 0, "oks": 3, "at": at}},
    }
    with unit_of_work(api.app.state.sessions) as s:
        s.add(
            Reachability(
                vps_id=uuid.UUID(vps_id),
                ip=ip,
                verdict=verdict,
                since=since or now,
                state=state,
                updated_at=now,
            )
        )


def _ticket(api, title: str, priority: str, status: str = "open") -> None:
    r = api.client.post(
        "/api/tickets", headers=api.headers(), json={"title": title, "priority": priority}
    )
    assert r.status_code == 200, r.text
    if status != "open":
        r = api.client.put(
            f"/api/tickets/{r.json()['id']}", headers=api.headers(), json={"status": status}
        )
        assert r.status_code == 200, r.text


@pytest.fixture
def needs(api) -> dict[str, int]:
    """A fleet with some of each thing that needs attention; the expected counts."""
    old = "2000-01-01T00:00:00+00:00"
    fresh = datetime.now(UTC).isoformat()
    _vps(api, "late-1", status="active", expire_date=_day(-1))
    _vps(api, "late-2", status="suspended", expire_date=_day(-30))
    _vps(api, "late-gone", status="retired", expire_date=_day(-5))  # not counted
    _vps(api, "soon-1", status="active", expire_date=_day(0))
    _vps(api, "soon-2", status="provisioning", expire_date=_day(7))
    _vps(api, "later-1", status="active", expire_date=_day(8))  # not counted
    off = _vps(api, "off-1", status="active", extra={"last_heartbeat": old})
    _vps(api, "off-2", status="active", extra={"last_heartbeat": old})
    _vps(api, "off-gone", status="retired", extra={"last_heartbeat": old})  # not counted
    _vps(api, "on-1", status="active", extra={"last_heartbeat": fresh})
    idle = _vps(api, "idle-1", status="suspended")
    _reach(api, off["id"], "192.0.2.1", "blocked")
    _reach(api, off["id"], "192.0.2.2", "blocked")
    _reach(api, off["id"], "192.0.2.3", "degraded")
    _reach(api, off["id"], "192.0.2.4", "down")
    _reach(api, off["id"], "192.0.2.5", "ok")
    _reach(api, idle["id"], "192.0.2.9", "blocked")  # not an active VPS: not counted
    _ticket(api, "c1", "critical")
    _ticket(api, "c2", "critical", status="in-progress")  # not open: not counted
    _ticket(api, "h1", "high")
    _ticket(api, "h2", "high")
    _ticket(api, "l1", "low")
    for host, quota, sent in (("full-1", 1, 900_000_000), ("light-1", 1, 100_000_000)):
        _vps(api, host, status="active", traffic_quota_gb=quota)
        for tx in (0, sent):  # the baseline, then this period's traffic
            r = api.client.post(
                "/api/agent/heartbeat",
                headers=api.headers(),
                json={"hostname": host, "traffic": {"rx_bytes": 0, "tx_bytes": tx}},
            )
            assert r.status_code == 200, r.text
    return {
        "overdue": 2,
        "due-soon": 2,
        "agents-offline": 2,
        "blocked": 2,
        "down": 1,
        "degraded": 1,
        "tickets-critical": 1,
        "tickets-high": 2,
        "over-quota": 1,
        "port-blocked": 0,
        "tls-blocked": 0,
        "probes-unhealthy": 0,
        "reach-alerts": 0,
    }


def test_attention_strip_counts_and_links(api, admin, needs):
    page = admin.get("/").text
    assert 'http-equiv="refresh"' not in page
    strip = re.search(r'<section class="attention card".*?</section>', page, re.S).group(0)
    found = {
        kind: (int(count), href.replace("&amp;", "&"))
        for href, kind, count in re.findall(
            r'href="([^"]+)" data-attention="([^"]+)"><span class="attention-count">(\d+)<', strip
        )
    }
    assert {k: c for k, (c, _) in found.items()} == needs
    assert found["blocked"][1] == "/reachability?verdict=blocked"
    assert found["tickets-critical"][1] == "/tickets?status=open&priority=critical"
    assert found["overdue"][1] == "/vps?expiry=overdue"
    # each link lands on a list of exactly what was counted
    for kind in ("overdue", "due-soon", "agents-offline", "over-quota"):
        count, href = found[kind]
        assert len(_hostnames(admin.get(href).text)) == count, kind
    assert _hostnames(admin.get(found["over-quota"][1]).text) == ["full-1"]
    assert 'value="80" selected' in admin.get(found["over-quota"][1]).text
    assert sorted(_hostnames(admin.get(found["overdue"][1]).text)) == ["late-1", "late-2"]
    assert sorted(_hostnames(admin.get(found["agents-offline"][1]).text)) == ["off-1", "off-2"]
    for kind in ("blocked", "down", "degraded"):
        count, href = found[kind]
        assert admin.get(href).text.count(f'<tr data-verdict="{kind}">') == count, kind
    tickets = admin.get(found["tickets-high"][1])
    assert tickets.status_code == 200 and tickets.text.count(">h") >= 2


def test_attention_json_route(api, admin, needs, readonly):
    r = admin.get("/attention.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store"
    items = {i["kind"]: i for i in r.json()["items"]}
    assert {k: i["count"] for k, i in items.items()} == needs
    assert items["down"]["href"] == "/reachability?verdict=down"
    assert readonly.get("/attention.json").status_code == 200  # every reader
    # signed out (or the session expired): 401, which stops the page's polling
    r = Browser(api.app).get("/attention.json")
    assert r.status_code == 401 and "error" in r.json()


def test_attention_counts_on_an_empty_fleet(api, admin):
    from sigma.services.attention import IP_ITEMS, TICKET_ITEMS, VPS_ITEMS

    kinds = len(VPS_ITEMS) + len(IP_ITEMS) + len(TICKET_ITEMS) + 2  # + alerts, probes
    page = admin.get("/").text
    assert page.count('class="attention-item attention-') == kinds == 13
    assert page.count(" is-zero") == kinds


# ------------------------------------------------------------------ reachability


@pytest.fixture
def reach(api) -> list[str]:
    """30 (VPS, IP) pairs over three active VPS: the verdicts, in the listing's order."""
    order = []
    verdicts = ["ok"] * 12 + ["degraded"] * 6 + ["blocked"] * 5 + ["down"] * 4 + ["unknown"] * 3
    hosts = [_vps(api, f"r-{i}", status="active")["id"] for i in range(3)]
    for n, verdict in enumerate(verdicts):
        _reach(api, hosts[n % 3], f"198.51.100.{n + 1}", verdict)
    for v in ("blocked", "down", "degraded", "unknown", "ok"):
        order += [v] * verdicts.count(v)
    return order


def test_reachability_problems_first_and_paged(api, admin, reach):
    page = admin.get("/reachability").text
    got = re.findall(r'<tr data-verdict="([a-z]+)">', page)
    assert got == reach[:25]
    assert 'aria-label="Pages"' in page
    got += re.findall(r'<tr data-verdict="([a-z]+)">', admin.get("/reachability?page=2").text)
    assert got == reach
    page = admin.get("/reachability?per_page=50").text
    assert re.findall(r'<tr data-verdict="([a-z]+)">', page) == reach
    assert '<option value="50" selected>' in page
    # the filter, with the counts of the whole fleet in its options
    page = admin.get("/reachability?verdict=degraded").text
    assert re.findall(r'<tr data-verdict="([a-z]+)">', page) == ["degraded"] * 6
    assert '<option value="blocked">blocked (5)</option>' in page
    assert "No IP has this verdict" in admin.get("/reachability?verdict=unknown&page=9").text


def test_reachability_api_pages_only_when_asked(api, reach):
    h = api.headers()
    r = api.client.get("/api/ip-checks/status", headers=h)
    assert r.status_code == 200 and isinstance(r.json(), list) and len(r.json()) == 30
    rows = r.json()
    assert [x["hostname"] for x in rows] == sorted(x["hostname"] for x in rows)  # as before
    r = api.client.get("/api/ip-checks/status", headers=h, params={"page": 2, "per_page": 10})
    body = r.json()
    assert set(body) == {"data", "total", "page", "per_page", "counts"}
    assert body["total"] == 30 and body["page"] == 2 and body["per_page"] == 10
    assert [x["verdict"] for x in body["data"]] == reach[10:20]
    assert body["counts"] == {
        "ok": 12,
        "degraded": 6,
        "blocked": 5,
        "port-blocked": 0,
        "tls-blocked": 0,
        "down": 4,
        "unknown": 3,
    }
    r = api.client.get(
        "/api/ip-checks/status", headers=h, params={"per_page": 3, "verdict": "down"}
    )
    assert r.json()["total"] == 4 and [x["verdict"] for x in r.json()["data"]] == ["down"] * 3
    r = api.client.get("/api/ip-checks/status", headers=h, params={"page": 1, "verdict": "x"})
    assert r.status_code == 422 and r.json()["field"] == "verdict"


def test_reachability_page_says_why_and_shows_the_probes(api, admin):
    """A port block seen from China Telecom only: the verdict, its carrier, checks and
    agreement on the page, the sources' carriers in the headers, and the probe registry
    with each probe's health below."""
    probe = api.headers()  # an operator posts the results of several probes
    v = _vps(api, "hk-1", status="active", ip_addresses=[{"ip": "103.1.2.3"}])
    for body in (
        {"source": "gd-ct", "carrier": "ct", "region": "guangdong"},
        {"source": "hk-ctl", "carrier": "other", "control": True},
        {"source": "sh-<cm>", "carrier": "cm"},
    ):
        key = {"X-Api-Key": api.api_key("probe")}  # a probe key speaks for one probe
        r = api.client.post("/api/probes/report", headers=key, json=body)
        assert r.status_code == 200, r.text
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(3):
        at = (t0 + timedelta(minutes=n)).isoformat()
        checks = [
            {"source": s, "check_type": t, "port": p, "outcome": o}
            | ({"latency_ms": 30 + n} if o == "ok" else {})
            for s, t, p, o in (
                ("gd-ct", "tcp", 22, "timeout"),
                ("gd-ct", "icmp", None, "ok"),
                ("hk-ctl", "tcp", 22, "ok"),
                ("hk-ctl", "icmp", None, "ok"),
            )
        ]
        r = api.client.post(
            "/api/ip-checks/batch",
            headers=probe,
            json={
                "checks": [
                    {"vps_id": v["id"], "ip": "103.1.2.3", "checked_at": at, **c} for c in checks
                ]
            },
        )
        assert r.status_code == 200, r.text
    page = admin.get("/reachability").text
    row = re.search(r'<tr data-verdict="port-blocked">.*?</tr>', page, re.S).group(0)
    assert "ct · tcp:22 · 1 of 1 sources" in row
    assert "tcp:22: timeout" in row  # the source cell's title: the last outcome per check
    assert '<th>gd-ct <span class="muted small">ct</span></th>' in page
    probes = re.search(r'<table class="table" id="probes-table">.*?</table>', page, re.S).group(0)
    assert probes.count("<tr data-health=") == 3 and "guangdong" in probes
    assert "sh-&lt;cm&gt;" in probes and "sh-<cm>" not in page  # a name is text, never markup
    assert f'href="/vps/{v["id"]}#reachability"' in row
    # the VPS page: the verdict with its reasons, and latency per probe source over a day
    detail = admin.get(f"/vps/{v['id']}").text
    section = re.search(r'<section class="card" id="reachability">.*?</section>', detail, re.S)
    reach = section.group(0)
    assert "port-blocked" in reach and "carriers: ct" in reach and "regions: guangdong" in reach
    assert '<svg class="chart"' in reach and 'aria-label="Latency to 103.1.2.3' in reach
    assert "gd-ct (ct)</li>" in reach and "hk-ctl (other)</li>" in reach
    assert ">control<" in probes and ">China<" in probes
    # the fleet per probe source: both charts, a line per source, the span switch
    fleet = re.search(r'<section class="card" id="fleet".*?</section>', page, re.S).group(0)
    assert 'aria-label="Fleet latency per probe source' in fleet
    assert 'aria-label="Checks passed per probe source' in fleet
    assert "gd-ct (ct)</li>" in fleet and "hk-ctl (other)</li>" in fleet
    assert 'aria-current="true">24h</span>' in fleet
    month = admin.get("/reachability?span=30d").text
    assert 'aria-current="true">30d</span>' in month and "gd-ct (ct)</li>" in month
    bogus = admin.get("/reachability?span=%3Cscript%3E")
    assert bogus.status_code == 200 and 'aria-current="true">24h</span>' in bogus.text
