"""The Hetzner Cloud adapter against a loopback stand-in of `GET /v1/servers`."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import base, hetzner
from sigma.cloud.base import Api, AuthFailed, Credentials, Instance, ProviderError, RateLimited

TOKEN = "tok-secret-123"
FIXTURES = Path(__file__).parent / "fixtures" / "hetzner"


def page(number: int) -> dict[str, Any]:
    return json.loads((FIXTURES / f"servers_page{number}.json").read_text())


def run(fake_api: FakeApi, token: str = TOKEN) -> list[Instance]:
    credentials = Credentials(api_base=fake_api.url, token=token)
    with Api(credentials, headers=hetzner.headers(credentials)) as api:
        return hetzner.instances(api)


def fails(fake_api: FakeApi, kind: type[ProviderError] = ProviderError) -> ProviderError:
    with pytest.raises(kind) as caught:
        run(fake_api)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    return caught.value


def paged(request: Request) -> dict[str, Any]:
    return page(int(request.arg("page", "1") or "1"))


def one_page(servers: list[Any]) -> dict[str, Any]:
    body = page(2)
    body["servers"] = servers
    return body


def test_the_documented_request_over_two_pages(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v1/servers", paged)
    found = run(fake_api)
    assert [r.path for r in fake_api.requests] == ["/v1/servers", "/v1/servers"]
    assert [r.query for r in fake_api.requests] == [
        {"page": ["1"], "per_page": ["50"]},
        {"page": ["2"], "per_page": ["50"]},
    ]
    assert {r.headers["authorization"] for r in fake_api.requests} == {f"Bearer {TOKEN}"}
    assert [i.instance_id for i in found] == ["42", "43", "44"]


def test_the_records_normalised(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v1/servers", paged)
    web, db, edge = run(fake_api)
    assert web == Instance(
        instance_id="42",
        hostname="web-1.example.com",
        ipv4=["203.0.113.10"],
        ipv6=["2001:db8:c012:abcd::1"],  # the /64's first address
        region="fsn1",
        country="DE",
        city="Falkenstein",
        plan="cx22",
        cpu_cores=2,
        ram_mb=4096,
        disk_gb=40,
        price_monthly=Decimal("4.51"),  # fsn1's gross price, not nbg1's
        currency="EUR",
        traffic_used_bytes=123456789,
        traffic_quota_gb=21990,  # 20 TiB in bytes / 1e9
        state="running",
    )
    assert (db.ipv4, db.ipv6) == ([], ["2001:db8:1c11:3400::1"])  # an IPv6-only server
    assert (db.country, db.state, db.traffic_used_bytes) == ("FI", "stopped", 0)
    # no `location` (an answer of before the field): the deprecated datacenter.location
    assert (edge.region, edge.country, edge.city) == ("ash", "US", "Ashburn, VA")
    assert (edge.ipv6, edge.state, edge.price_monthly) == ([], "pending", Decimal("8.49"))
    # included_traffic null: the location price's included_traffic (1 TiB)
    assert (edge.traffic_quota_gb, edge.traffic_used_bytes) == (1100, None)


def test_a_country_from_the_location_name_or_unknown(fake_api: FakeApi) -> None:
    known, unknown = copy.deepcopy(page(1)["servers"])
    known["location"] = {"name": "nbg1"}  # no country given: the documented location's
    unknown["location"] = {"name": "xyz9", "country": "Germany"}  # not a code: unknown
    fake_api.route("GET", "/v1/servers", one_page([known, unknown]))
    first, second = run(fake_api)
    assert (first.country, first.price_monthly) == ("DE", Decimal("4.51"))
    assert (second.country, second.region, second.price_monthly) == ("", "xyz9", None)
    assert second.currency == ""


def test_401_is_auth_failed(fake_api: FakeApi) -> None:
    body = {"error": {"code": "unauthorized", "message": "unable to authenticate"}}
    fake_api.route("GET", "/v1/servers", Reply(401, body))
    assert "unable to authenticate" in str(fails(fake_api, AuthFailed))


def test_an_html_answer(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v1/servers", Reply(200, "<html><body>Sign in</body></html>"))
    assert "HTML" in str(fails(fake_api))


def test_malformed_json(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v1/servers", Reply(200, b'{"servers": [{"id": 4'))
    assert "not valid JSON" in str(fails(fake_api))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected dict, got list"),
        ({"servers": {}}, "servers: expected list"),
        ({"meta": {}}, "servers: expected list, got NoneType"),
        ({"servers": [1]}, "a server: expected dict, got int"),
        ({"servers": [{"name": "no-id"}]}, "a server without an id"),
        ({"servers": [{"id": ""}]}, "a server without an id"),
        ({"servers": [{"id": True}]}, "a server without an id"),
        ({"servers": [{"id": 0}]}, "a server without an id"),
        ({"servers": []}, "meta: expected dict"),
        ({"servers": [], "meta": {"pagination": []}}, "meta.pagination: expected dict"),
        ({"servers": [], "meta": {"pagination": {"next_page": "2"}}}, "not a page number"),
        ({"servers": [], "meta": {"pagination": {"next_page": 1.5}}}, "not a page number"),
    ],
)
def test_the_wrong_shape(fake_api: FakeApi, body: Any, message: str) -> None:
    fake_api.route("GET", "/v1/servers", body)
    assert message in str(fails(fake_api))


def test_a_pagination_that_never_ends(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_PAGES", 5)

    def endless(request: Request) -> dict[str, Any]:
        number = int(request.arg("page") or "1")
        return {"servers": [], "meta": {"pagination": {"page": number, "next_page": number + 1}}}

    fake_api.route("GET", "/v1/servers", endless)
    assert "more than 5 pages" in str(fails(fake_api))
    assert len(fake_api.requests) == 5


def test_a_pagination_that_repeats(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v1/servers", {"servers": [], "meta": {"pagination": {"next_page": 2}}})
    assert "repeats" in str(fails(fake_api))
    assert len(fake_api.requests) == 2


def test_a_server_listed_twice(fake_api: FakeApi) -> None:
    def twice(request: Request) -> dict[str, Any]:
        body = paged(request)
        body["servers"][0]["id"] = 42  # page 2's server has the id of one on page 1
        return body

    fake_api.route("GET", "/v1/servers", twice)
    assert "'42' is listed twice" in str(fails(fake_api))


def test_a_short_rate_limit_is_waited_for(fake_api: FakeApi) -> None:
    answers = [Reply(429, {"error": {"code": "rate_limit_exceeded"}}, {"Retry-After": "0"})]
    fake_api.route("GET", "/v1/servers", lambda r: answers.pop() if answers else page(2))
    assert [i.instance_id for i in run(fake_api)] == ["44"]
    assert len(fake_api.requests) == 2


def test_a_long_rate_limit_ends_the_run(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v1/servers", Reply(429, {}, {"Retry-After": "3600"}))
    error = fails(fake_api, RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == pytest.approx(3600)
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize("token", ["", "  ", "tok-secret-123\r\nX-Evil: 1", "tok-sécret-123"])
def test_a_token_no_header_can_carry_is_refused_unquoted(token: str) -> None:
    with pytest.raises(AuthFailed) as caught:
        hetzner.headers(Credentials(api_base="http://127.0.0.1:9", token=token))
    assert "secret" not in str(caught.value)


def test_the_token_is_stripped() -> None:
    credentials = Credentials(api_base="http://127.0.0.1:9", token=f" {TOKEN}\n")
    assert hetzner.headers(credentials) == {"Authorization": f"Bearer {TOKEN}"}
