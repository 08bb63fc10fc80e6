"""Smoke test of the `api` fixture: login, create, read, audit."""


def test_create_and_read_vps(api):
    h = api.headers()
    r = api.client.post(
        "/api/vps", headers=h, json={"hostname": "hk-1", "ip_addresses": [{"ip": "2001:db8::1"}]}
    )
    assert r.status_code == 200, r.text
    assert api.client.get("/api/vps/hk-1", headers=h).json()["ip_addresses"] == [
        {"ip": "2001:db8::1", "label": ""}
    ]
    assert api.client.get("/api/vps").status_code == 401
    ro = api.user("readonly")
    assert (
        api.client.post("/api/vps", headers=api.headers(ro), json={"hostname": "x"}).status_code
        == 403
    )
