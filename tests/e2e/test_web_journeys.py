"""Operator journeys through the web UI in real headless Chromium, in file order against one
server: first login with the forced password change, MFA, a provider, a VPS with an IPv4 and
an IPv6 address, filtering by tag, retiring, a ticket with a comment, the audit log, the
readonly role (no edit controls, forged POSTs refused), escaping, phone width and no-JS use.
"""

from __future__ import annotations

import re
import time

import pytest

# the journeys share one server and run in file order: one xdist worker takes them all
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("e2e-journeys")]

NEW_PASSWORD = "e2e-admin-pass-2026"
XSS = "<script>alert(1)</script>"


def _login(w, email: str, password: str) -> None:
    page = w.page
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")


def _admin(open_browser, server, name=None, **kw):
    assert "admin" in server.state, "the first-login journey must run first"
    return open_browser(name, storage_state=server.state["admin"], **kw)


def test_first_login_forced_password_change(open_browser, server):
    w = open_browser()
    page = w.page
    page.goto("/vps")
    assert page.url.endswith("/login?next=%2Fvps")
    page.fill("#email", server.admin_email)
    page.fill("#password", "wrong-password")
    page.click("#login-form button[type=submit]")
    assert page.locator(".alert").inner_text() == "Invalid email or password"
    page.fill("#password", server.one_time_password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/change-password")
    assert "You must change your password before continuing." in page.inner_text("main")
    # any other page sends the user back here
    page.goto("/")
    assert page.url.endswith("/change-password")
    w.screenshot("forced")
    page.fill("#current_password", server.one_time_password)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#confirm_password", NEW_PASSWORD)
    page.click("#password-form button[type=submit]")
    page.wait_for_url(re.compile(r"/\?flash=password-changed$"))
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.inner_text("#stat-total") == "0"
    cookie = next(c for c in w.context.cookies() if c["name"] == "sigma_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    w.screenshot()
    server.state["admin"] = w.context.storage_state()
    server.state["password"] = NEW_PASSWORD


def test_mfa_enrol_logout_and_login_with_code(open_browser, server):
    import pyotp

    w = _admin(open_browser, server)
    page = w.page
    page.goto("/settings")
    page.click("#enable-mfa")
    assert page.locator("#mfa-qr img").count() == 1
    assert page.locator("#mfa-qr img").evaluate("i => i.complete && i.naturalWidth > 0")
    secret = page.inner_text("#mfa-secret").strip()
    w.screenshot("qr")
    totp = pyotp.TOTP(secret)
    page.fill("#f-verify-code", "000000" if totp.now() != "000000" else "111111")
    page.click("#verify-enable")
    assert "Invalid code. Please try again." in page.inner_text("#mfa")
    page.fill("#f-verify-code", totp.now())
    page.click("#verify-enable")
    page.wait_for_url(re.compile(r"flash=mfa-enabled"))
    assert "Two-factor authentication enabled." in page.inner_text(".flash")
    w.screenshot("enabled")
    page.click(".signout")
    page.wait_for_url("**/login")
    assert not [c for c in w.context.cookies() if c["name"] == "sigma_session"]
    page.goto("/")
    assert "/login" in page.url
    _login(w, server.admin_email, server.state["password"])
    page.wait_for_selector("#totp-form")
    assert page.locator("#verify-button").is_disabled()
    # the code used to enrol may not be replayed: take the next time step's code
    page.fill("#code", totp.at(time.time() + 30))
    assert page.locator("#verify-button").is_enabled()
    w.screenshot("totp-step")
    page.click("#verify-button")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("h1").inner_text() == "Dashboard"
    server.state["admin"] = w.context.storage_state()
    server.state["totp"] = secret


def test_create_provider(open_browser, server):
    w = _admin(open_browser, server)
    page = w.page
    page.goto("/providers")
    page.click("#add-provider")
    page.fill("#f-name", "DMIT")
    page.fill("#f-country", "US")
    page.fill("#f-rating", "9")
    page.fill("#f-website", "https://dmit.example")
    page.check("input[name=api_supported]")
    page.click("#save-provider")
    # the server's validation message next to the field
    assert "less than or equal to 5" in page.inner_text("#err-rating")
    page.fill("#f-rating", "4")
    page.click("#save-provider")
    page.wait_for_url(re.compile(r"/providers\?flash=provider-saved"))
    row = page.locator("#provider-table tbody tr", has_text="DMIT")
    assert "4/5" in row.inner_text() and "Yes" in row.inner_text()
    w.screenshot()


def test_create_vps_with_ipv4_and_ipv6(open_browser, server):
    w = _admin(open_browser, server)
    page = w.page
    page.goto("/vps")
    page.click("#add-vps")
    page.wait_for_url("**/vps/new")
    page.fill("#f-hostname", "hk-exit-01")
    page.fill("#f-alias", "Hong Kong exit")
    page.select_option("#f-provider_id", label="DMIT")
    page.select_option("#f-status", "active")
    # pasting a list splits it into rows
    first = page.locator("#ip-rows .ip-row input").first
    first.focus()
    page.evaluate("""() => {
        const input = document.querySelector('#ip-rows .ip-row input');
        const data = new DataTransfer();
        data.setData('text/plain', '999.1.2.3, 2001:db8::10');
        input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
    }""")  # noqa: E501 (one line of JavaScript)
    rows = page.locator("#ip-rows .ip-row")
    assert rows.count() == 2
    assert rows.nth(1).locator("input").input_value() == "2001:db8::10"
    rows.nth(0).locator("select").select_option("china-telecom")
    rows.nth(1).locator("select").select_option("overseas")
    page.select_option("#f-country", "HK")
    page.fill("#f-cost_monthly", "15.99")
    page.fill("#f-expire_date", "2030-01-31")
    page.fill("#f-tags", "cn-optimized e2e")
    page.check("input[name=project][value='p:airport']")
    page.click("#save-vps")
    # the server refuses the bad IPv4 and says so next to its row, keeping what was typed
    assert "invalid IP address '999.1.2.3'" in page.inner_text("#err-ip_addresses-0-ip")
    assert page.locator("#f-hostname").input_value() == "hk-exit-01"
    w.screenshot("validation")
    page.locator("#ip-rows .ip-row input").first.fill("203.0.113.10")
    page.click("#save-vps")
    page.wait_for_url(re.compile(r"/vps/[0-9a-f-]{36}\?flash=vps-created"))
    ips = page.inner_text("#vps-ips")
    assert "203.0.113.10" in ips and "CT" in ips and "2001:db8::10" in ips and "OS" in ips
    assert "DMIT" in page.inner_text("main") and "airport" in page.inner_text("main")
    server.state["vps_url"] = page.url.split("?")[0]
    w.screenshot()
    # a second VPS without the tag, through the plain form
    page.goto("/vps/new")
    page.fill("#f-hostname", "jp-relay-02")
    page.locator("#ip-rows .ip-row input").first.fill("198.51.100.7")
    page.press("#ip-rows .ip-row input >> nth=0", "Enter")  # Enter adds a row instead of submitting
    assert page.locator("#ip-rows .ip-row").count() == 2
    page.fill("#f-tags", "backup")
    page.click("#save-vps")
    page.wait_for_url(re.compile(r"flash=vps-created"))


def test_filter_by_tag_and_retire(open_browser, server):
    w = _admin(open_browser, server)
    page = w.page
    page.goto("/vps")
    assert page.locator("#vps-table tbody tr").count() == 2
    page.fill("#f-tag", "cn-optimized")
    page.press("#f-tag", "Enter")
    page.wait_for_url(re.compile(r"tag=cn-optimized"))
    rows = page.locator("#vps-table tbody tr")
    assert rows.count() == 1 and "hk-exit-01" in rows.first.inner_text()
    row_text = rows.first.inner_text()
    assert "CT" in row_text and "OS" in row_text and "airport" in row_text
    w.screenshot("filtered")
    # cancelling the confirmation changes nothing (row actions are in the row's menu)
    rows.first.locator(".row-menu summary").click()
    rows.first.locator("button", has_text="Retire").click()
    assert w.dialogs[-1] == "Retire hk-exit-01?"
    assert "active" in rows.first.inner_text()
    w.accept_dialogs = 1
    rows.first.locator("button", has_text="Retire").click()
    page.wait_for_url(re.compile(r"flash=vps-retired"))
    assert "tag=cn-optimized" in page.url  # back to the same filtered list
    row = page.locator("#vps-table tbody tr").first
    assert "retired" in row.inner_text() and "Retired " in row.inner_text()
    assert row.locator("button", has_text="Retire").count() == 0
    w.screenshot()


def test_ticket_linked_comment_resolve(open_browser, server):
    w = _admin(open_browser, server)
    page = w.page
    page.goto("/tickets")
    page.click("#new-ticket")
    page.fill("#f-title", "CT route to hk-exit-01 blocked")
    page.fill("#f-description", "100% loss from Shanghai CT since 08:00.")
    page.select_option("#f-priority", "high")
    page.fill("#f-vps_id", "hk-exit")  # the picker suggests; the server resolves the name
    page.locator("#vps-options option").first.wait_for(state="attached")
    page.fill("#f-vps_id", "hk-exit-01")
    page.select_option("#f-provider_id", label="DMIT")
    page.click("#save-ticket")
    page.wait_for_url(re.compile(r"/tickets/[0-9a-f-]{36}\?flash=ticket-saved"))
    assert "open" in page.inner_text("h1") and "high" in page.inner_text("h1")
    assert page.locator("a", has_text="hk-exit-01").count() >= 1
    server.state["ticket_url"] = page.url.split("?")[0]
    page.click("#add-comment")  # empty: the browser's required check stops it
    page.fill("#f-body", "Asked DMIT support to check the route.")
    page.click("#add-comment")
    page.wait_for_url(re.compile(r"flash=comment-added"))
    assert "Asked DMIT support to check the route." in page.inner_text("#comments")
    assert server.admin_email in page.inner_text("#comments")
    page.click("#action-in-progress")
    page.wait_for_url(re.compile(r"flash=ticket-status"))
    assert "in-progress" in page.inner_text("h1")
    assert page.locator("#action-in-progress").count() == 0
    page.click("#action-resolved")
    page.wait_for_url(re.compile(r"flash=ticket-status"))
    assert "resolved" in page.inner_text("h1")
    assert page.locator("#action-open").count() == 1  # reopen offered
    w.screenshot()
    # the VPS page lists the ticket
    page.goto(server.state["vps_url"])
    assert "CT route to hk-exit-01 blocked" in page.inner_text("main")


def test_audit_log_shows_each_step(open_browser, server):
    w = _admin(open_browser, server)
    page = w.page
    page.goto("/audit-log")
    text = page.inner_text("#audit-log")
    for action in (
        "login",
        "change-password",
        "totp-enable",
        "create",
        "retire",
        "comment",
        "update",
    ):
        assert action in text, action
    page.select_option("#f-resource", "ticket")  # a select change applies the filter
    page.wait_for_url(re.compile(r"resource=ticket"))
    rows = page.locator("#audit-log tbody tr")
    actions = [rows.nth(i).locator(".badge").inner_text() for i in range(rows.count())]
    assert actions == ["update", "update", "comment", "create"]
    details = rows.first.locator("details")
    details.locator("summary").click()
    assert '"to": "resolved"' in details.locator("pre").inner_text()
    page.goto("/audit-log?resource=vps")
    assert "retire" in page.inner_text("#audit-log") and "hk-exit-01" in page.inner_text(
        "#audit-log"
    )
    page.goto("/audit-log?resource=provider")
    assert "DMIT" in page.inner_text("#audit-log")
    w.screenshot()
    # the VPS page shows that VPS's history
    page.goto(server.state["vps_url"])
    assert "retire" in page.inner_text("main")


def test_readonly_sees_no_edit_controls_and_forged_posts_fail(open_browser, server):
    admin = _admin(open_browser, server, "readonly-setup")
    page = admin.page
    page.goto("/users")
    page.click("#add-user")
    page.fill("#f-email", "viewer@example.com")
    page.fill("#f-name", "Viewer")
    page.select_option("#f-role", "readonly")
    page.fill("#f-password", "viewer-pass-123")
    page.uncheck("input[name=force_password_change]")
    page.click("#save-user")
    page.wait_for_url(re.compile(r"flash=user-saved"))
    assert "viewer@example.com" in page.inner_text("#user-table")

    w = open_browser()
    ro = w.page
    _login(w, "viewer@example.com", "viewer-pass-123")
    ro.wait_for_url(re.compile(r"/$"))
    nav = ro.inner_text("nav")
    assert "Users" not in nav and "Audit Log" not in nav
    ro.goto("/vps")
    assert ro.locator("#vps-table tbody tr").count() == 2
    assert ro.locator("#add-vps").count() == 0
    assert ro.locator("#vps-table .actions-col").count() == 0
    assert ro.locator("button", has_text="Retire").count() == 0
    w.screenshot("vps")
    ro.goto(server.state["vps_url"])
    assert (
        ro.locator("#edit-vps").count() == 0
        and ro.locator("button", has_text="Delete").count() == 0
    )
    ro.goto(server.state["ticket_url"])
    assert ro.locator("#comment-form").count() == 0 and ro.locator("#action-open").count() == 0
    ro.goto("/tickets")
    assert ro.locator("#new-ticket").count() == 0
    ro.goto("/providers")
    assert ro.locator("#add-provider").count() == 0
    w.screenshot()
    # the pages are not the only guard: the server refuses the actions
    token = ro.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = ro.request.post(
        "/vps/new", form={"csrf_token": token, "hostname": "forged-01"}, max_redirects=0
    )
    assert forged.status == 403, forged.status
    vps_id = server.state["vps_url"].rsplit("/", 1)[1]
    for path, form in (
        (f"/vps/{vps_id}/delete", {"confirmed": "yes"}),
        (server.state["ticket_url"].replace(server.url, "") + "/status", {"status": "closed"}),
        ("/providers/new", {"name": "Forged"}),
        ("/users/new", {"email": "evil@example.com", "password": "x" * 12, "role": "admin"}),
    ):
        r = ro.request.post(path, form={"csrf_token": token, **form}, max_redirects=0)
        assert r.status == 403, (path, r.status)
    assert ro.request.get("/vps/new", max_redirects=0).status == 403
    assert ro.request.get("/audit-log", max_redirects=0).status == 403
    # and a POST without the CSRF token is refused even for the admin
    r = page.request.post("/providers/new", form={"name": "No-CSRF"}, max_redirects=0)
    assert r.status == 403
    page.goto("/vps")
    assert "forged-01" not in page.inner_text("#vps-table")
    page.goto("/providers")
    assert "Forged" not in page.inner_text("main") and "No-CSRF" not in page.inner_text("main")
    page.goto(server.state["ticket_url"])
    assert "resolved" in page.inner_text("h1")


def test_script_hostname_is_shown_as_text(open_browser, server):
    w = _admin(open_browser, server)
    page = w.page
    page.goto("/vps/new")
    # a host name is a host name (RFC 1123): the form says so and keeps what was typed
    page.fill("#f-hostname", XSS)
    page.click("#save-vps")
    assert "not a valid host name" in page.inner_text("main")
    page.fill("#f-hostname", "xss-01")
    page.fill("#f-alias", XSS)
    page.fill("#f-city", '"><img src=x onerror=alert(2)>')
    page.fill("#f-notes", "<b>not bold</b>")
    page.click("#save-vps")
    page.wait_for_url(re.compile(r"flash=vps-created"))
    assert XSS in page.inner_text("main")
    assert page.locator("main img").count() == 0 and page.locator("main b").count() == 0
    page.goto("/vps?search=script")
    assert XSS in page.locator("#vps-table tbody tr").inner_text()
    page.goto("/")
    page.goto("/audit-log?resource=vps")
    assert "xss-01" in page.inner_text("#audit-log")
    assert w.dialogs == [], w.dialogs  # no alert() ran anywhere
    w.screenshot()


def test_dashboard_and_list_at_phone_width(open_browser, server):
    w = _admin(open_browser, server, viewport={"width": 390, "height": 844})
    page = w.page
    page.goto("/")
    assert page.inner_text("#stat-total") == "3"
    assert page.locator("svg.chart").count() == 3
    assert page.locator("meta[http-equiv=refresh]").count() == 0  # the counts update in place
    # nothing wider than the screen except inside the scrollable table wrappers
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, overflow
    w.screenshot("dashboard")
    page.goto("/vps")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, overflow
    w.screenshot("vps")
    page.goto("/vps/new")
    w.screenshot("form")


def test_reading_and_plain_forms_work_without_javascript(open_browser, server):
    w = _admin(open_browser, server, javascript=False)
    page = w.page
    page.goto("/vps?tag=backup")
    row = page.locator("#vps-table tbody tr")
    assert row.count() == 1 and "jp-relay-02" in row.inner_text()
    row.locator(".row-menu summary").click()  # a <details> menu opens without JavaScript too
    row.locator("button", has_text="Retire").click()
    # no confirm() without JavaScript: the server asks on a page of its own
    assert page.locator("h1").inner_text() == "Retire jp-relay-02?"
    w.screenshot("confirm")
    page.click("button:has-text('Retire')")
    page.wait_for_url(re.compile(r"flash=vps-retired"))
    assert "retired" in page.locator("#vps-table tbody tr").inner_text()
    page.goto(server.state["ticket_url"])
    page.fill("#f-body", "Checked without JavaScript.")
    page.click("#add-comment")
    page.wait_for_url(re.compile(r"flash=comment-added"))
    assert "Checked without JavaScript." in page.inner_text("#comments")
    # the IP rows are plain inputs: one blank row is always there to type into
    page.goto("/vps/new")
    assert page.locator("#ip-rows .ip-row input").count() == 1
    w.screenshot()


def test_costs_and_reachability_pages(open_browser, server):
    w = _admin(open_browser, server)
    page = w.page
    page.goto("/vps/new")
    page.fill("#f-hostname", "sg-exit-03")
    page.select_option("#f-status", "active")
    page.locator("#ip-rows .ip-row input").first.fill("192.0.2.33")
    page.fill("#f-cost_monthly", "7.50")
    page.fill("#f-currency", "EUR")
    page.click("#save-vps")
    page.wait_for_url(re.compile(r"flash=vps-created"))
    page.click("nav >> text=Costs")
    page.wait_for_url("**/costs")
    assert "7.50" in page.inner_text("main") and "EUR" in page.inner_text("main")
    # the base currency (USD by default) without a stored rate: the page names the pair
    assert page.locator(".alert").count() == 1 and "EUR -> USD" in page.inner_text(".alert")
    page.select_option("#f-by", "country")
    page.wait_for_url(re.compile(r"by=country"))
    page.select_option("#f-convert", "EUR")
    page.wait_for_url(re.compile(r"convert_to=EUR"))
    assert page.locator(".alert").count() == 0 and "7.50" in page.inner_text("#total-converted")
    # an exchange rate added from the page (post/redirect/get), then the report in USD
    page.fill("#f-from_currency", "EUR")
    page.fill("#f-to_currency", "USD")
    page.fill("#f-rate", "1.085")
    page.click("#save-rate")
    page.wait_for_url(re.compile(r"flash=rate-saved"))
    assert "1.085000" in page.inner_text("#rates-table")
    # back to the base currency, USD, which now converts: 7.50 x 1.085 = 8.1375
    assert "8.14" in page.inner_text("#total-converted")
    w.screenshot("costs")
    page.click("nav >> text=Reachability")
    page.wait_for_url("**/reachability")
    assert "IP Reachability" in page.inner_text("h1")
    w.screenshot("reachability")
