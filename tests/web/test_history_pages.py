"""The web side of the timeline and the trash (issue 16, part A), without a browser, on SQLite
and PostgreSQL: the VPS page's timeline (newest first, escaped, paged), and Delete moving the
VPS to the trash."""

from __future__ import annotations

import pytest
from tests.web.test_web_pages import ADMIN_EMAIL, ADMIN_PASSWORD, Browser


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    from argon2 import PasswordHasher

    from sigma.services import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def admin(api):
    b = Browser(api.app)
    assert b.login(ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
    return b


def test_the_vps_page_shows_its_timeline(api, admin):
    h = api.headers()
    v = api.client.post(
        "/api/vps", headers=h, json={"hostname": "hk-1", "ip_addresses": [{"ip": "103.1.2.3"}]}
    ).json()
    api.client.put(
        f"/api/vps/{v['id']}",
        headers=h,
        json={"notes": "<script>x</script>", "ip_addresses": [{"ip": "103.1.2.4"}]},
    )
    page = admin.get(f"/vps/{v['id']}")
    assert page.status_code == 200
    html = page.text
    assert 'id="timeline"' in html and 'aria-labelledby="timeline-title"' in html
    section = html[html.index('id="timeline-events"') :]
    section = section[: section.index("</ol>")]
    assert section.index("ip-added") < section.index("ip-removed") < section.index("created")
    assert "+103.1.2.4" in section and "-103.1.2.3" in section
    assert "<script>x" not in html and "&lt;script&gt;x" in section
    assert "<time datetime=" in section
    # a readonly user sees it too
    ro = Browser(api.app)
    email = "viewer@example.com"
    api.client.post(
        "/api/users",
        headers=h,
        json={"email": email, "password": "password-123", "role": "readonly"},
    )
    assert ro.login(email, "password-123").status_code == 303
    assert 'id="timeline-events"' in ro.get(f"/vps/{v['id']}").text


def test_the_timeline_pages_and_delete_moves_to_the_trash(api, admin):
    h = api.headers()
    v = api.client.post("/api/vps", headers=h, json={"hostname": "busy"}).json()
    for n in range(25):
        api.client.put(f"/api/vps/{v['id']}", headers=h, json={"notes": f"n{n}"})
    first = admin.get(f"/vps/{v['id']}").text
    assert "Older events" in first and "Newer events" not in first
    second = admin.get(f"/vps/{v['id']}?events=2").text
    assert "Newer events" in second and "created" in second
    confirm = admin.post(f"/vps/{v['id']}/delete")
    assert confirm.status_code == 200 and "trash" in confirm.text
    r = admin.post(f"/vps/{v['id']}/delete", {"confirmed": "yes"})
    assert r.status_code == 303 and "flash=vps-deleted" in r.headers["location"]
    assert "trash" in admin.get(r.headers["location"]).text
    assert admin.get(f"/vps/{v['id']}").status_code == 404
    trash = api.client.get("/api/vps/trash", headers=h).json()
    assert [t["id"] for t in trash["data"]] == [v["id"]]
