"""The HTTP side of billing, traffic and replacement (issue 16, part B), on SQLite and
PostgreSQL: the added VPS fields (the original's unchanged, in their order), heartbeats with
interface counters (on PostgreSQL through the batch statement of `sigma serve`), their hard
validation, renew and replace with their statuses (200, 422, 404, 409), the over_quota
filter."""

from __future__ import annotations

import pytest

ORIGINAL_FIELDS = [
    "id",
    "hostname",
    "alias",
    "provider_id",
    "ip_addresses",
    "ssh_port",
    "country",
    "city",
    "dc_name",
    "cpu_cores",
    "ram_mb",
    "disk_gb",
    "bandwidth_tb",
    "cost_monthly",
    "currency",
    "status",
    "purchase_date",
    "expire_date",
    "purpose",
    "vpn_protocol",
    "tags",
    "monitoring_enabled",
    "node_exporter_port",
    "extra",
    "notes",
    "created_at",
    "updated_at",
]
ADDED = [
    "billing_cycle",
    "auto_renew",
    "traffic_quota_gb",
    "traffic_direction",
    "traffic_reset_day",
]


def _create(api, **fields):
    r = api.client.post("/api/vps", headers=api.headers(), json={"status": "active", **fields})
    assert r.status_code == 200, r.text
    return r.json()


def test_fields_are_additions(api):
    from sigma.vocab import VPS_FIELDS

    v = _create(api, hostname="hk-1")
    keys = list(v)
    assert keys[: len(ORIGINAL_FIELDS)] == ORIGINAL_FIELDS
    assert keys == list(VPS_FIELDS)
    assert {k: v[k] for k in ADDED} == {
        "billing_cycle": "monthly",
        "auto_renew": False,
        "traffic_quota_gb": None,
        "traffic_direction": "sum",
        "traffic_reset_day": 1,
    }
    r = api.client.put(
        f"/api/vps/{v['id']}",
        headers=api.headers(),
        json={"billing_cycle": "semi-annual", "auto_renew": True, "traffic_quota_gb": 500},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["billing_cycle"], r.json()["traffic_quota_gb"]) == ("semi-annual", 500)
    r = api.client.put(
        f"/api/vps/{v['id']}", headers=api.headers(), json={"traffic_quota_gb": None}
    )
    assert r.json()["traffic_quota_gb"] is None  # null clears it
    for body, field in (
        ({"billing_cycle": "0d"}, "billing_cycle"),
        ({"traffic_reset_day": 31}, "traffic_reset_day"),
        ({"traffic_quota_gb": -1}, "traffic_quota_gb"),
        ({"traffic_direction": None}, "traffic_direction"),
    ):
        r = api.client.put(f"/api/vps/{v['id']}", headers=api.headers(), json=body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)


def _beat(api, hostname, counters, expect=200):
    body = {"hostname": hostname, "system_info": {"cpu_cores": 1}}
    if counters is not None:
        body["traffic"] = counters
    r = api.client.post("/api/agent/heartbeat", headers=api.headers(), json=body)
    assert r.status_code == expect, r.text
    return r.json()


def test_heartbeats_with_counters(api):
    v = _create(api, hostname="jp-relay-02", traffic_quota_gb=1, traffic_direction="in")
    _beat(api, "jp-relay-02", {"rx_bytes": 1_000, "tx_bytes": 1_000})
    answer = _beat(api, "jp-relay-02", {"rx_bytes": 400_001_000, "tx_bytes": 9_000})
    assert answer["traffic_quota_gb"] == 1  # the answer is the VPS, with the added fields
    _beat(api, "jp-relay-02", {"rx_bytes": 500, "tx_bytes": 0})  # a reset: never an error
    _beat(api, "jp-relay-02", None)  # the original agent: no counters at all
    t = api.client.get(f"/api/vps/{v['id']}", headers=api.headers()).json()["traffic"]
    assert (t["bytes_in"], t["bytes_out"], t["used_bytes"]) == (400_000_500, 8_000, 400_000_500)
    assert (t["quota_bytes"], t["percent"]) == (10**9, 40.0)
    assert t["period_start"] <= t["updated_at"][:10] < t["period_end"]
    # over 80 %: one event in the timeline, however many heartbeats follow
    _beat(api, "jp-relay-02", {"rx_bytes": 450_000_500, "tx_bytes": 0})  # 85 %
    _beat(api, "jp-relay-02", {"rx_bytes": 450_000_600, "tx_bytes": 0})
    r = api.client.get(
        f"/api/vps/{v['id']}/history", headers=api.headers(), params={"kind": "traffic-threshold"}
    )
    assert r.status_code == 200, r.text
    assert [e["details"]["threshold"] for e in r.json()["data"]] == [80]
    r = api.client.get("/api/vps", headers=api.headers(), params={"over_quota": "80"})
    assert [x["hostname"] for x in r.json()["data"]] == ["jp-relay-02"]
    assert r.json()["data"][0]["traffic"] is None  # usage is given by GET /api/vps/{ref}
    r = api.client.get("/api/vps", headers=api.headers(), params={"over_quota": "lots"})
    assert r.status_code == 422 and r.json()["field"] == "over_quota"


