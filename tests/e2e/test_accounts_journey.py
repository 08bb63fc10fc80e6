"""Issue 19 in real headless Chromium against a `sigma serve` of its own: an admin adds a
Hetzner Cloud account on /accounts, pointed at a loopback stand-in of the API in this test's
process, clicks Sync now, reads the report, and finds the new VPS on /vps. The account's
token is on no page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from e2e_admin import signed_in_admin
from tests.accounts.fakes import HetznerFake
from tests.accounts.fakes import server as hetzner_server
from tests.cloud.fakeapi import FakeApi

pytestmark = pytest.mark.timeout(600)

TOKEN = "hz-E2e-Tok3n-5f4e3d2c1b"


@pytest.fixture
def hetzner() -> Iterator[HetznerFake]:
    api = FakeApi().start()
    try:
        fake = HetznerFake(api)
        fake.servers[TOKEN] = [hetzner_server(4242, "hz-e2e-1.example.com", "203.0.113.77")]
        yield fake
    finally:
        api.stop()


def test_add_an_account_sync_it_and_see_the_vps(open_browser, server, hetzner):
    from playwright.sync_api import expect

    w = signed_in_admin(open_browser, server)
    page = w.page
    page.goto("/")
    page.locator("nav[aria-label=Main] a", has_text="Accounts").click()
    page.wait_for_url("**/accounts")
    expect(page.locator("#account-table")).to_contain_text("No accounts yet.")

    page.select_option("#f-kind", "hetzner")
    page.fill("#f-name", "Hetzner e2e")
    page.fill("#f-api_base", hetzner.url)
    page.fill("#f-token", TOKEN)
    page.click("#save-account")
    page.wait_for_url(re.compile(r"/accounts/[0-9a-f-]{36}\?flash=account-saved$"))
    expect(page.locator(".flash")).to_contain_text("Account saved.")
    expect(page.locator("#account-credentials")).to_contain_text("token")
    assert TOKEN not in page.content()
    w.screenshot("added")

    page.locator(".head-actions button[data-action=sync]").click()
    expect(page.locator("#sync-report h2")).to_have_text("Sync report")
    expect(page.locator("#sync-counts [data-count=created]")).to_have_text("1")
    assert page.locator("#sync-error").count() == 0
    expect(page.locator("#instance-table")).to_contain_text("hz-e2e-1.example.com")
    assert TOKEN not in page.content()
    assert [r.headers.get("authorization") for r in hetzner.api.requests] == [f"Bearer {TOKEN}"]
    w.screenshot("synced")

    page.locator("#instance-table a", has_text="hz-e2e-1.example.com").click()
    page.wait_for_url(re.compile(r"/vps/[0-9a-f-]{36}$"))
    expect(page.locator("#vps-ips")).to_contain_text("203.0.113.77")
    page.goto("/vps")
    row = page.locator("#vps-table tbody tr", has_text="hz-e2e-1.example.com")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("active")
    page.goto("/accounts")
    listing = page.locator("#account-table tbody tr", has_text="Hetzner e2e")
    expect(listing.locator(".badge")).to_have_text("ok")
    assert TOKEN not in page.content()
    w.screenshot("vps")
