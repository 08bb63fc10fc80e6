"""The admin of a browser-test module's `sigma serve` (tests/e2e/conftest.py `server`): a
signed-in page (the first call goes through the forced password change) and an API client."""

from __future__ import annotations

import re

import httpx

ADMIN_PASSWORD = "e2e-admin-pass-2026"  # what signed_in_admin changes the first password to


def signed_in_admin(open_browser, server, **kw):
    """A signed-in admin's page; the first call goes through the forced password change."""
    if "admin" not in server.state:
        w = open_browser("sign-in")
        page = w.page
        page.goto("/login")
        page.fill("#email", server.admin_email)
        page.fill("#password", server.one_time_password)
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/change-password")
        page.fill("#current_password", server.one_time_password)
        page.fill("#new_password", ADMIN_PASSWORD)
        page.fill("#confirm_password", ADMIN_PASSWORD)
        page.click("#password-form button[type=submit]")
        page.wait_for_url(re.compile(r"/\?flash=password-changed$"))
        server.state["admin"] = w.context.storage_state()
    return open_browser(storage_state=server.state["admin"], **kw)


def admin_api(server) -> httpx.Client:
    r = httpx.post(
        server.url + "/api/auth/login",
        json={"email": server.admin_email, "password": ADMIN_PASSWORD},
    )
    assert r.status_code == 200, r.text
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {r.json()['token']}"}
    )
