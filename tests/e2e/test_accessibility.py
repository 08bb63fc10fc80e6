"""Look and accessibility of the web UI in real headless Chromium, against one seeded server:
axe-core on every page at 1280x800 and 390x844, in the light and the dark scheme (no
violation of impact serious or critical), no horizontal page scroll, the skip link first in
the tab order, the phone menu, form errors tied to their fields, gzip and the static files'
cache headers.

axe-core comes from the npm registry, installed at test time into a cache directory outside
the repository (SIGMA_TEST_NPM_CACHE, default <tmp>/sigma-e2e-npm); without npm the module is
skipped, or fails under CI=true, like the other browser requirements (conftest._need)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(900), pytest.mark.xdist_group("e2e-accessibility")]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NPM_CACHE = Path(
    os.environ.get("SIGMA_TEST_NPM_CACHE", Path(tempfile.gettempdir()) / "sigma-e2e-npm")
)
AXE_SPEC = "axe-core@4"
PASSWORD = "a11y-admin-pass-2026"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"1280x800": DESKTOP, "390x844": PHONE}
SCHEMES = ("light", "dark")
BLOCKING = ("serious", "critical")
# the admin's navigation: Dashboard, VPS, Providers, Tickets, Costs, Reachability, Users,
# Audit Log, Settings
NAV_ENTRIES = 11
NOTES = (
    "Rebooted after the kernel update. The CN2 GIA route from Shanghai Telecom is back to "
    "38 ms; Unicom still goes through Los Angeles in the evening (ticket open with the "
    "provider). Backups run nightly to the object store, retention 14 days; the WireGuard "
    "keys were rotated in March. Do not resize the disk without a snapshot first: the "
    "provider's panel loses the rescue image."
)


def _need(condition: bool, reason: str) -> None:
    """As conftest._need: a missing requirement skips, and fails under CI=true."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required for the browser tests under CI=true: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe.min.js from the npm cache directory, installed there when missing."""
    script = Path("node_modules") / "axe-core" / "axe.min.js"
    if (NPM_CACHE / script).exists():
        return (NPM_CACHE / script).read_text(encoding="utf-8")
    npm = shutil.which("npm")
    _need(npm is not None, "npm not installed (it installs axe-core)")
    # into a directory of our own, then renamed into place: parallel workers never see half
    NPM_CACHE.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="sigma-e2e-npm-", dir=NPM_CACHE.parent))
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund", "--no-save",
             "--loglevel=error", AXE_SPEC],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        _need(done.returncode == 0, f"npm install {AXE_SPEC} failed: {done.stderr[-2000:]}")
        source = (staging / script).read_text(encoding="utf-8")
        if not NPM_CACHE.exists():
            with contextlib.suppress(OSError):  # another worker was first: keep its copy
                staging.rename(NPM_CACHE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return source


# ------------------------------------------------------------------ a seeded server


@pytest.fixture(scope="module")
def site(server, browser) -> dict:
    """The first admin with a password of its own, a fleet with every status and carrier
    label, tickets of every priority, probe results, an API key and a second user; the
    admin's browser session (storage state) and the ids of what the pages show."""
    import httpx

    api = httpx.Client(base_url=server.url, timeout=30)

    def post(path: str, body: dict, token: str | None = None, method: str = "POST") -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = api.request(method, path, json=body, headers=headers)
        assert r.status_code in (200, 201), (path, r.status_code, r.text)
        return r.json()

    first = post(
        "/api/auth/login", {"email": server.admin_email, "password": server.one_time_password}
    )["token"]
    post(
        "/api/auth/change-password",
        {"current_password": server.one_time_password, "new_password": PASSWORD},
        first,
    )
    token = post("/api/auth/login", {"email": server.admin_email, "password": PASSWORD})["token"]
    provider = post(
        "/api/providers",
        {"name": "DMIT", "country": "US", "rating": 4, "website": "https://dmit.example",
         "notes": "Premium China routes (CN2 GIA) for the Hong Kong and Los Angeles exits."},
        token,
    )  # fmt: skip
    now = datetime.now(UTC)
    soon = (date.today() + timedelta(days=3)).isoformat()
    fleet = [
        ("hk-exit-01", "active", "vpn-exit", "HK",
         [("203.0.113.10", "china-telecom"), ("2001:db8::10", "overseas")], now),
        ("edge-gateway-singapore-0042.example.net", "provisioning", "vpn-relay", "SG",
         [("198.51.100.7", "china-unicom"), ("2001:db8:ffff:1234:5678:9abc:def0:1", "anycast")],
         now - timedelta(days=2)),
        ("jp-relay-02", "retiring", "vpn-relay", "JP", [("192.0.2.33", "china-mobile")], None),
        ("de-monitor-03", "suspended", "monitor", "DE", [("192.0.2.34", "china-cernet")], None),
        ("us-old-04", "retired", "other", "US", [("10.0.0.4", "internal")], None),
    ]  # fmt: skip
    vps = []
    for hostname, status, purpose, country, ips, heartbeat in fleet:
        body = {
            "hostname": hostname,
            "alias": f"{country} {purpose}",
            "provider_id": provider["id"],
            "status": status,
            "purpose": purpose,
            "country": country,
            "city": "Central",
            "ip_addresses": [{"ip": ip, "label": label} for ip, label in ips],
            "tags": ["cn-optimized", "p:airport", "backup"],
            "cost_monthly": "15.99",
            "currency": "USD",
            "expire_date": soon,
            "notes": NOTES,
        }
        if heartbeat:
            body["extra"] = {
                "last_heartbeat": heartbeat.isoformat(),
                "system_info": {"cpu_cores": 2, "ram_mb": 2048, "disk_gb": 40},
            }
        vps.append(post("/api/vps", body, token))
    tickets = []
    for title, priority, status in (
        ("CT route to hk-exit-01 blocked", "critical", "open"),
        ("Renew the DMIT invoice", "high", "in-progress"),
        ("Move the monitor to a bigger plan", "medium", "resolved"),
        ("Tidy the tags", "low", "closed"),
    ):
        t = post(
            "/api/tickets",
            {"title": title, "description": "100% loss from Shanghai since 08:00.",
             "priority": priority, "vps_id": vps[0]["id"], "provider_id": provider["id"]},
            token,
        )  # fmt: skip
        if status != "open":
            if status in ("resolved", "closed"):
                post(f"/api/tickets/{t['id']}", {"status": "in-progress"}, token, "PUT")
            post(f"/api/tickets/{t['id']}", {"status": status}, token, "PUT")
        tickets.append(t)
    post(f"/api/tickets/{tickets[0]['id']}/comments", {"body": "Asked DMIT to look."}, token)
    checks = []
    for source, ok in (("cn-telecom-sh", False), ("cn-unicom-bj", True), ("us-west", True)):
        for ip, vps_id in (("203.0.113.10", vps[0]["id"]), ("198.51.100.7", vps[1]["id"])):
            checks.append(
                {"vps_id": vps_id, "ip": ip, "source": source, "check_type": "tcp",
                 "success": ok or ip != "203.0.113.10", "latency_ms": 42}
            )  # fmt: skip
    post("/api/ip-checks/batch", {"checks": checks}, token)
    post("/api/auth/api-keys", {"name": "backup-script", "read_only": True}, token)
    post(
        "/api/users",
        {"email": "viewer@example.com", "name": "Viewer", "role": "readonly",
         "password": "viewer-pass-123"},
        token,
    )  # fmt: skip
    api.close()

    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", server.admin_email)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    state = context.storage_state()
    context.close()
    return {"state": state, "token": token, "vps": vps, "tickets": tickets}


def _pages(site: dict) -> list[str]:
    vps_id, ticket_id = site["vps"][0]["id"], site["tickets"][0]["id"]
    return [
        "/",
        "/vps",
        f"/vps/{vps_id}",
        "/vps/new",
        f"/vps/{vps_id}/edit",
        "/providers",
        "/tickets",
        f"/tickets/{ticket_id}",
        "/tickets/new",
        "/reachability",
        "/costs",
        "/audit-log",
        "/users",
        "/settings",
        "/vps/import",
        "/accounts",
        "/dns",
    ]


def _axe(page) -> list[dict]:
    """axe-core's violations on the current page (every rule axe runs by default)."""
    return page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
            }));
        }"""
    )


def _describe(found: dict[str, list[dict]]) -> str:
    lines = []
    for where, violations in found.items():
        for v in violations:
            lines.append(f"{where}: {v['id']} ({v['impact']}) {v['help']}")
            for n in v["nodes"][:8]:
                summary = " ".join((n["summary"] or "").split())[:240]
                lines.append(f"    {n['target']}: {summary}")
            if len(v["nodes"]) > 8:
                lines.append(f"    ... {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


# ------------------------------------------------------------------ axe on every page


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_axe_on_every_page(axe_source, open_browser, site, size, scheme):
    viewport = VIEWPORTS[size]
    w = open_browser(
        f"a11y-{size}-{scheme}", storage_state=site["state"], viewport=viewport, color_scheme=scheme
    )
    anonymous = open_browser(f"a11y-login-{size}-{scheme}", viewport=viewport, color_scheme=scheme)
    found: dict[str, list[dict]] = {}
    overflows: dict[str, int] = {}
    for browser_page, path in [(w, p) for p in _pages(site)] + [(anonymous, "/login")]:
        page = browser_page.page
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response)
        assert page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches") == (
            scheme == "dark"
        )
        page.evaluate(axe_source)  # via the DevTools protocol: the page's CSP does not apply
        blocking = [v for v in _axe(page) if v["impact"] in BLOCKING]
        if blocking:
            found[path] = blocking
            browser_page.screenshot(path.strip("/").replace("/", "-") or "dashboard")
        if (extra := _overflow(page)) > 0:
            overflows[path] = extra
    assert not found, f"axe at {size}, {scheme} scheme:\n" + _describe(found)
    assert not overflows, f"wider than the {viewport['width']} px screen (px): {overflows}"


def test_axe_on_forms_showing_errors(axe_source, open_browser, site):
    """Fields in error carry aria-invalid and point at their message (aria-describedby)."""
    w = open_browser(storage_state=site["state"], viewport=DESKTOP)
    page = w.page
    found: dict[str, list[dict]] = {}
    forms = [
        ("/vps/new", {"#f-hostname": "not a host!", "#f-ssh_port": "99999"}, "#save-vps"),
        ("/providers/new", {"#f-name": "", "#f-rating": "9"}, "#save-provider"),
        ("/tickets/new", {"#f-title": "", "#f-vps_id": "no-such-vps"}, "#save-ticket"),
        ("/users/new", {"#f-email": "not-an-email", "#f-password": "short"}, "#save-user"),
    ]
    for path, fields, submit in forms:
        page.goto(path)
        for selector, value in fields.items():
            page.fill(selector, value)
        page.click(submit)
        page.wait_for_load_state()
        invalid = page.evaluate(
            """() => [...document.querySelectorAll('[aria-invalid="true"]')].map(f => ({
                id: f.id,
                described: (f.getAttribute('aria-describedby') || '').split(/\\s+/)
                    .map(id => document.getElementById(id))
                    .filter(e => e && e.classList.contains('field-error'))
                    .map(e => e.textContent.trim()),
            }))"""
        )
        messages = page.locator(".field-error").count()
        assert messages > 0, (path, page.inner_text("main"))
        assert len(invalid) == messages, (path, invalid, messages)
        assert all(f["described"] for f in invalid), (path, invalid)
        page.evaluate(axe_source)
        blocking = [v for v in _axe(page) if v["impact"] in BLOCKING]
        if blocking:
            found[path] = blocking
    assert not found, "axe on forms with errors:\n" + _describe(found)


# ------------------------------------------------------------------ layout and keyboard


def test_skip_link_is_the_first_focusable_element(open_browser, site):
    for state, path in ((site["state"], "/vps"), (None, "/login")):
        w = open_browser(f"skip-{path.strip('/')}", storage_state=state, viewport=DESKTOP)
        page = w.page
        page.goto(path)
        first = page.evaluate(
            """() => [...document.querySelectorAll(
                    'a[href], button, input, select, textarea, summary, [tabindex]')]
                .filter(e => e.tabIndex >= 0 && !e.disabled && e.type !== 'hidden'
                             && getComputedStyle(e).display !== 'none')
                .map(e => e.outerHTML)[0]"""
        )
        assert first == '<a class="skip-link" href="#main">Skip to content</a>', (path, first)
        assert page.locator("main#main").count() == 1
        if path == "/login":
            continue  # the e-mail field has autofocus: Tab starts from there
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => ({text: document.activeElement.textContent.trim(),
                       href: document.activeElement.getAttribute('href'),
                       visible: document.activeElement.getBoundingClientRect().top >= 0})"""
        )
        assert focused == {"text": "Skip to content", "href": "#main", "visible": True}, focused
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
        # the next Tab goes on from the main content, not from the top of the page
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('main')")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_phone_menu_reaches_every_nav_entry(open_browser, site, javascript):
    w = open_browser(storage_state=site["state"], viewport=PHONE, javascript=javascript)
    page = w.page
    page.goto("/vps")
    links = page.locator("nav[aria-label=Main] a")
    assert links.count() == NAV_ENTRIES

    def visible() -> list[str]:
        return [
            links.nth(i).inner_text()
            for i in range(links.count())
            if links.nth(i).is_visible()
            and (box := links.nth(i).bounding_box())
            and box["x"] >= 0
            and box["x"] + box["width"] <= PHONE["width"]
        ]

    assert visible() == [], "the navigation is collapsed on a phone"
    menu = page.get_by_text("Menu", exact=True)
    assert menu.is_visible()
    w.screenshot("closed")
    menu.click()
    assert len(visible()) == NAV_ENTRIES, visible()
    assert page.locator("button.signout").is_visible()
    assert _overflow(page) <= 0
    w.screenshot("open")
    page.locator("nav[aria-label=Main] a", has_text="Tickets").click()
    page.wait_for_url("**/tickets")
    assert visible() == [], "a new page starts with the menu closed"


