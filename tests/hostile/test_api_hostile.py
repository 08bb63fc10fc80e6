"""Hostile input against the API: deep JSON, NUL bytes, unicode everywhere, SQL-looking text.
Each request gets a clear 4xx or a faithful 2xx, never a 500, and nothing is half-written."""

import pytest

TEXT_FIELDS = ["alias", "city", "dc_name", "vpn_protocol", "notes"]


def _count(api):
    return api.client.get("/api/vps", headers=api.headers()).json()["total"]


def test_deeply_nested_extra_is_refused_not_stored(api):
    body = '{"hostname":"deep","extra":{"a":' + "[" * 500 + "]" * 500 + "}}"
    r = api.client.post(
        "/api/vps", content=body, headers={**api.headers(), "content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "extra"
    assert _count(api) == 0


def test_pathologically_deep_body_is_a_400(api):
    body = '{"hostname":"x","extra":' + "[" * 100_000 + "]" * 100_000 + "}"
    r = api.client.post(
        "/api/vps", content=body, headers={**api.headers(), "content-type": "application/json"}
    )
    assert r.status_code in (400, 422), r.text
    assert "error" in r.json()
    assert _count(api) == 0


@pytest.mark.parametrize("field", TEXT_FIELDS + ["hostname"])
def test_nul_bytes_refused_with_the_field_named(api, field):
    body = {"hostname": "nul-test", field: "a\x00b"}
    r = api.client.post("/api/vps", headers=api.headers(), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert _count(api) == 0


def test_nul_in_extra_refused(api):
    r = api.client.post(
        "/api/vps", headers=api.headers(), json={"hostname": "x", "extra": {"k": "a\x00"}}
    )
    assert r.status_code == 422 and r.json()["field"] in ("extra", "extra.k"), r.text


def test_unicode_round_trips_in_every_text_field(api):
    values = {f: f"{f}: 日本語 🚀 Ελληνικά עברית ‮rtl" for f in TEXT_FIELDS}
    body = {
        "hostname": "tokyo-01",
        **values,
        "tags": ["项目:机场", "ü"],
        "extra": {"ключ": "значение"},
    }
    r = api.client.post("/api/vps", headers=api.headers(), json=body)
    assert r.status_code == 200, r.text
    got = api.client.get("/api/vps/tokyo-01", headers=api.headers()).json()
    for key, value in body.items():
        assert got[key] == value
    # a host name is what SSH, Ansible and Prometheus take as one (RFC 1123): ASCII only
    r = api.client.post("/api/vps", headers=api.headers(), json={"hostname": "東京-01"})
    assert (
        r.status_code == 422 and r.json()["field"] == "hostname" and "RFC 1123" in r.json()["error"]
    )


@pytest.mark.parametrize(
    "needle", ["'; DROP TABLE vps; --", "%", "_", "\\", "' OR 1=1 --", '" OR ""="']
)
def test_sql_looking_search_is_literal(api, needle):
    h = api.headers()
    assert (
        api.client.post("/api/vps", headers=h, json={"hostname": "plain-host"}).status_code == 200
    )
    odd = api.client.post(
        "/api/vps", headers=h, json={"hostname": "odd", "alias": f"odd{needle}alias"}
    )
    assert odd.status_code == 200, odd.text
    r = api.client.get("/api/vps", headers=h, params={"search": needle})
    assert r.status_code == 200, r.text
    assert [v["alias"] for v in r.json()["data"]] == [f"odd{needle}alias"]


def test_sql_looking_refs_are_just_not_found(api):
    for ref in ["' OR 1=1 --", "../../etc/passwd", "%00", "a" * 5000]:
        r = api.client.get(f"/api/vps/{ref}", headers=api.headers())
        assert r.status_code in (404, 422), (ref, r.status_code, r.text)


def test_huge_numbers_and_wrong_types(api):
    h = api.headers()
    for body, field in [
        ({"hostname": "x", "ssh_port": 10**30}, "ssh_port"),
        ({"hostname": "x", "cost_monthly": "1e400"}, "cost_monthly"),
        ({"hostname": "x", "cost_monthly": "NaN"}, "cost_monthly"),
        ({"hostname": "x", "tags": "a" * 100}, "tags"),
        ({"hostname": "x", "ip_addresses": "1.2.3.4"}, "ip_addresses"),
        ({"hostname": ["x"]}, "hostname"),
    ]:
        r = api.client.post("/api/vps", headers=h, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"].split(".")[0] == field, r.json()
    assert _count(api) == 0
