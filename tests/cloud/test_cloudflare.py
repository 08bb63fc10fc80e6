"""The Cloudflare adapter against a loopback stand-in of API v4: the documented requests, the
envelope, pagination, Registrar expiry, and every way an answer can be wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import base
from sigma.cloud import cloudflare as cf
from sigma.cloud.base import Api, AuthFailed, Credentials, ProviderError, Zone

TOKEN = "cf-secret-token"
ACCOUNT = "a" * 32
OTHER_ACCOUNT = "b" * 32


def zone_id(n: int) -> str:
    return f"{n:032x}"


def envelope(result: Any, page: int = 1, total_pages: int = 1, per_page: int = 50) -> dict:
    count = len(result) if isinstance(result, list) else 0
    return {
        "success": True,
        "errors": [],
        "messages": [],
        "result": result,
        "result_info": {
            "page": page,
            "per_page": per_page,
            "total_pages": total_pages,
            "count": count,
            "total_count": count * total_pages,
        },
    }


def failure(code: int, message: str) -> dict:
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }


def zone_item(n: int, name: str, account: str = ACCOUNT, status: str = "active") -> dict:
    return {
        "id": zone_id(n),
        "name": name,
        "status": status,
        "paused": False,
        "type": "full",
        "account": {"id": account, "name": "Ops"},
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
    }


def record_item(
    rid: str, name: str, type_: str = "A", content: str = "192.0.2.1", **extra: Any
) -> dict:
    item = {
        "id": rid,
        "zone_id": zone_id(1),
        "zone_name": "example.com",
        "name": name,
        "type": type_,
        "content": content,
        "proxiable": True,
        "proxied": False,
        "ttl": 300,
        "created_on": "2024-01-01T00:00:00Z",
        "modified_on": "2024-01-01T00:00:00Z",
    }
    item.update(extra)
    return item


def paged(pages: list[list[dict]], per_page: int = 50):
    """A handler serving `pages` by the `page` argument."""

    def handler(request: Request) -> Any:
        page = int(request.arg("page", "1") or "1")
        return envelope(pages[page - 1], page=page, total_pages=len(pages), per_page=per_page)

    return handler


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeApi]:
    server = FakeApi().start()
    yield server
    server.stop()


@pytest.fixture
def fake_api(_server: FakeApi) -> FakeApi:
    """conftest's fake_api, one server for the module (stopping one costs half a second):
    each test starts with no routes and no requests."""
    _server.routes.clear()
    _server.requests.clear()
    return _server


@pytest.fixture
def api(fake_api: FakeApi) -> Iterator[Api]:
    creds = Credentials(api_base=fake_api.url + "/client/v4", token=TOKEN)
    with Api(creds, headers=cf.headers(creds)) as client:
        yield client


def no_token(exc: BaseException) -> None:
    assert TOKEN not in str(exc)
    assert TOKEN not in repr(exc)


# --------------------------------------------------------------------------- module


def test_module_interface() -> None:
    from sigma.cloud import adapter
    from sigma.vocab import DNS_ACCOUNT_KINDS

    assert adapter("cloudflare") is cf
    assert cf.KIND in DNS_ACCOUNT_KINDS
    assert cf.API_BASE == "https://api.cloudflare.com/client/v4"
    assert cf.NEEDS == ("token",)
    assert cf.TITLE and cf.HELP
    assert cf.headers(Credentials(api_base=cf.API_BASE, token=f" {TOKEN}\n")) == {
        "Authorization": f"Bearer {TOKEN}"
    }


@pytest.mark.parametrize("token", ["", "   ", "two words", "line\nbreak", "tok\x00en", "tökén"])
def test_a_token_that_cannot_be_a_header_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(AuthFailed) as caught:
        cf.headers(Credentials(api_base=cf.API_BASE, token=token))
    if token.strip():
        assert token.strip() not in str(caught.value)


# ----------------------------------------------------------------------------- zones


def test_zones_documented_request_and_pagination(fake_api: FakeApi, api: Api) -> None:
    pages = [
        [zone_item(1, "Example.COM."), zone_item(2, "example.net", status="pending")],
        [zone_item(3, "example.org", account=OTHER_ACCOUNT)],
    ]
    fake_api.route("GET", "/client/v4/zones", paged(pages))
    fake_api.route("GET", f"/client/v4/accounts/{ACCOUNT}/registrar/domains", envelope([]))
    fake_api.route("GET", f"/client/v4/accounts/{OTHER_ACCOUNT}/registrar/domains", envelope(None))

    found = cf.zones(api)

    assert found == [
        Zone(zone_id=zone_id(1), name="example.com", status="active"),
        Zone(zone_id=zone_id(2), name="example.net", status="pending"),
        Zone(zone_id=zone_id(3), name="example.org", status="active"),
    ]
    zone_requests = [r for r in fake_api.requests if r.path == "/client/v4/zones"]
    assert [r.query for r in zone_requests] == [
        {"page": ["1"], "per_page": ["50"]},
        {"page": ["2"], "per_page": ["50"]},
    ]
    for request in fake_api.requests:
        assert request.method == "GET"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
    # Registrar once per distinct account, however many zones it holds
    registrar = [r.path for r in fake_api.requests if "registrar" in r.path]
    assert registrar == [
        f"/client/v4/accounts/{ACCOUNT}/registrar/domains",
        f"/client/v4/accounts/{OTHER_ACCOUNT}/registrar/domains",
    ]


def test_no_zones(fake_api: FakeApi, api: Api) -> None:
    fake_api.route("GET", "/client/v4/zones", envelope([], total_pages=0))
    assert cf.zones(api) == []
    assert len(fake_api.requests) == 1


def test_registrar_expiry_matched_by_name(fake_api: FakeApi, api: Api) -> None:
    fake_api.route(
        "GET",
        "/client/v4/zones",
        envelope([zone_item(1, "example.com"), zone_item(2, "example.net"), zone_item(3, "x.org")]),
    )
    fake_api.route(
        "GET",
        f"/client/v4/accounts/{ACCOUNT}/registrar/domains",
        envelope(
            [
                {
                    "id": "f" * 32,
                    "name": "EXAMPLE.COM",
                    "current_registrar": "Cloudflare",
                    "expires_at": "2027-09-10T05:16:19Z",
                    "auto_renew": True,
                    "locked": True,
                },
                # no name: the documented schema's id (the zone's) is the match
                {"id": zone_id(3), "expires_at": "2026-01-02T03:04:05.123456Z"},
                {"id": "e" * 32, "name": "not-on-cloudflare-dns.com", "expires_at": "2030-01-01"},
                {"name": "example.net", "expires_at": "not a date"},
                "garbage",
            ]
        ),
    )

    by_name = {zone.name: zone for zone in cf.zones(api)}

    assert by_name["example.com"].expires_at == datetime(2027, 9, 10, 5, 16, 19, tzinfo=UTC)
    assert by_name["example.net"].expires_at is None
    assert by_name["x.org"].expires_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(403, failure(10000, "Authentication error")),
        Reply(403, failure(9109, "Invalid access token")),
        Reply(400, failure(10000, "Authentication error")),
        Reply(200, failure(10000, "Authentication error")),
        Reply(500, {"success": False, "errors": [{"code": 1000, "message": "boom"}]}),
        Reply(200, "<html>login</html>"),
        Reply(200, {"success": True, "result": {"not": "a list"}}),
        Reply(429, failure(971, "slow down"), {"Retry-After": "3600"}),
    ],
)
def test_registrar_failure_leaves_expiry_unknown(fake_api: FakeApi, api: Api, reply: Reply) -> None:
    fake_api.route("GET", "/client/v4/zones", envelope([zone_item(1, "example.com")]))
    fake_api.route("GET", f"/client/v4/accounts/{ACCOUNT}/registrar/domains", reply)

    assert cf.zones(api) == [Zone(zone_id=zone_id(1), name="example.com", status="active")]


def test_an_account_id_that_is_not_an_id_is_not_put_in_a_path(fake_api: FakeApi, api: Api) -> None:
    fake_api.route(
        "GET", "/client/v4/zones", envelope([zone_item(1, "example.com", account="../../zones")])
    )
    assert [zone.name for zone in cf.zones(api)] == ["example.com"]
    assert [r.path for r in fake_api.requests] == ["/client/v4/zones"]


# ----------------------------------------------------------------------------- records


def test_records_documented_request_pagination_and_fields(fake_api: FakeApi, api: Api) -> None:
    path = f"/client/v4/zones/{zone_id(1)}/dns_records"
    pages = [
        [
            record_item("r1", "Example.com.", "A", "192.0.2.1", ttl=1, proxied=True),
            record_item("r2", "WWW.example.com", "cname", "example.com", ttl=3600),
        ],
        [
            record_item("r3", "example.com", "AAAA", "2001:db8::1", proxied="yes"),
            record_item("r4", "example.com", "TXT", "v=spf1 " + "x" * 5000, ttl=None),
        ],
        [record_item("r5", "mail.example.com", "MX", "mx.example.com", priority=10)],
    ]
    fake_api.route("GET", path, paged(pages, per_page=100))

    found = cf.records(api, Zone(zone_id=zone_id(1), name="example.com"))

    assert [r.query for r in fake_api.requests] == [
        {"page": [str(n)], "per_page": ["100"]} for n in (1, 2, 3)
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake_api.requests)
    assert [(r.record_id, r.name, r.type, r.ttl, r.proxied) for r in found] == [
        ("r1", "example.com", "A", None, True),  # ttl 1 is "automatic"
        ("r2", "www.example.com", "CNAME", 3600, False),
        ("r3", "example.com", "AAAA", 300, False),  # only a JSON true is proxied
        ("r4", "example.com", "TXT", None, False),
        ("r5", "mail.example.com", "MX", 300, False),
    ]
    assert found[0].content == "192.0.2.1"
    assert len(found[3].content) == cf.CONTENT_LIMIT


@pytest.mark.parametrize("bad", ["", "../../user/tokens", "A" * 31, zone_id(1) + "/x", "g" * 32])
def test_records_refuse_a_zone_id_that_is_not_one(fake_api: FakeApi, api: Api, bad: str) -> None:
    with pytest.raises(ProviderError, match="not a zone id"):
        cf.records(api, Zone(zone_id=bad, name="example.com"))
    assert fake_api.requests == []


def test_duplicate_record_ids(fake_api: FakeApi, api: Api) -> None:
    pages = [[record_item("r1", "a.example.com")], [record_item("r1", "b.example.com")]]
    fake_api.route("GET", f"/client/v4/zones/{zone_id(1)}/dns_records", paged(pages))
    with pytest.raises(ProviderError, match="listed twice"):
        cf.records(api, Zone(zone_id=zone_id(1), name="example.com"))


def test_duplicate_zone_ids(fake_api: FakeApi, api: Api) -> None:
    fake_api.route(
        "GET", "/client/v4/zones", envelope([zone_item(1, "a.com"), zone_item(1, "b.com")])
    )
    with pytest.raises(ProviderError, match="listed twice"):
        cf.zones(api)


# --------------------------------------------------------------- errors and bad answers


@pytest.mark.parametrize(
    "reply",
    [
        Reply(400, failure(10000, "Authentication error")),
        Reply(403, failure(9109, "Invalid access token")),
        Reply(401, failure(9109, "Invalid access token")),
        Reply(200, failure(9109, "Invalid access token")),
        Reply(
            400,
            {
                "success": False,
                "errors": [
                    {
                        "code": 6003,
                        "message": "Invalid request headers",
                        "error_chain": [
                            {"code": 6111, "message": "Invalid format for Authorization header"}
                        ],
                    }
                ],
            },
        ),
    ],
)
def test_invalid_token_is_auth_failed(fake_api: FakeApi, api: Api, reply: Reply) -> None:
    fake_api.route("GET", "/client/v4/zones", reply)
    fake_api.route("GET", f"/client/v4/zones/{zone_id(1)}/dns_records", reply)
    with pytest.raises(AuthFailed) as caught:
        cf.zones(api)
    no_token(caught.value)
    with pytest.raises(AuthFailed) as caught:
        cf.records(api, Zone(zone_id=zone_id(1), name="example.com"))
    no_token(caught.value)


def test_another_failure_is_a_provider_error_with_cloudflares_message(
    fake_api: FakeApi, api: Api
) -> None:
    fake_api.route("GET", "/client/v4/zones", Reply(200, failure(1003, "Invalid or missing zone")))
    with pytest.raises(ProviderError, match="Invalid or missing zone") as caught:
        cf.zones(api)
    assert not isinstance(caught.value, AuthFailed)
    fake_api.route("GET", "/client/v4/zones", Reply(400, failure(7003, "Could not route")))
    with pytest.raises(ProviderError, match="HTTP 400") as caught:
        cf.zones(api)
    assert not isinstance(caught.value, AuthFailed)


@pytest.mark.parametrize(
    "reply, message",
    [
        (Reply(200, "<!DOCTYPE html><html><body>Attention Required!</body></html>"), "HTML"),
        (Reply(502, "<html>Bad gateway</html>"), "HTTP 502"),
        (
            Reply(200, b'{"success": true, "result": [', {"Content-Type": "application/json"}),
            "JSON",
        ),
        (Reply(200, [1, 2, 3]), "expected dict"),
        (Reply(200, {"result": [], "result_info": {"total_pages": 1}}), "failure"),
        (Reply(200, {"success": True, "result": {}, "result_info": {"total_pages": 1}}), "result"),
        (Reply(200, {"success": True, "result": []}), "result_info"),
        (Reply(200, {"success": True, "result": [], "result_info": {"page": 1}}), "total_pages"),
        (Reply(200, {**envelope(["a zone?"])}), "expected dict"),
        (Reply(200, envelope([{"name": "no-id.com"}])), "without an id"),
        (Reply(200, envelope([], page=2)), "got page 2"),
    ],
)
def test_bad_answers_are_provider_errors(
    fake_api: FakeApi, api: Api, reply: Reply, message: str
) -> None:
    fake_api.route("GET", "/client/v4/zones", reply)
    with pytest.raises(ProviderError, match=message) as caught:
        cf.zones(api)
    assert not isinstance(caught.value, AuthFailed)
    no_token(caught.value)


def test_pagination_that_never_ends(
    fake_api: FakeApi, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "MAX_PAGES", 5)

    def endless(request: Request) -> Any:
        page = int(request.arg("page", "1") or "1")
        return envelope([zone_item(page, f"z{page}.com")], page=page, total_pages=10**9)

    fake_api.route("GET", "/client/v4/zones", endless)
    with pytest.raises(ProviderError, match="more than 5 pages"):
        cf.zones(api)
    assert len(fake_api.requests) == 5


def test_total_pages_never_reached(
    fake_api: FakeApi, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A total that keeps growing (each page says there is one more) still ends."""
    monkeypatch.setattr(base, "MAX_PAGES", 4)

    def receding(request: Request) -> Any:
        page = int(request.arg("page", "1") or "1")
        return envelope([], page=page, total_pages=page + 1, per_page=100)

    fake_api.route("GET", f"/client/v4/zones/{zone_id(1)}/dns_records", receding)
    with pytest.raises(ProviderError, match="more than 4 pages"):
        cf.records(api, Zone(zone_id=zone_id(1), name="example.com"))


def test_too_many_items(fake_api: FakeApi, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_ITEMS", 3)
    pages = [[record_item(f"r{p}{n}", "a.example.com") for n in range(2)] for p in range(3)]
    fake_api.route("GET", f"/client/v4/zones/{zone_id(1)}/dns_records", paged(pages))
    with pytest.raises(ProviderError, match="more than 3 records"):
        cf.records(api, Zone(zone_id=zone_id(1), name="example.com"))


def test_hostile_text_is_bounded_and_cleaned(fake_api: FakeApi, api: Api) -> None:
    fake_api.route(
        "GET",
        "/client/v4/zones",
        envelope([{**zone_item(1, "exa\x00mple.com\u2028"), "status": "act\x1bive" * 50}]),
    )
    fake_api.route("GET", f"/client/v4/accounts/{ACCOUNT}/registrar/domains", envelope([]))
    (zone,) = cf.zones(api)
    assert zone.name == "example.com"
    assert "\x1b" not in zone.status and len(zone.status) <= 32