def test_tables_at_1280(open_browser, site):
    """At 1280 px the VPS list scrolls inside its own wrapper if at all, every row's actions
    stay in view (a sticky column), and host names stay on one line."""
    w = open_browser(storage_state=site["state"], viewport=DESKTOP)
    page = w.page
    page.goto("/vps")
    assert _overflow(page) <= 0
    wrap = page.locator("#vps-table").locator("xpath=ancestor::div[contains(@class, 'table-wrap')]")
    assert wrap.evaluate("w => getComputedStyle(w).overflowX") == "auto"
    right = wrap.evaluate("w => w.getBoundingClientRect().right")
    rows = page.locator("#vps-table tbody tr")
    assert rows.count() == len(site["vps"])
    for i in range(rows.count()):
        box = rows.nth(i).locator("td.actions-col").bounding_box()
        assert box and box["x"] + box["width"] <= right + 0.5, (i, box, right)
    link = page.locator("#vps-table a", has_text="edge-gateway-singapore-0042.example.net")
    assert link.evaluate("a => a.getClientRects().length") == 1, "the host name wraps"
    assert link.evaluate("a => a.getBoundingClientRect().height") < 24, "the host name wraps"
    w.screenshot()


# ------------------------------------------------------------------ transport


def test_gzip_and_cache_headers(open_browser, server, site):
    import httpx

    w = open_browser(storage_state=site["state"], viewport=DESKTOP)
    page = w.page
    html = page.goto("/vps")
    assert html is not None
    version = re.search(r"/static/web/app\.css\?v=([^\"&]+)", page.content())
    assert version, "the stylesheet is linked with its version"
    gzip = {"Accept-Encoding": "gzip"}
    assert html.headers.get("content-encoding") in ("gzip", "br", "zstd"), html.headers
    for path in (
        "/vps",
        f"/static/web/app.css?v={version.group(1)}",
        f"/static/web/app.js?v={version.group(1)}",
        "/api/vps?per_page=100",
    ):
        bearer = {"Authorization": f"Bearer {site['token']}"} if path.startswith("/api/") else {}
        r = page.request.get(path, headers={**gzip, **bearer})
        assert r.status == 200, (path, r.status)
        assert r.headers.get("content-encoding") == "gzip", (path, r.headers)
        assert "accept-encoding" in r.headers.get("vary", "").lower(), (path, r.headers)
    for asset in ("app.css", "app.js", "favicon.svg"):
        versioned = page.request.get(f"/static/web/{asset}?v={version.group(1)}")
        assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
        plain = page.request.get(f"/static/web/{asset}")
        assert "immutable" not in plain.headers["cache-control"], plain.headers
        assert re.search(r"max-age=\d{1,4}\b", plain.headers["cache-control"]), plain.headers
    # the agents' hot path is never compressed: its answer goes out as the route wrote it
    hostname = site["vps"][0]["hostname"]
    r = httpx.post(
        server.url + "/api/agent/heartbeat",
        json={"hostname": hostname, "system_info": {"cpu_cores": 2}},
        headers={"Authorization": f"Bearer {site['token']}", **gzip},
    )
    assert r.status_code == 200, r.text
    assert len(r.content) > 1024 and "content-encoding" not in r.headers, r.headers
