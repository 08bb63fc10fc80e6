"""Issue 18 in real headless Chromium against a `sigma serve` of its own: the dashboard opens
with the attention list, worst first; acknowledging an item from its row takes it off the
list; shown with the acknowledged ones, it can be reopened; snoozing works the same way."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from e2e_admin import admin_api, signed_in_admin

pytestmark = pytest.mark.timeout(600)


def _seed(server) -> dict[str, str]:
    if "ids" in server.state:
        return server.state["ids"]
    late = (date.today() - timedelta(days=2)).isoformat()
    ids = {}
    with admin_api(server) as api:
        for hostname, extra in (
            ("late-1", {"expire_date": late, "cost_monthly": "5.00"}),
            ("bare-1", {}),
        ):
            r = api.post(
                "/api/vps",
                json={
                    "hostname": hostname,
                    "status": "active",
                    "ip_addresses": [{"ip": "192.0.2.7"}] if extra else [],
                    **extra,
                },
            )
            assert r.status_code == 200, r.text
            ids[hostname] = r.json()["id"]
        r = api.post("/api/tickets", json={"title": "exit <b>down</b>", "priority": "high"})
        assert r.status_code == 200, r.text
        ids["ticket"] = r.json()["id"]
    server.state["ids"] = ids
    return ids


def test_acknowledge_and_reopen_from_the_dashboard(open_browser, server):
    from playwright.sync_api import expect

    w = signed_in_admin(open_browser, server)
    ids = _seed(server)
    page = w.page
    page.goto("/")
    items = page.locator("#attention-items tbody tr")
    expect(items).to_have_count(3)
    # worst first: the overdue VPS (critical), the high ticket (warning), the missing data
    assert [items.nth(i).get_attribute("data-kind") for i in range(3)] == [
        "overdue",
        "ticket",
        "missing-data",
    ]
    assert "exit <b>down</b>" in items.nth(1).inner_text()  # shown as text, not markup
    w.screenshot("list")
    late = f"overdue:vps:{ids['late-1']}"
    row = page.locator(f'#attention-items tr[data-key="{late}"]')
    row.get_by_role("button", name=re.compile("^Acknowledge")).click()
    page.wait_for_url(re.compile(r"flash=attention-acked"))
    expect(page.locator(".flash")).to_contain_text("Item acknowledged")
    expect(items).to_have_count(2)
    assert page.locator(f'#attention-items tr[data-key="{late}"]').count() == 0
    page.get_by_role("link", name="Show acknowledged and snoozed").click()
    row = page.locator(f'#attention-items tr[data-key="{late}"]')
    expect(row).to_have_attribute("data-state", "acknowledged")
    row.get_by_role("button", name=re.compile("^Reopen")).click()
    page.wait_for_url(re.compile(r"flash=attention-reopened"))
    expect(page.locator(f'#attention-items tr[data-key="{late}"]')).to_have_attribute(
        "data-state", "open"
    )
    # snooze the ticket for 4 hours
    page.goto("/")
    row = page.locator(f'#attention-items tr[data-key="ticket:ticket:{ids["ticket"]}"]')
    row.get_by_label("Snooze for").select_option("4h")
    row.get_by_role("button", name=re.compile("^Snooze")).click()
    page.wait_for_url(re.compile(r"flash=attention-snoozed"))
    expect(items).to_have_count(2)
    w.screenshot("snoozed")