@pytest.mark.parametrize(
    "counters, field",
    [
        ({"rx_bytes": -1, "tx_bytes": 0}, "traffic.rx_bytes"),
        ({"rx_bytes": "12", "tx_bytes": 0}, "traffic.rx_bytes"),
        ({"rx_bytes": 0, "tx_bytes": 1.5}, "traffic.tx_bytes"),
        ({"rx_bytes": 0, "tx_bytes": 2**64}, "traffic.tx_bytes"),
        ({"rx_bytes": 0}, "traffic.tx_bytes"),
        ([0, 0], "traffic"),
    ],
)
def test_hostile_counters_are_refused_naming_the_field(api, counters, field):
    _create(api, hostname="hk-hostile")
    r = api.client.post(
        "/api/agent/heartbeat",
        headers=api.headers(),
        json={"hostname": "hk-hostile", "traffic": counters},
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_renew_statuses(api):
    v = _create(api, hostname="sg-1", expire_date="2024-01-31", cost_monthly="9.99")
    r = api.client.post(f"/api/vps/{v['id']}/renew", headers=api.headers(), json={"cycles": 2})
    assert r.status_code == 200, r.text
    assert r.json()["vps"]["expire_date"] == "2024-03-31"
    assert r.json()["renewal"]["amount"] == "19.98"
    r = api.client.post("/api/vps/sg-1/renew", headers=api.headers())  # no body: one cycle
    assert r.status_code == 200 and r.json()["vps"]["expire_date"] == "2024-04-30", r.text
    for ref, body, status, field in (
        ("sg-1", {"cycles": 0}, 422, "cycles"),
        ("sg-1", {"cycles": "two"}, 422, "cycles"),
        ("sg-1", {"cycles": 1, "extra": 1}, 422, "extra"),
        ("nobody", {"cycles": 1}, 404, "vps"),
    ):
        r = api.client.post(f"/api/vps/{ref}/renew", headers=api.headers(), json=body)
        assert r.status_code == status and r.json()["field"] == field, (body, r.text)
    api.client.post(f"/api/vps/{v['id']}/retire", headers=api.headers())
    r = api.client.post(f"/api/vps/{v['id']}/renew", headers=api.headers(), json={"cycles": 1})
    assert r.status_code == 409 and r.json()["field"] == "status"
    reader = api.user("readonly")
    r = api.client.post(f"/api/vps/{v['id']}/renew", headers=api.headers(reader))
    assert r.status_code == 403


def test_replace_statuses(api):
    old = _create(api, hostname="de-1", purpose="monitor", tags=["eu"])
    new = _create(api, hostname="de-2")
    _create(api, hostname="de-dead", status="retired")
    for body, status, field in (
        ({"with": "de-1"}, 422, "with"),
        ({"with": "ghost"}, 404, "with"),
        ({"with": "de-dead"}, 409, "with"),
        ({}, 422, "with"),
        ({"with": "de-2", "inherit_everything": True}, 422, "inherit_everything"),
    ):
        r = api.client.post("/api/vps/de-1/replace", headers=api.headers(), json=body)
        assert r.status_code == status and r.json()["field"] == field, (body, r.text)
    r = api.client.post(
        "/api/vps/de-1/replace", headers=api.headers(), json={"with": "de-2", "inherit_tags": False}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["old"]["status"], body["old"]["extra"]["replaced_by"]) == ("retiring", new["id"])
    assert (body["new"]["purpose"], body["new"]["tags"], body["inherited"]) == (
        "monitor",
        [],
        ["purpose"],
    )
    r = api.client.post(
        "/api/vps/de-1/replace",
        headers=api.headers(),
        json={"new": {"hostname": "de-3", "country": "DE"}},
    )
    assert r.status_code == 200 and r.json()["created"] is True, r.text
    assert r.json()["new"]["extra"]["replaces"] == [old["id"]]
