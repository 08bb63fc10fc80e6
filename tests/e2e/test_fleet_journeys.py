"""The fleet-scale pages in real headless Chromium, against a `sigma serve` of their own:
sorting the VPS list by clicking a header, searching by IP address, selecting two VPS and
retiring them at once, and the dashboard's attention strip (no meta refresh; each count's
link lands on the filtered list; the counts update in place)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from e2e_admin import admin_api, signed_in_admin

pytestmark = pytest.mark.timeout(600)


def _seed(server) -> None:
    """Four active VPS (one overdue), an open critical ticket and one blocked IP (three
    rounds failing from a probe in China while a control outside succeeds)."""
    if server.state.get("seeded"):
        return
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    with admin_api(server) as api:
        ids = {}
        for hostname, cost, ip, extra in (
            ("hk-a", "10.00", "103.1.2.3", {}),
            ("hk-b", "50.00", "103.1.2.40", {}),
            ("jp-c", "5.00", "198.51.100.3", {}),
            ("us-d", "20.00", "192.0.2.4", {"expire_date": yesterday}),
        ):
            r = api.post(
                "/api/vps",
                json={
                    "hostname": hostname,
                    "status": "active",
                    "cost_monthly": cost,
                    "ip_addresses": [{"ip": ip, "label": "china-telecom"}],
                    **extra,
                },
            )
            assert r.status_code == 200, r.text
            ids[hostname] = r.json()["id"]
        r = api.post("/api/tickets", json={"title": "hk-a blocked by CT", "priority": "critical"})
        assert r.status_code == 200, r.text
        now = datetime.now(UTC)
        checks = [
            {
                "vps_id": ids["hk-a"],
                "ip": "103.1.2.3",
                "check_type": "tcp",
                "source": source,
                "success": source == "us",
                "latency_ms": 30 if source == "us" else None,
                "checked_at": (now - timedelta(minutes=m)).isoformat(),
            }
            for m in (3, 2, 1)
            for source in ("cn-ct", "us")
        ]
        r = api.post("/api/ip-checks/batch", json={"checks": checks})
        assert r.status_code == 200 and r.json()["inserted"] == 6, r.text
    server.state["seeded"] = True


def _hostnames(page) -> list[str]:
    rows = page.locator("#vps-table tbody tr[data-hostname]")
    return [rows.nth(i).get_attribute("data-hostname") for i in range(rows.count())]


def test_sort_by_header_and_search_by_ip(open_browser, server):
    w = signed_in_admin(open_browser, server, viewport={"width": 1280, "height": 800})
    _seed(server)
    page = w.page
    page.goto("/vps?status=active")
    page.click("#vps-table th a[data-sort=cost]")
    page.wait_for_url(re.compile(r"sort=cost&dir=desc"))
    assert "status=active" in page.url  # the filter is kept
    assert _hostnames(page) == ["hk-b", "us-d", "hk-a", "jp-c"]
    cost = page.locator("#vps-table th", has=page.locator("a[data-sort=cost]"))
    assert cost.get_attribute("aria-sort") == "descending"
    page.click("#vps-table th a[data-sort=cost]")
    page.wait_for_url(re.compile(r"sort=cost&dir=asc"))
    assert _hostnames(page) == ["jp-c", "hk-a", "us-d", "hk-b"]
    assert cost.get_attribute("aria-sort") == "ascending"
    # the row's actions are in view at 1280 px, not cut off by the table's scroll
    menu = page.locator("#vps-table tbody tr").first.locator(".row-menu summary")
    box = menu.bounding_box()
    assert box and box["x"] + box["width"] <= 1280, box
    w.screenshot("sorted")
    # an IP address in the search box finds the VPS that holds it; the sort stays
    page.fill("#f-search", "103.1.2.3")
    page.press("#f-search", "Enter")
    page.wait_for_url(re.compile(r"search=103\.1\.2\.3"))
    assert "sort=cost" in page.url
    assert _hostnames(page) == ["hk-a"]
    page.fill("#f-search", "103.1.2")
    page.press("#f-search", "Enter")
    page.wait_for_url(re.compile(r"search=103\.1\.2(&|$)"))
    assert sorted(_hostnames(page)) == ["hk-a", "hk-b"]
    # the page size is a choice kept in the address
    page.select_option("#f-per-page", "50")
    page.wait_for_url(re.compile(r"per_page=50"))
    w.screenshot("ip-search")


def test_dashboard_strip_links_to_filtered_lists(open_browser, server):
    from playwright.sync_api import expect  # after the browser fixture checked it is there

    w = signed_in_admin(open_browser, server)
    _seed(server)
    page = w.page
    page.goto("/")
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    strip = page.locator("#attention")

    def count(kind: str) -> str:
        return strip.locator(f"[data-attention={kind}] .attention-count").inner_text()

    assert count("overdue") == "1" and count("blocked") == "1"
    assert count("tickets-critical") == "1" and count("degraded") == "0"
    w.screenshot()
    strip.locator("[data-attention=overdue]").click()
    page.wait_for_url(re.compile(r"/vps\?expiry=overdue$"))
    assert _hostnames(page) == ["us-d"]
    assert "Overdue" in page.locator("#vps-table tbody tr").first.inner_text()
    page.go_back()
    strip.locator("[data-attention=blocked]").click()
    page.wait_for_url(re.compile(r"/reachability\?verdict=blocked$"))
    rows = page.locator("#reach-table tbody tr")
    assert rows.count() == 1 and "hk-a" in rows.first.inner_text()
    assert "blocked" in rows.first.inner_text()
    page.go_back()
    strip.locator("[data-attention=tickets-critical]").click()
    page.wait_for_url(re.compile(r"/tickets\?status=open&priority=critical$"))
    assert "hk-a blocked by CT" in page.inner_text("main")
    # the counts update in place (the page polls /attention.json every minute)
    page.goto("/")
    with admin_api(server) as api:
        r = api.post(
            "/api/vps",
            json={
                "hostname": "sg-e",
                "status": "active",
                "expire_date": (date.today() - timedelta(days=3)).isoformat(),
            },
        )
        assert r.status_code == 200, r.text
    assert count("overdue") == "1"
    page.evaluate("document.querySelector('[data-attention-url]').sigmaPoll()")
    expect(strip.locator("[data-attention=overdue] .attention-count")).to_have_text("2")
    server.state["overdue"] = 2


def test_bulk_select_two_and_retire(open_browser, server):
    w = signed_in_admin(open_browser, server)
    _seed(server)
    page = w.page
    page.goto("/vps?sort=hostname")
    counter = page.locator("#bulk-count")
    # "select all on this page" ticks every row, and back
    page.check("#select-page")
    assert page.locator("input[data-row-select]:checked").count() == len(_hostnames(page))
    page.uncheck("#select-page")
    assert page.locator("input[data-row-select]:checked").count() == 0
    page.check("input[aria-label='Select hk-a']")
    page.check("input[aria-label='Select jp-c']")
    assert counter.inner_text() == "2 VPS selected:"
    assert page.locator("#select-page").evaluate("e => e.indeterminate")
    w.screenshot("selected")
    w.accept_dialogs = 1
    page.click("#bulk-retire")
    page.wait_for_url(re.compile(r"flash=bulk-retired"))
    assert w.dialogs[-1] == "Retire the selected VPS?"
    assert "sort=hostname" in page.url  # back to the same list
    assert "2 of 2 selected VPS retired." in page.inner_text(".flash")
    for hostname, status in (("hk-a", "retired"), ("hk-b", "active"), ("jp-c", "retired")):
        row = page.locator(f"#vps-table tbody tr[data-hostname={hostname}]")
        assert status in row.inner_text(), hostname
    # a retired VPS's expiry is no longer a warning
    assert page.locator("#vps-table tr[data-hostname=hk-a] .expiry-overdue").count() == 0
    w.screenshot()
