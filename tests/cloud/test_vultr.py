"""The Vultr adapter against a loopback stand-in of `GET /v2/instances`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import base, vultr
from sigma.cloud.base import Api, AuthFailed, Credentials, Instance, ProviderError, RateLimited

TOKEN = "tok-secret-123"
FIXTURES = Path(__file__).parent / "fixtures" / "vultr"
CURSOR = "bmV4dF9fY2I2NzZhNDY="  # page 1's meta.links.next


def page(number: int) -> dict[str, Any]:
    return json.loads((FIXTURES / f"instances_page{number}.json").read_text())


def run(fake_api: FakeApi) -> list[Instance]:
    credentials = Credentials(api_base=fake_api.url, token=TOKEN)
    with Api(credentials, headers=vultr.headers(credentials)) as api:
        return vultr.instances(api)


def fails(fake_api: FakeApi, kind: type[ProviderError] = ProviderError) -> ProviderError:
    with pytest.raises(kind) as caught:
        run(fake_api)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    return caught.value


def paged(request: Request) -> Any:
    cursor = request.arg("cursor")
    if cursor is None:
        return page(1)
    if cursor == CURSOR:
        return page(2)
    return Reply(400, {"error": "Invalid cursor", "status": 400})


def test_the_documented_request_over_two_pages(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/instances", paged)
    found = run(fake_api)
    assert [r.path for r in fake_api.requests] == ["/v2/instances", "/v2/instances"]
    assert [r.query for r in fake_api.requests] == [
        {"per_page": ["100"]},
        {"per_page": ["100"], "cursor": [CURSOR]},
    ]
    assert {r.headers["authorization"] for r in fake_api.requests} == {f"Bearer {TOKEN}"}
    assert len(found) == 3


def test_the_records_normalised(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/instances", paged)
    tokyo, frankfurt, pending = run(fake_api)
    assert tokyo == Instance(
        instance_id="cb676a46-66fd-4dfb-b839-443f2e6c0b60",
        hostname="web-tokyo.example.com",
        ipv4=["192.0.2.123"],
        ipv6=["2001:db8:1112:18fb:200:ff:fe00:0"],
        region="nrt",
        country="JP",
        city="Tokyo",
        plan="vc2-1c-2gb",
        cpu_cores=1,
        ram_mb=2048,
        disk_gb=55,
        price_monthly=None,  # an instance has no price field
        currency="",
        traffic_quota_gb=2048,
        state="running",
    )
    # no hostname: the label; no IPv6; active but powered off
    assert (frankfurt.hostname, frankfurt.ipv6, frankfurt.state) == ("backup-fra", [], "stopped")
    assert (frankfurt.country, frankfurt.city) == ("DE", "Frankfurt")
    assert frankfurt.traffic_quota_gb == 1024
    # pending: 0.0.0.0 and :: are Vultr's "no address yet"; an unknown region has no country
    assert (pending.ipv4, pending.ipv6, pending.state) == ([], [], "pending")
    assert (pending.region, pending.country, pending.hostname) == ("xyz", "", "new-box")


@pytest.mark.parametrize(
    ("status", "power", "state"),
    [
        ("active", "running", "running"),
        ("active", "stopped", "stopped"),
        ("active", "weird", "other"),
        ("pending", "running", "pending"),
        ("suspended", "running", "other"),
        ("resizing", "running", "other"),
    ],
)
def test_the_state(fake_api: FakeApi, status: str, power: str, state: str) -> None:
    item = page(1)["instances"][0] | {"status": status, "power_status": power}
    fake_api.route("GET", "/v2/instances", {"instances": [item], "meta": page(2)["meta"]})
    assert run(fake_api)[0].state == state


def test_a_cursor_is_sent_url_encoded(fake_api: FakeApi) -> None:
    cursor = "a+b/c=&d"

    def answer(request: Request) -> Any:
        if request.arg("cursor") is None:
            return {"instances": [], "meta": {"links": {"next": cursor, "prev": ""}}}
        assert request.arg("cursor") == cursor
        return page(2)

    fake_api.route("GET", "/v2/instances", answer)
    assert len(run(fake_api)) == 1


def test_401_is_auth_failed(fake_api: FakeApi) -> None:
    body = {"error": "Invalid API token.", "status": 401}
    fake_api.route("GET", "/v2/instances", Reply(401, body))
    assert "Invalid API token" in str(fails(fake_api, AuthFailed))


def test_an_html_answer(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/instances", Reply(200, "<!DOCTYPE html><title>Login</title>"))
    assert "HTML" in str(fails(fake_api))


def test_malformed_json(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/instances", Reply(200, b'{"instances": [}'))
    assert "not valid JSON" in str(fails(fake_api))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected dict, got list"),
        ("instances", "expected dict, got str"),
        ({"instances": None}, "instances: expected list, got NoneType"),
        ({"instances": ["cb676a46"]}, "an instance: expected dict, got str"),
        ({"instances": [{"label": "x"}]}, "an instance without an id"),
        ({"instances": [{"id": "  "}]}, "an instance without an id"),
        ({"instances": [{"id": 17}]}, "an instance without an id"),
        ({"instances": []}, "meta: expected dict"),
        ({"instances": [], "meta": {"links": "x"}}, "meta.links: expected dict"),
        ({"instances": [], "meta": {"links": {"next": 2}}}, "not a page cursor"),
    ],
)
def test_the_wrong_shape(fake_api: FakeApi, body: Any, message: str) -> None:
    fake_api.route("GET", "/v2/instances", Reply(200, json.dumps(body).encode()))
    assert message in str(fails(fake_api))


def test_a_pagination_that_never_ends(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_PAGES", 4)
    counter = iter(range(1000))
    fake_api.route(
        "GET",
        "/v2/instances",
        lambda r: {"instances": [], "meta": {"links": {"next": f"c{next(counter)}"}}},
    )
    assert "more than 4 pages" in str(fails(fake_api))
    assert len(fake_api.requests) == 4


def test_a_cursor_that_repeats(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/instances", {"instances": [], "meta": {"links": {"next": "same"}}})
    assert "repeats" in str(fails(fake_api))
    assert len(fake_api.requests) == 2


def test_an_instance_listed_twice(fake_api: FakeApi) -> None:
    def twice(request: Request) -> Any:
        body = paged(request)
        if request.arg("cursor"):
            body["instances"][0]["id"] = "cb676a46-66fd-4dfb-b839-443f2e6c0b60"
        return body

    fake_api.route("GET", "/v2/instances", twice)
    assert "'cb676a46-66fd-4dfb-b839-443f2e6c0b60' is listed twice" in str(fails(fake_api))


def test_a_short_rate_limit_is_waited_for(fake_api: FakeApi) -> None:
    answers = [Reply(429, {"error": "Rate limit exceeded", "status": 429}, {"Retry-After": "0"})]
    fake_api.route("GET", "/v2/instances", lambda r: answers.pop() if answers else page(2))
    assert len(run(fake_api)) == 1
    assert len(fake_api.requests) == 2


def test_a_long_rate_limit_ends_the_run(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/instances", Reply(429, {}, {"Retry-After": "3600"}))
    error = fails(fake_api, RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == pytest.approx(3600)
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize("token", ["", "tok-secret-123\nX-Evil: 1", "tok secret 123"])
def test_a_key_no_header_can_carry_is_refused_unquoted(token: str) -> None:
    with pytest.raises(AuthFailed) as caught:
        vultr.headers(Credentials(api_base="http://127.0.0.1:9", token=token))
    assert "secret" not in str(caught.value)
