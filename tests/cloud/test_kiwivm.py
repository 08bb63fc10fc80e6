"""The BandwagonHost KiwiVM adapter against a loopback stand-in of
`GET /v1/getServiceInfo?veid=VEID&api_key=KEY`. One VPS per account: there is no pagination
(and so no never-ending one) and no second record to duplicate an id."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import kiwivm
from sigma.cloud.base import Api, AuthFailed, Credentials, Instance, ProviderError, RateLimited

VEID = "1234567"
API_KEY = "private_Kiw1VmS3cr3tKey0001"
FIXTURES = Path(__file__).parent / "fixtures" / "kiwivm"
PATH = "/v1/getServiceInfo"


def info(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "getserviceinfo.json").read_text())
    body.update(fields)
    return body


def service(request: Request) -> Any:
    if request.arg("veid") != VEID or request.arg("api_key") != API_KEY:
        return {"error": 700005, "message": "Authentication failure"}
    return info()


def run(fake_api: FakeApi, veid: str = VEID, key: str = API_KEY) -> list[Instance]:
    credentials = Credentials(api_base=fake_api.url, key_id=veid, token=key)
    with Api(credentials, headers=kiwivm.headers(credentials)) as api:
        return kiwivm.instances(api)


def fails(
    fake_api: FakeApi, kind: type[ProviderError] = ProviderError, **kwargs: Any
) -> ProviderError:
    with pytest.raises(kind) as caught:
        run(fake_api, **kwargs)
    for secret in (API_KEY, kwargs.get("key", API_KEY)):
        assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert caught.value.__cause__ is None
    return caught.value


def test_the_documented_request(fake_api: FakeApi) -> None:
    fake_api.route("GET", PATH, service)
    assert [i.instance_id for i in run(fake_api)] == [VEID]
    (request,) = fake_api.requests
    assert request.path == PATH
    assert request.query == {"veid": [VEID], "api_key": [API_KEY]}
    assert "authorization" not in request.headers


def test_the_record_normalised(fake_api: FakeApi) -> None:
    fake_api.route("GET", PATH, service)
    assert run(fake_api) == [
        Instance(
            instance_id=VEID,
            hostname="bwh-la.example.com",
            ipv4=["203.0.113.30"],
            ipv6=["2001:db8:30::3"],
            region="US, California",
            country="US",
            plan="kvmv5-20g-1g-1t-ca-cn2gia-e",
            ram_mb=1024,
            disk_gb=20,
            traffic_quota_gb=1074,  # 1000 GiB of bytes, in GB (10^9)
            traffic_used_bytes=52_428_800_000,
            traffic_reset=date(2026, 5, 3),
            state="other",  # getServiceInfo has no power state
        )
    ]


def records(fake_api: FakeApi, *variants: dict[str, Any]) -> list[Instance]:
    """The record of each variant of the fixture, through one client."""
    credentials = Credentials(api_base=fake_api.url, key_id=VEID, token=API_KEY)
    found = []
    with Api(credentials, headers=kiwivm.headers(credentials)) as api:
        for fields in variants:
            fake_api.route("GET", PATH, info(**fields))
            (record,) = kiwivm.instances(api)
            found.append(record)
    return found


def test_the_data_multiplier_applies_to_quota_and_usage(fake_api: FakeApi) -> None:
    double, cheap = records(
        fake_api,
        {"monthly_data_multiplier": 2, "plan_monthly_data": 500 * 10**9},
        {"monthly_data_multiplier": "0.33", "plan_monthly_data": 3 * 10**12},
    )
    assert (double.traffic_quota_gb, double.traffic_used_bytes) == (1000, 104_857_600_000)
    assert (cheap.traffic_quota_gb, cheap.traffic_used_bytes) == (990, 17_301_504_000)


def test_a_garbage_multiplier_leaves_the_traffic_unknown(fake_api: FakeApi) -> None:
    garbage = [0, -1, "lots", True, [2], 10**9]
    for multiplier, found in zip(
        garbage, records(fake_api, *({"monthly_data_multiplier": m} for m in garbage)), strict=True
    ):
        assert (found.traffic_quota_gb, found.traffic_used_bytes) == (None, None), multiplier


def test_numbers_as_strings(fake_api: FakeApi) -> None:
    (found,) = records(
        fake_api,
        {
            "plan_ram": "2147483648",
            "plan_disk": "42949672960",
            "plan_monthly_data": "2000000000000",
            "data_counter": "1000",
            "data_next_reset": "1777766400",
            "monthly_data_multiplier": None,
        },
    )
    assert (found.ram_mb, found.disk_gb) == (2048, 40)
    assert (found.traffic_quota_gb, found.traffic_used_bytes) == (2000, 1000)
    assert found.traffic_reset == date(2026, 5, 3)


def test_garbage_reset_dates_are_unknown(fake_api: FakeApi) -> None:
    garbage = ["", "soon", None, 0, -5, 10**20, "2026-05-03", 1.5, True]
    found = records(fake_api, *({"data_next_reset": value} for value in garbage))
    assert [record.traffic_reset for record in found] == [None] * len(garbage)


def test_states(fake_api: FakeApi) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"suspended": True}, "stopped"),
        ({"suspended": 1}, "stopped"),
        ({"suspended": False}, "other"),
        ({"ve_status": "Running"}, "running"),
        ({"ve_status": "Stopped"}, "stopped"),
        ({"ve_status": "Starting"}, "pending"),
        ({"ve_status": "Running", "suspended": True}, "running"),
    ]
    found = records(fake_api, *(fields for fields, _ in cases))
    assert [record.state for record in found] == [state for _, state in cases]


@pytest.mark.parametrize(
    ("location", "country"),
    [
        ("US, California", "US"),
        ("US, New Jersey", "US"),
        ("Canada, BC", "CA"),
        ("Netherlands", "NL"),
        ("Japan, Osaka", "JP"),
        ("Hong Kong", "HK"),
        ("UK, London", "GB"),
        ("EU, Amsterdam", ""),
        ("Somewhere nice", ""),
        ("", ""),
    ],
)
def test_countries(location: str, country: str) -> None:
    assert kiwivm.country_of(location) == country


def test_addresses_without_subnets_or_garbage(fake_api: FakeApi) -> None:
    (found,) = records(
        fake_api,
        {"ip_addresses": ["203.0.113.30", "2001:db8:30::/64", "2001:db8:31::1", "nope", 5, None]},
    )
    assert (found.ipv4, found.ipv6) == (["203.0.113.30"], ["2001:db8:31::1"])


def test_a_wrong_api_key_is_auth_failed(fake_api: FakeApi) -> None:
    fake_api.route("GET", PATH, service)
    failure = fails(fake_api, AuthFailed, key="private_WrongKey0000000000")
    assert "700005" in str(failure)


def test_a_wrong_veid_is_auth_failed(fake_api: FakeApi) -> None:
    fake_api.route("GET", PATH, service)
    fails(fake_api, AuthFailed, veid="7654321")


@pytest.mark.parametrize("veid", ["", "12a4", "1 2", "../1"])
def test_a_veid_that_is_not_a_number(fake_api: FakeApi, veid: str) -> None:
    failure = fails(fake_api, AuthFailed, veid=veid)
    assert not veid or veid not in str(failure)
    assert fake_api.requests == []


def test_another_error_is_a_provider_error(fake_api: FakeApi) -> None:
    fake_api.route(
        "GET",
        PATH,
        {"error": 788888, "message": f"VE is currently locked ({API_KEY}), try again later"},
    )
    failure = fails(fake_api, ProviderError)
    assert not isinstance(failure, AuthFailed)
    assert "788888" in str(failure) and "locked" in str(failure)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "ok",
        {"hostname": "no error field"},
        {"error": "none"},
        {"error": None},
        info(ip_addresses="203.0.113.30"),
    ],
)
def test_the_wrong_shape(fake_api: FakeApi, body: Any) -> None:
    fake_api.route("GET", PATH, body)
    failure = fails(fake_api, ProviderError)
    assert not isinstance(failure, AuthFailed)


def test_html_is_a_provider_error(fake_api: FakeApi) -> None:
    fake_api.route("GET", PATH, Reply(200, "<html><title>KiwiVM</title></html>"))
    assert "HTML" in str(fails(fake_api, ProviderError))


def test_malformed_json(fake_api: FakeApi) -> None:
    fake_api.route(
        "GET", PATH, Reply(200, b'{"error": 0, "hostname": ', {"Content-Type": "application/json"})
    )
    assert "not valid JSON" in str(fails(fake_api, ProviderError))


def test_http_errors(fake_api: FakeApi) -> None:
    fake_api.route("GET", PATH, Reply(401, {"error": 700005, "message": "Authentication failure"}))
    fails(fake_api, AuthFailed)
    fake_api.route("GET", PATH, Reply(502, "bad gateway"))
    assert "HTTP 502" in str(fails(fake_api, ProviderError))
    fake_api.route("GET", PATH, Reply(429, {}, headers={"Retry-After": "600"}))
    fails(fake_api, RateLimited)
