"""The DigitalOcean adapter against a loopback stand-in of `GET /v2/droplets`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import base, digitalocean
from sigma.cloud.base import Api, AuthFailed, Credentials, Instance, ProviderError, RateLimited

TOKEN = "tok-secret-123"
FIXTURES = Path(__file__).parent / "fixtures" / "digitalocean"


def page(number: int, url: str) -> dict[str, Any]:
    """A documented page, its links pointing at `url` instead of api.digitalocean.com."""
    raw = (FIXTURES / f"droplets_page{number}.json").read_text()
    return json.loads(raw.replace("https://api.digitalocean.com", url))


def run(fake_api: FakeApi) -> list[Instance]:
    credentials = Credentials(api_base=fake_api.url, token=TOKEN)
    with Api(credentials, headers=digitalocean.headers(credentials)) as api:
        return digitalocean.instances(api)


def fails(fake_api: FakeApi, kind: type[ProviderError] = ProviderError) -> ProviderError:
    with pytest.raises(kind) as caught:
        run(fake_api)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    return caught.value


def serve_pages(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/droplets", lambda r: page(int(r.arg("page") or "1"), fake_api.url))


@pytest.fixture
def elsewhere() -> Iterator[FakeApi]:
    """Another host (on loopback too) that a next-page link may point at."""
    other = FakeApi().start()
    other.route("GET", "/v2/droplets", {"droplets": [], "links": {}})
    yield other
    other.stop()


def test_the_documented_request_over_two_pages(fake_api: FakeApi) -> None:
    serve_pages(fake_api)
    found = run(fake_api)
    assert [r.path for r in fake_api.requests] == ["/v2/droplets", "/v2/droplets"]
    assert [r.query for r in fake_api.requests] == [
        {"page": ["1"], "per_page": ["200"]},
        {"page": ["2"], "per_page": ["200"]},
    ]
    assert {r.headers["authorization"] for r in fake_api.requests} == {f"Bearer {TOKEN}"}
    assert [i.instance_id for i in found] == ["3164444", "3164459", "3164500"]


def test_the_records_normalised(fake_api: FakeApi) -> None:
    serve_pages(fake_api)
    web, worker, fresh = run(fake_api)
    assert web == Instance(
        instance_id="3164444",
        hostname="example.com",
        ipv4=["192.0.2.154"],  # the private 10.128.x address is not kept
        ipv6=["2001:db8:0:1010::18a:a001"],
        region="nyc3",
        country="US",
        city="New York",
        plan="s-1vcpu-1gb",
        cpu_cores=1,
        ram_mb=1024,
        disk_gb=25,
        price_monthly=Decimal("6.00"),
        currency="USD",
        traffic_quota_gb=1000,  # size.transfer: 1 TB
        state="running",
    )
    assert (worker.ipv4, worker.ipv6, worker.state) == (["198.51.100.25"], [], "stopped")
    assert (worker.country, worker.price_monthly, worker.traffic_quota_gb) == (
        "NL",
        Decimal("24.00"),
        4000,
    )
    assert (fresh.ipv4, fresh.state, fresh.traffic_quota_gb) == ([], "pending", 500)
    assert (fresh.region, fresh.country, fresh.city) == ("zzz1", "", "")  # not a known region


def test_archive_and_no_size(fake_api: FakeApi) -> None:
    item = page(1, fake_api.url)["droplets"][0]
    item.update(status="archive", size=None, size_slug="s-1vcpu-1gb")
    fake_api.route("GET", "/v2/droplets", {"droplets": [item], "links": {}})
    (droplet,) = run(fake_api)
    assert (droplet.state, droplet.plan, droplet.price_monthly, droplet.currency) == (
        "other",
        "s-1vcpu-1gb",
        None,
        "",
    )


@pytest.mark.parametrize(
    "where",
    [
        "{other}/v2/droplets?page=2&per_page=200",  # another port: another host
        "{url}@{host}/v2/droplets?page=2",  # the base as a user name
        "{url}.{host}/v2/droplets?page=2",
        "{url}0/v2/droplets?page=2",  # the base's port as a prefix of another
        "//{host}/v2/droplets?page=2",
    ],
)
def test_a_next_link_to_another_host_is_not_followed(
    fake_api: FakeApi, elsewhere: FakeApi, where: str
) -> None:
    link = where.format(
        other=elsewhere.url, url=fake_api.url, host=elsewhere.url.removeprefix("http://")
    )
    fake_api.route("GET", "/v2/droplets", {"droplets": [], "links": {"pages": {"next": link}}})
    assert "not followed" in str(fails(fake_api))
    assert len(fake_api.requests) == 1 and elsewhere.requests == []


def test_401_is_auth_failed(fake_api: FakeApi) -> None:
    body = {"id": "Unauthorized", "message": "Unable to authenticate you"}
    fake_api.route("GET", "/v2/droplets", Reply(401, body))
    assert "Unable to authenticate you" in str(fails(fake_api, AuthFailed))


def test_an_html_answer(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/droplets", Reply(200, "\n  <html>502 Bad Gateway</html>"))
    assert "HTML" in str(fails(fake_api))


def test_malformed_json(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/droplets", Reply(200, b'{"droplets": [{"id": 1,}]}'))
    assert "not valid JSON" in str(fails(fake_api))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("droplets", "expected dict, got str"),
        ({"droplets": {"id": 1}}, "droplets: expected list, got dict"),
        ({"droplets": [[1]]}, "a droplet: expected dict, got list"),
        ({"droplets": [{"name": "x"}]}, "a droplet without an id"),
        ({"droplets": [{"id": "3164444"}]}, "a droplet without an id"),
        ({"droplets": [{"id": -1}]}, "a droplet without an id"),
        ({"droplets": []}, "links: expected dict, got NoneType"),
        ({"droplets": [], "links": {"pages": "next"}}, "links.pages: expected dict"),
        ({"droplets": [], "links": {"pages": {"next": 2}}}, "links.pages.next is not a link"),
    ],
)
def test_the_wrong_shape(fake_api: FakeApi, body: Any, message: str) -> None:
    fake_api.route("GET", "/v2/droplets", Reply(200, json.dumps(body).encode()))
    assert message in str(fails(fake_api))


def test_a_pagination_that_never_ends(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_PAGES", 6)

    def endless(request: Request) -> dict[str, Any]:
        link = f"{fake_api.url}/v2/droplets?page={int(request.arg('page') or '1') + 1}"
        return {"droplets": [], "links": {"pages": {"next": link}}}

    fake_api.route("GET", "/v2/droplets", endless)
    assert "more than 6 pages" in str(fails(fake_api))
    assert len(fake_api.requests) == 6


def test_a_next_link_that_repeats(fake_api: FakeApi) -> None:
    link = f"{fake_api.url}/v2/droplets?page=2&per_page=200"
    fake_api.route("GET", "/v2/droplets", {"droplets": [], "links": {"pages": {"next": link}}})
    assert "repeats" in str(fails(fake_api))
    assert len(fake_api.requests) == 2


def test_a_droplet_listed_twice(fake_api: FakeApi) -> None:
    def twice(request: Request) -> dict[str, Any]:
        body = page(int(request.arg("page") or "1"), fake_api.url)
        body["droplets"][0]["id"] = 3164459
        return body

    fake_api.route("GET", "/v2/droplets", twice)
    assert "'3164459' is listed twice" in str(fails(fake_api))


def test_a_short_rate_limit_is_waited_for(fake_api: FakeApi) -> None:
    answers = [Reply(429, {"id": "too_many_requests"}, {"Retry-After": "0"})]
    fake_api.route(
        "GET", "/v2/droplets", lambda r: answers.pop() if answers else page(2, fake_api.url)
    )
    assert [i.instance_id for i in run(fake_api)] == ["3164500"]
    assert len(fake_api.requests) == 2


def test_a_long_rate_limit_ends_the_run(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/v2/droplets", Reply(429, {}, {"Retry-After": "3600"}))
    error = fails(fake_api, RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == pytest.approx(3600)
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize("token", ["", "tok-secret-123\r\nHost: evil", "tok-secret-123\x00"])
def test_a_token_no_header_can_carry_is_refused_unquoted(token: str) -> None:
    with pytest.raises(AuthFailed) as caught:
        digitalocean.headers(Credentials(api_base="http://127.0.0.1:9", token=token))
    assert "secret" not in str(caught.value)
