"""The VPS timeline and the lifecycle actions in real headless Chromium, against a `sigma
serve` of their own: an edit and a retirement show up on the VPS page's timeline, newest
first; Renew moves the expiry by one cycle and says so on the timeline; Replace, from the
VPS page through the picker, moves the old VPS to retiring and links both timelines."""

from __future__ import annotations

from datetime import date

import pytest
from e2e_admin import admin_api, signed_in_admin

pytestmark = pytest.mark.timeout(600)


def _vps(api, hostname: str, **fields) -> dict:
    r = api.post("/api/vps", json={"hostname": hostname, "status": "active", **fields})
    assert r.status_code == 200, r.text
    return r.json()


def test_timeline_renew_and_replace(open_browser, server):
    w = signed_in_admin(open_browser, server, viewport={"width": 1280, "height": 800})
    page = w.page
    with admin_api(server) as api:
        old = _vps(
            api,
            "tl-old",
            expire_date="2027-01-31",
            cost_monthly="12.00",
            purpose="vpn-exit",
            tags=["cn-optimized"],
        )
        new = _vps(api, "tl-new")
        assert api.put(f"/api/vps/{old['id']}", json={"notes": "moved rack"}).status_code == 200

    page.goto(f"/vps/{old['id']}")
    events = page.locator("#timeline-events li")
    kinds = [events.nth(i).locator("strong").inner_text() for i in range(events.count())]
    assert kinds[-1] == "created" and "updated" in kinds, kinds  # newest first

    # Renew: one monthly cycle, clamped to the month's end
    w.accept_dialogs = 1
    page.locator("form[action$='/renew'] button").click()
    page.wait_for_url(f"**/vps/{old['id']}?flash=vps-renewed")
    assert "2027-02-28" in page.inner_text("body")
    assert page.locator("#timeline-events li strong").first.inner_text() == "renewed"

    # Replace through the picker: the new VPS inherits purpose and tags, the old one retires
    page.click("#replace-vps")
    page.fill("#f-with", "tl-n")
    page.locator("#vps-options option").first.wait_for(state="attached")
    page.fill("#f-with", "tl-new")
    page.click("#replace-form button[type=submit]")
    page.wait_for_url(f"**/vps/{new['id']}?flash=vps-replaced")
    assert page.locator("#timeline-events li strong").first.inner_text() == "replaces"
    with admin_api(server) as api:
        got_old = api.get(f"/api/vps/{old['id']}").json()
        got_new = api.get(f"/api/vps/{new['id']}").json()
    assert got_old["status"] == "retiring"
    assert got_new["purpose"] == "vpn-exit" and "cn-optimized" in got_new["tags"]
    page.goto(f"/vps/{old['id']}")
    assert page.locator("#timeline-events li strong").first.inner_text() == "replaced"
    assert date.today().isoformat()[:4] in page.locator("#timeline-events time").first.inner_text()
    w.screenshot("timeline")
