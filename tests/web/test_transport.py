"""What goes over the wire, without a browser: gzip above a kilobyte (never on the agent
heartbeat), and the static files' cache headers (a year for a versioned URL, minutes
otherwise)."""

from __future__ import annotations

from sigma import __version__

GZIP = {"Accept-Encoding": "gzip"}
LONG = "public, max-age=31536000, immutable"


def test_gzip_above_a_kilobyte_but_not_on_the_heartbeat(api):
    h = {**api.headers(), **GZIP}
    vps = api.client.post(
        "/api/vps",
        headers=api.headers(),
        json={"hostname": "hk-1", "status": "active", "notes": "n" * 1500},
    ).json()
    for path in ("/api/vps", f"/api/vps/{vps['id']}", "/static/web/app.css", "/login"):
        r = api.client.get(path, headers=h)
        assert r.status_code == 200, (path, r.text)
        assert r.headers.get("content-encoding") == "gzip", (path, r.headers)
        assert "accept-encoding" in r.headers.get("vary", "").lower(), path
        assert "x-content-type-options" in r.headers  # the security headers still go out
    small = api.client.get("/healthz", headers=GZIP)
    assert "content-encoding" not in small.headers
    plain = api.client.get("/api/vps", headers={**api.headers(), "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json()["total"] == 1
    beat = api.client.post(
        "/api/agent/heartbeat",
        headers=h,
        json={"hostname": "hk-1", "system_info": {"cpu_cores": 2}},
    )
    assert beat.status_code == 200, beat.text
    assert len(beat.content) > 1024 and "content-encoding" not in beat.headers, beat.headers


def test_versioned_static_files_are_cached_for_a_year(api):
    for name in ("app.css", "app.js", "favicon.svg"):
        versioned = api.client.get(f"/static/web/{name}?v={__version__}")
        assert versioned.status_code == 200
        assert versioned.headers["cache-control"] == LONG, name
        plain = api.client.get(f"/static/web/{name}")
        assert plain.headers["cache-control"] == "public, max-age=300", name
        # a revalidation keeps the same policy
        again = api.client.get(
            f"/static/web/{name}?v={__version__}",
            headers={"If-None-Match": versioned.headers["etag"]},
        )
        assert again.status_code == 304 and again.headers["cache-control"] == LONG
    assert "immutable" not in api.client.get("/static/web/app.css?v=").headers["cache-control"]
    page = api.client.get("/login").text
    assert f"/static/web/app.css?v={__version__}" in page
    assert f"/static/web/app.js?v={__version__}" in page
