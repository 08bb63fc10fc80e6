"""The Virtualizor end-user adapter against a loopback stand-in of a panel's
`index.php?act=listvs&api=json&apikey=...&apipass=...`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import base, virtualizor
from sigma.cloud.base import Api, AuthFailed, Credentials, Instance, ProviderError, RateLimited

API_KEY = "VZKEY4S3CR3T0001"
API_PASS = "pa55+w0rd/with=odd&chars"
FIXTURES = Path(__file__).parent / "fixtures" / "virtualizor"


def listvs() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "listvs.json").read_text())
    return body


def server(vpsid: int, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = copy.deepcopy(listvs()["vs"]["3008"])
    item.update(vpsid=str(vpsid), hostname=f"vps{vpsid}.example.com", **fields)
    return item


class Panel:
    """listvs of one end user, page by page (page, reslen), behind the API key and pass."""

    def __init__(self, fake: FakeApi, servers: dict[str, Any]):
        self.servers = servers
        self.ignore_page = False
        fake.route("GET", "/index.php", self.handle)

    def handle(self, request: Request) -> Any:
        if request.arg("apikey") != API_KEY or request.arg("apipass") != API_PASS:
            return {"uid": -1, "act": "listvs", "error": ["Invalid API Key or API Pass"]}
        if (request.arg("act"), request.arg("api")) != ("listvs", "json"):
            return Reply(400, "<html>unknown act</html>")
        body = listvs()
        number = 1 if self.ignore_page else int(request.arg("page", "1") or "1")
        length = int(request.arg("reslen", "50") or "50")
        items = list(self.servers.items())[(number - 1) * length : number * length]
        body["vs"] = dict(items) if items else []
        return body


def run(fake_api: FakeApi, key: str = API_KEY, password: str = API_PASS) -> list[Instance]:
    credentials = Credentials(api_base=fake_api.url, key_id=key, secret=password)
    with Api(credentials, headers=virtualizor.headers(credentials)) as api:
        return virtualizor.instances(api)


def fails(
    fake_api: FakeApi, kind: type[ProviderError] = ProviderError, **kwargs: Any
) -> ProviderError:
    with pytest.raises(kind) as caught:
        run(fake_api, **kwargs)
    for secret in (API_KEY, API_PASS, kwargs.get("key", API_KEY), kwargs.get("password", API_PASS)):
        assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert caught.value.__cause__ is None
    return caught.value


def test_the_documented_request(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/index.php", listvs())
    found = run(fake_api)
    assert [i.instance_id for i in found] == ["3008", "3010"]
    (request,) = fake_api.requests
    assert request.path == "/index.php"
    assert request.query == {
        "act": ["listvs"],
        "api": ["json"],
        "apikey": [API_KEY],
        "apipass": [API_PASS],
        "page": ["1"],
        "reslen": ["50"],
    }
    assert "authorization" not in request.headers


def test_the_records_normalised(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/index.php", listvs())
    web, parked = run(fake_api)
    assert web == Instance(
        instance_id="3008",
        hostname="web-1.example.com",
        ipv4=["203.0.113.20"],
        ipv6=["2001:db8:20::2"],
        cpu_cores=2,
        ram_mb=4096,
        disk_gb=40,
        traffic_quota_gb=2000,
        traffic_used_bytes=123_450_000_000,  # 123.45 GB
        state="running",
    )
    assert parked == Instance(
        instance_id="3010",
        hostname="v1003",  # no hostname: the panel's name
        ipv4=["198.51.100.7"],  # ips as a list
        cpu_cores=1,
        ram_mb=1024,
        disk_gb=20,
        traffic_quota_gb=None,  # 0: unlimited
        traffic_used_bytes=0,
        state="stopped",  # suspended
    )


def test_states(fake_api: FakeApi) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"status": 1, "suspended": "0"}, "running"),
        ({"status": "1"}, "running"),
        ({"status": 0}, "stopped"),
        ({"status": "1", "suspended": "1"}, "stopped"),
        ({"status": 2}, "other"),
        ({"status": None}, "other"),
    ]
    Panel(fake_api, {str(n): server(n, **fields) for n, (fields, _) in enumerate(cases)})
    assert [i.state for i in run(fake_api)] == [state for _, state in cases]


def test_garbage_amounts_are_unknown(fake_api: FakeApi) -> None:
    item = server(
        1,
        used_bandwidth="lots",
        bandwidth="-5",
        space="NaN",
        ram="4 GB",
        cores=True,
        ips={"1": "not-an-ip", "2": "192.0.2.1", "3": "2001:db8::/64", "4": 7},
    )
    Panel(fake_api, {"1": item})
    (found,) = run(fake_api)
    assert found.traffic_used_bytes is None and found.traffic_quota_gb is None
    assert found.disk_gb is None and found.ram_mb is None and found.cpu_cores is None
    assert (found.ipv4, found.ipv6) == (["192.0.2.1"], [])


def test_used_bw_is_read_when_used_bandwidth_is_absent(fake_api: FakeApi) -> None:
    item = server(1, used_bw="1.5")
    del item["used_bandwidth"]
    Panel(fake_api, {"1": item})
    assert run(fake_api)[0].traffic_used_bytes == 1_500_000_000


def test_pages(fake_api: FakeApi) -> None:
    Panel(fake_api, {str(n): server(n) for n in range(1, 54)})
    found = run(fake_api)
    assert [i.instance_id for i in found] == [str(n) for n in range(1, 54)]
    assert [r.arg("page") for r in fake_api.requests] == ["1", "2"]


def test_a_panel_that_ignores_the_page(fake_api: FakeApi) -> None:
    panel = Panel(fake_api, {str(n): server(n) for n in range(1, 51)})
    panel.ignore_page = True
    assert len(run(fake_api)) == 50
    assert [r.arg("page") for r in fake_api.requests] == ["1", "2"]


def test_no_servers(fake_api: FakeApi) -> None:
    Panel(fake_api, {})
    assert run(fake_api) == []


def test_a_pagination_that_never_ends(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_PAGES", 3)

    def endless(request: Request) -> Any:
        number = int(request.arg("page", "1") or "1")
        body = listvs()
        body["vs"] = {str(number * 100 + n): server(number * 100 + n) for n in range(50)}
        return body

    fake_api.route("GET", "/index.php", endless)
    assert "more than 3 pages" in str(fails(fake_api, ProviderError))
    assert len(fake_api.requests) == 3


def test_duplicate_ids_across_pages(fake_api: FakeApi) -> None:
    def overlapping(request: Request) -> Any:
        start = 1 if request.arg("page") == "1" else 50  # page 2 repeats server 50
        body = listvs()
        body["vs"] = {str(n): server(n) for n in range(start, start + 50)}
        return body

    fake_api.route("GET", "/index.php", overlapping)
    assert "50 is listed twice" in str(fails(fake_api, ProviderError))


def test_a_server_whose_vpsid_disagrees_with_its_key(fake_api: FakeApi) -> None:
    body = listvs()
    body["vs"]["3008"]["vpsid"] = "9999"
    fake_api.route("GET", "/index.php", body)
    fails(fake_api, ProviderError)


def each_fails(fake_api: FakeApi, bodies: list[Any], kind: type[ProviderError]) -> None:
    """Every body fails as `kind` (and only as `kind`), with no credential in the message."""
    credentials = Credentials(api_base=fake_api.url, key_id=API_KEY, secret=API_PASS)
    with Api(credentials, headers=virtualizor.headers(credentials)) as api:
        for body in bodies:
            fake_api.route("GET", "/index.php", body)
            with pytest.raises(ProviderError) as caught:
                virtualizor.instances(api)
            assert isinstance(caught.value, kind), body
            assert kind is AuthFailed or not isinstance(caught.value, AuthFailed), body
            assert API_KEY not in str(caught.value) and API_PASS not in str(caught.value)


def test_refused_credentials_are_auth_failed(fake_api: FakeApi) -> None:
    answers: list[Any] = [
        {"uid": -1, "act": "listvs", "error": ["Invalid API Key or API Pass"]},
        {"error": {"0": "The API key you specified is not valid"}},
        {"error": "Authentication failed"},
        {"uid": -1, "act": "login"},
        {"uid": "-1"},
        {"act": "login", "title": "Login"},
    ]
    each_fails(fake_api, answers, AuthFailed)


def test_wrong_credentials_against_the_panel(fake_api: FakeApi) -> None:
    Panel(fake_api, {"1": server(1)})
    fails(fake_api, AuthFailed, password="wrong-pass")
    fails(fake_api, AuthFailed, key="WRONGKEY00000000")


def test_another_panel_error_is_a_provider_error(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/index.php", {"error": [f"Slave {API_KEY} is offline"]})
    failure = fails(fake_api, ProviderError)
    assert not isinstance(failure, AuthFailed) and "offline" in str(failure)


def test_the_html_login_page_is_a_provider_error(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/index.php", Reply(200, "<!DOCTYPE html><html>Login</html>"))
    failure = fails(fake_api, ProviderError)
    assert not isinstance(failure, AuthFailed) and "HTML" in str(failure)


def test_http_errors(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/index.php", Reply(403, {"error": "forbidden"}))
    fails(fake_api, AuthFailed)
    fake_api.route("GET", "/index.php", Reply(503, "busy"))
    assert "HTTP 503" in str(fails(fake_api, ProviderError))
    fake_api.route("GET", "/index.php", Reply(429, {}, headers={"Retry-After": "300"}))
    fails(fake_api, RateLimited)


def test_malformed_json(fake_api: FakeApi) -> None:
    fake_api.route(
        "GET", "/index.php", Reply(200, b'{"vs": {"1": ', {"Content-Type": "application/json"})
    )
    assert "not valid JSON" in str(fails(fake_api, ProviderError))


def test_the_wrong_shape(fake_api: FakeApi) -> None:
    bodies: list[Any] = [
        [],
        {"title": "List Virtual Servers"},
        {"vs": "none"},
        {"vs": {"1": "web-1"}},
        {"vs": [{"hostname": "no id"}]},
        {"vs": {"": {"hostname": "no id"}}},
    ]
    each_fails(fake_api, bodies, ProviderError)


def test_servers_as_a_list(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/index.php", {"vs": [server(7), server(8)]})
    assert [i.instance_id for i in run(fake_api)] == ["7", "8"]


def test_the_panel_address_is_required() -> None:
    credentials = Credentials(api_base="", key_id=API_KEY, secret=API_PASS)
    assert virtualizor.API_BASE == ""
    with Api(credentials) as api, pytest.raises(ProviderError, match="API base"):
        virtualizor.instances(api)


def test_missing_credentials_are_auth_failed(fake_api: FakeApi) -> None:
    with pytest.raises(AuthFailed):
        virtualizor.headers(Credentials(api_base=fake_api.url, key_id=API_KEY))
    assert fake_api.requests == []
