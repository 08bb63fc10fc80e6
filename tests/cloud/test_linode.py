"""The Linode adapter against a loopback stand-in of `GET /v4/linode/instances` and
`GET /v4/linode/types`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import base, linode
from sigma.cloud.base import Api, AuthFailed, Credentials, Instance, ProviderError, RateLimited

TOKEN = "tok-secret-123"
FIXTURES = Path(__file__).parent / "fixtures" / "linode"
INSTANCES = "/v4/linode/instances"
TYPES = "/v4/linode/types"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def page(number: int) -> dict[str, Any]:
    return load(f"instances_page{number}.json")


def types_page(request: Request) -> dict[str, Any]:
    """The documented types, one a page (two pages)."""
    body = load("types.json")
    number = int(request.arg("page") or "1")
    return body | {"data": body["data"][number - 1 : number], "page": number, "pages": 2}


def run(fake_api: FakeApi) -> list[Instance]:
    credentials = Credentials(api_base=fake_api.url, token=TOKEN)
    with Api(credentials, headers=linode.headers(credentials)) as api:
        return linode.instances(api)


def fails(fake_api: FakeApi, kind: type[ProviderError] = ProviderError) -> ProviderError:
    with pytest.raises(kind) as caught:
        run(fake_api)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    return caught.value


def serve(fake_api: FakeApi, types: Any = types_page) -> None:
    fake_api.route("GET", INSTANCES, lambda r: page(int(r.arg("page") or "1")))
    fake_api.route("GET", TYPES, types)


def test_the_documented_requests_over_two_pages(fake_api: FakeApi) -> None:
    serve(fake_api)
    found = run(fake_api)
    assert [(r.path, r.query) for r in fake_api.requests] == [
        (INSTANCES, {"page": ["1"], "page_size": ["100"]}),
        (INSTANCES, {"page": ["2"], "page_size": ["100"]}),
        (TYPES, {"page": ["1"], "page_size": ["100"]}),
        (TYPES, {"page": ["2"], "page_size": ["100"]}),
    ]
    assert {r.headers["authorization"] for r in fake_api.requests} == {f"Bearer {TOKEN}"}
    assert [i.instance_id for i in found] == ["123", "456", "789"]


def test_the_records_normalised(fake_api: FakeApi) -> None:
    serve(fake_api)
    newark, jakarta, tokyo = run(fake_api)
    assert newark == Instance(
        instance_id="123",
        hostname="linode123",
        ipv4=["203.0.113.1"],  # 192.168.133.65 is its private address
        ipv6=["2001:db8:0:1::1337"],
        region="us-east",
        country="US",
        city="Newark",
        plan="g6-standard-2",
        cpu_cores=2,
        ram_mb=4096,
        disk_gb=80,  # 81920 MB
        price_monthly=Decimal("24.00"),
        currency="USD",
        traffic_quota_gb=4000,
        state="running",
    )
    # Jakarta has its own price for the type (region_prices)
    assert (jakarta.country, jakarta.price_monthly, jakarta.currency) == (
        "ID",
        Decimal("28.80"),
        "USD",
    )
    assert (jakarta.ipv6, jakarta.state) == ([], "stopped")
    assert (tokyo.country, tokyo.city, tokyo.state) == ("JP", "Tokyo", "pending")
    assert (tokyo.plan, tokyo.price_monthly, tokyo.disk_gb) == ("g6-nanode-1", Decimal("5.00"), 25)


def test_an_unknown_region_and_type(fake_api: FakeApi) -> None:
    item = page(2)["data"][0] | {"region": "xx-new-1", "type": "g9-future-1"}
    serve(fake_api)
    fake_api.route("GET", INSTANCES, {"data": [item], "page": 1, "pages": 1, "results": 1})
    (found,) = run(fake_api)
    assert (found.country, found.city, found.price_monthly, found.currency) == ("", "", None, "")


@pytest.mark.parametrize(
    "types",
    [
        Reply(500, {"errors": [{"reason": "Internal error"}]}),
        Reply(200, "<html>maintenance</html>"),
        {"data": "types", "page": 1, "pages": 1},
        {"data": [], "page": 0},
        Reply(429, {"errors": [{"reason": "Too many requests"}]}, {"Retry-After": "3600"}),
    ],
)
def test_types_that_fail_leave_the_prices_unknown(fake_api: FakeApi, types: Any) -> None:
    serve(fake_api, types)
    found = run(fake_api)
    assert len(found) == 3
    assert {(i.price_monthly, i.currency) for i in found} == {(None, "")}
    assert found[0].traffic_quota_gb == 4000  # the rest is kept


def test_types_refusing_the_token_is_auth_failed(fake_api: FakeApi) -> None:
    serve(fake_api, Reply(401, {"errors": [{"reason": "Invalid Token"}]}))
    assert "HTTP 401" in str(fails(fake_api, AuthFailed))


def test_no_linodes_no_types(fake_api: FakeApi) -> None:
    serve(fake_api)
    fake_api.route("GET", INSTANCES, {"data": [], "page": 1, "pages": 1, "results": 0})
    assert run(fake_api) == []
    assert [r.path for r in fake_api.requests] == [INSTANCES]


def test_401_is_auth_failed(fake_api: FakeApi) -> None:
    fake_api.route("GET", INSTANCES, Reply(401, {"errors": [{"reason": "Invalid Token"}]}))
    assert "HTTP 401" in str(fails(fake_api, AuthFailed))


def test_an_html_answer(fake_api: FakeApi) -> None:
    fake_api.route("GET", INSTANCES, Reply(200, "<html><h1>Akamai</h1></html>"))
    assert "HTML" in str(fails(fake_api))


def test_malformed_json(fake_api: FakeApi) -> None:
    fake_api.route("GET", INSTANCES, Reply(200, b'{"data": [{"id": 123'))
    assert "not valid JSON" in str(fails(fake_api))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected dict, got list"),
        ({"page": 1, "pages": 1}, "data: expected list, got NoneType"),
        ({"data": [None], "page": 1, "pages": 1}, "an item of data: expected dict"),
        ({"data": [{"label": "x"}], "page": 1, "pages": 1}, "a Linode without an id"),
        ({"data": [{"id": "123"}], "page": 1, "pages": 1}, "a Linode without an id"),
        ({"data": [{"id": 0}], "page": 1, "pages": 1}, "a Linode without an id"),
        ({"data": []}, "no page numbers"),
        ({"data": [], "page": "1", "pages": 1}, "no page numbers"),
        ({"data": [], "page": 1, "pages": 1.5}, "no page numbers"),
    ],
)
def test_the_wrong_shape(fake_api: FakeApi, body: Any, message: str) -> None:
    fake_api.route("GET", INSTANCES, Reply(200, json.dumps(body).encode()))
    assert message in str(fails(fake_api))


def test_a_pagination_that_never_ends(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_PAGES", 5)

    def endless(request: Request) -> dict[str, Any]:
        number = int(request.arg("page") or "1")
        return {"data": [], "page": number, "pages": number + 1, "results": 0}

    fake_api.route("GET", INSTANCES, endless)
    assert "more than 5 pages" in str(fails(fake_api))
    assert len(fake_api.requests) == 5


def test_a_pagination_that_repeats(fake_api: FakeApi) -> None:
    # whatever page is asked for, the answer is page 1 of 3
    fake_api.route("GET", INSTANCES, {"data": [], "page": 1, "pages": 3, "results": 0})
    assert "repeats" in str(fails(fake_api))
    assert len(fake_api.requests) == 2


def test_a_linode_listed_twice(fake_api: FakeApi) -> None:
    def twice(request: Request) -> dict[str, Any]:
        body = page(int(request.arg("page") or "1"))
        body["data"][0]["id"] = 456
        return body

    serve(fake_api)
    fake_api.route("GET", INSTANCES, twice)
    assert "'456' is listed twice" in str(fails(fake_api))


def test_a_short_rate_limit_is_waited_for(fake_api: FakeApi) -> None:
    answers = [Reply(429, {"errors": [{"reason": "Too many requests"}]}, {"Retry-After": "0"})]
    serve(fake_api, load("types.json"))
    fake_api.route(
        "GET",
        INSTANCES,
        lambda r: answers.pop() if answers else page(2) | {"page": 1, "pages": 1},
    )
    (found,) = run(fake_api)
    assert (found.instance_id, found.price_monthly) == ("789", Decimal("5.00"))
    assert [r.path for r in fake_api.requests] == [INSTANCES, INSTANCES, TYPES]


def test_a_long_rate_limit_ends_the_run(fake_api: FakeApi) -> None:
    fake_api.route("GET", INSTANCES, Reply(429, {}, {"Retry-After": "3600"}))
    error = fails(fake_api, RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == pytest.approx(3600)
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize("token", ["", "tok-secret-123\nX-Evil: 1", "tok-secret-123€"])
def test_a_token_no_header_can_carry_is_refused_unquoted(token: str) -> None:
    with pytest.raises(AuthFailed) as caught:
        linode.headers(Credentials(api_base="http://127.0.0.1:9", token=token))
    assert "secret" not in str(caught.value)
