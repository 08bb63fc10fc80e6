"""The Alibaba Cloud ECS adapter: its signature against Alibaba's published example, and the
adapter against a loopback stand-in of the RPC endpoint that checks every request's
signature itself (an independent implementation of signature version 1.0) and answers
SignatureDoesNotMatch, as Alibaba does, when it is wrong."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.cloud.fakeapi import FakeApi, Reply, Request

from sigma.cloud import alibaba, base
from sigma.cloud.base import Api, AuthFailed, Credentials, Instance, ProviderError, RateLimited

KEY_ID = "LTAI5tTestKeyId0001"
SECRET = "s3cr3t+Sec/ret=Value"  # characters that the encoding must get right
FIXTURES = Path(__file__).parent / "fixtures" / "alibaba"

# Alibaba Cloud's published worked example of signature version 1.0 (the "Request
# signatures" / "Signature method" pages of the RPC API docs, e.g. ECS, CAS, ActionTrail):
# DescribeRegions with AccessKey ID testid and secret testsecret
PUBLISHED_PARAMS = {
    "Timestamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
PUBLISHED_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
    "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
    "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
    "%26Version%3D2014-05-26"
)
PUBLISHED_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


# --------------------------------------------------------- an independent signer


def rfc3986(value: str) -> str:
    """The documented rule, byte by byte: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    keep = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in value.encode("utf-8"))


def server_string_to_sign(params: dict[str, str]) -> str:
    canonical = "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(params.items()))
    return f"GET&{rfc3986('/')}&{rfc3986(canonical)}"


def server_signature(params: dict[str, str], secret: str) -> str:
    key = f"{secret}&".encode()
    digest = hmac.new(key, server_string_to_sign(params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# ---------------------------------------------------------------- the stand-in


def ecs(instance_id: str, **fields: Any) -> dict[str, Any]:
    """One Instances.Instance of the fixture, renamed and changed."""
    doc = json.loads((FIXTURES / "describe_instances.json").read_text())
    item: dict[str, Any] = copy.deepcopy(doc["Instances"]["Instance"][0])
    item["InstanceId"] = instance_id
    item.update(fields)
    return item


def error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": message})


class Ecs:
    """DescribeInstances and DescribeInstanceAutoRenewAttribute of one account."""

    def __init__(self, fake: FakeApi, regions: dict[str, list[dict[str, Any]]]):
        self.regions = regions
        self.renew: dict[str, bool] = {}
        self.renew_reply: Reply | None = None
        self.problems: list[str] = []
        self.nonces: set[str] = set()
        self.calls: list[dict[str, str]] = []
        fake.route("GET", "/", self.handle)

    def handle(self, request: Request) -> Any:
        if any(len(values) != 1 for values in request.query.values()):
            self.problems.append(f"a repeated parameter: {request.query}")
        params = {k: v[0] for k, v in request.query.items()}
        signature = params.pop("Signature", "")
        self.calls.append(params)
        if params.get("AccessKeyId") != KEY_ID:
            return error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if signature != server_signature(params, SECRET):
            return error(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to "
                f"sign is:{server_string_to_sign(params)}",
            )
        self.check_common(params)
        if params["Action"] == "DescribeInstances":
            return self.describe_instances(params)
        if params["Action"] == "DescribeInstanceAutoRenewAttribute":
            return self.renew_reply or self.renewals(params)
        return error(404, "InvalidApi.NotFound", "Specified api is not found.")

    def check_common(self, params: dict[str, str]) -> None:
        expected = {
            "Format": "JSON",
            "Version": "2014-05-26",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
        }
        for name, value in expected.items():
            if params.get(name) != value:
                self.problems.append(f"{name}={params.get(name)!r}")
        stamp = params.get("Timestamp", "")
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp):
            self.problems.append(f"Timestamp={stamp!r}")
        else:
            sent = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            if abs(datetime.now(UTC) - sent) > timedelta(minutes=5):
                self.problems.append(f"Timestamp {stamp} is not now")
        nonce = params.get("SignatureNonce", "")
        if nonce in self.nonces or str(uuid.UUID(nonce)) != nonce:
            self.problems.append(f"SignatureNonce {nonce!r} reused or not a uuid")
        self.nonces.add(nonce)

    def describe_instances(self, params: dict[str, str]) -> Any:
        listed = self.regions.get(params.get("RegionId", ""), [])
        number, size = int(params["PageNumber"]), int(params["PageSize"])
        return {
            "RequestId": str(uuid.uuid4()).upper(),
            "TotalCount": len(listed),
            "PageNumber": number,
            "PageSize": size,
            "Instances": {"Instance": listed[(number - 1) * size : number * size]},
        }

    def renewals(self, params: dict[str, str]) -> Any:
        ids = params["InstanceId"].split(",")
        return {
            "RequestId": str(uuid.uuid4()).upper(),
            "TotalCount": len(ids),
            "PageNumber": 1,
            "PageSize": int(params.get("PageSize", "10")),
            "InstanceRenewAttributes": {
                "InstanceRenewAttribute": [
                    {
                        "InstanceId": i,
                        "AutoRenewEnabled": self.renew.get(i, False),
                        "RenewalStatus": "AutoRenewal" if self.renew.get(i) else "Normal",
                        "Duration": 1,
                        "PeriodUnit": "Month",
                    }
                    for i in ids
                ]
            },
        }

    def actions(self) -> list[str]:
        return [call["Action"] for call in self.calls]


def credentials(
    fake_api: FakeApi, region: str = "cn-hongkong", secret: str = SECRET, key_id: str = KEY_ID
) -> Credentials:
    return Credentials(
        api_base=fake_api.url, key_id=key_id, secret=secret, options={"region": region}
    )


def run(fake_api: FakeApi, **kwargs: Any) -> list[Instance]:
    creds = credentials(fake_api, **kwargs)
    with Api(creds, headers=alibaba.headers(creds)) as api:
        return alibaba.instances(api)


def fails(
    fake_api: FakeApi, kind: type[ProviderError] = ProviderError, **kwargs: Any
) -> ProviderError:
    with pytest.raises(kind) as caught:
        run(fake_api, **kwargs)
    secrets = [KEY_ID, SECRET, kwargs.get("secret", SECRET), kwargs.get("key_id", KEY_ID)]
    for secret in secrets:
        for form in (secret, rfc3986(secret), rfc3986(rfc3986(secret))):
            assert form not in str(caught.value) and form not in repr(caught.value)
    assert caught.value.__cause__ is None
    return caught.value


# ------------------------------------------------------------------- signing


def test_the_published_signature_example() -> None:
    assert alibaba.string_to_sign(PUBLISHED_PARAMS) == PUBLISHED_STRING_TO_SIGN
    assert alibaba.sign(PUBLISHED_PARAMS, "testsecret") == PUBLISHED_SIGNATURE


def test_the_older_published_example_with_its_timestamp_spelling() -> None:
    # the 2016 page spelled the parameter "TimeStamp" and published CT9X0Vtw...: the same
    # algorithm gives both values
    older = {("TimeStamp" if k == "Timestamp" else k): v for k, v in PUBLISHED_PARAMS.items()}
    assert alibaba.sign(older, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_the_signed_query_of_the_published_example() -> None:
    assert alibaba.signed_query(PUBLISHED_PARAMS, "testsecret") == (
        "AccessKeyId=testid&Action=DescribeRegions&Format=XML"
        "&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D&SignatureMethod=HMAC-SHA1"
        "&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0"
        "&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26"
    )
    # a Signature among the parameters is not signed
    with_old = {**PUBLISHED_PARAMS, "Signature": "stale"}
    assert alibaba.signed_query(with_old, "testsecret") == alibaba.signed_query(
        PUBLISHED_PARAMS, "testsecret"
    )


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),
        ("*", "%2A"),
        ("~", "~"),
        ("-_.", "-_."),
        ("/", "%2F"),
        ("+=&:", "%2B%3D%26%3A"),
        ("é香", "%C3%A9%E9%A6%99"),
    ],
)
def test_percent_encoding_follows_alibaba(raw: str, encoded: str) -> None:
    assert alibaba.percent_encode(raw) == encoded == rfc3986(raw)


def test_the_signature_does_not_depend_on_the_order_of_parameters() -> None:
    reordered = dict(reversed(list(PUBLISHED_PARAMS.items())))
    assert alibaba.sign(reordered, "testsecret") == PUBLISHED_SIGNATURE


# ------------------------------------------------------------------ listing


def test_the_documented_request_signed_and_checked_by_the_server(fake_api: FakeApi) -> None:
    ecs_api = Ecs(fake_api, {"cn-hongkong": [ecs("i-hk1")]})
    ecs_api.renew = {"i-hk1": True}
    found = run(fake_api)
    assert [i.instance_id for i in found] == ["i-hk1"]
    assert ecs_api.problems == []
    assert ecs_api.actions() == ["DescribeInstances", "DescribeInstanceAutoRenewAttribute"]
    describe, renew = ecs_api.calls
    assert {k: describe[k] for k in ("AccessKeyId", "RegionId", "PageSize", "PageNumber")} == {
        "AccessKeyId": KEY_ID,
        "RegionId": "cn-hongkong",
        "PageSize": "100",
        "PageNumber": "1",
    }
    assert (renew["RegionId"], renew["InstanceId"]) == ("cn-hongkong", "i-hk1")
    assert {r.path for r in fake_api.requests} == {"/"}


def test_pages_regions_and_renewal_batches(fake_api: FakeApi) -> None:
    hong_kong = [ecs(f"i-hk{n:03d}") for n in range(150)]
    singapore = [
        ecs(f"i-sg{n}", RegionId="ap-southeast-1", ZoneId="ap-southeast-1a") for n in (1, 2)
    ]
    singapore[1]["InstanceChargeType"] = "PostPaid"
    ecs_api = Ecs(fake_api, {"cn-hongkong": hong_kong, "ap-southeast-1": singapore})
    ecs_api.renew = {"i-hk007": True, "i-hk120": True, "i-sg1": True}

    found = run(fake_api, region=" cn-hongkong , ap-southeast-1,cn-hongkong ")
    assert ecs_api.problems == []
    assert len(found) == 152
    assert [(c["Action"], c["RegionId"], c.get("PageNumber")) for c in ecs_api.calls] == [
        ("DescribeInstances", "cn-hongkong", "1"),
        ("DescribeInstances", "cn-hongkong", "2"),
        ("DescribeInstanceAutoRenewAttribute", "cn-hongkong", "1"),
        ("DescribeInstanceAutoRenewAttribute", "cn-hongkong", "1"),
        ("DescribeInstances", "ap-southeast-1", "1"),
        ("DescribeInstanceAutoRenewAttribute", "ap-southeast-1", "1"),
    ]
    batches = [c["InstanceId"].split(",") for c in ecs_api.calls if "InstanceId" in c]
    assert [len(b) for b in batches] == [100, 50, 1]  # the postpaid one is not asked about
    renewing = {i.instance_id for i in found if i.auto_renew}
    assert renewing == {"i-hk007", "i-hk120", "i-sg1"}
    by_id = {i.instance_id: i for i in found}
    assert by_id["i-hk000"].auto_renew is False
    assert by_id["i-sg2"].auto_renew is None and by_id["i-sg2"].charge_type == "postpaid"
    assert (by_id["i-sg1"].country, by_id["i-sg1"].city) == ("SG", "Singapore")


def test_the_records_normalised(fake_api: FakeApi) -> None:
    postpaid = ecs(
        "i-pay",
        InstanceName="",
        HostName="db-1",
        Status="Stopped",
        InstanceChargeType="PostPaid",
        ExpiredTime="2099-12-31T15:59Z",  # Alibaba's placeholder for pay-as-you-go
        PublicIpAddress={"IpAddress": []},
        EipAddress={"IpAddress": "", "AllocationId": ""},
        NetworkInterfaces={"NetworkInterface": []},
        RegionId="cn-shanghai",
    )
    ecs_api = Ecs(fake_api, {"cn-hongkong": [ecs("i-hk1"), postpaid]})
    ecs_api.renew = {"i-hk1": True}
    web, db = run(fake_api)
    assert web == Instance(
        instance_id="i-hk1",
        hostname="web-hk-1",
        ipv4=["47.242.10.20", "8.210.30.40"],  # the public address and the EIP
        ipv6=["2408:4005:3de:8500:1:2:3:4"],
        region="cn-hongkong",
        country="HK",
        city="Hong Kong",
        plan="ecs.t6-c1m1.large",
        cpu_cores=2,
        ram_mb=2048,
        expires_at=datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
        charge_type="prepaid",
        auto_renew=True,
        state="running",
    )
    assert db == Instance(
        instance_id="i-pay",
        hostname="db-1",  # no InstanceName: the HostName
        region="cn-shanghai",
        country="CN",
        city="Shanghai",
        plan="ecs.t6-c1m1.large",
        cpu_cores=2,
        ram_mb=2048,
        charge_type="postpaid",
        state="stopped",
    )


def records(fake_api: FakeApi, *variants: dict[str, Any]) -> list[Instance]:
    """The record of each variant of the fixture's instance, through one client."""
    creds = credentials(fake_api)
    found = []
    with Api(creds, headers=alibaba.headers(creds)) as api:
        for fields in variants:
            fake_api.route(
                "GET", "/", {"TotalCount": 1, "Instances": {"Instance": [ecs("i-1", **fields)]}}
            )
            (record,) = alibaba.instances(api)
            found.append(record)
    return found


def test_states(fake_api: FakeApi) -> None:
    cases = [
        ("Running", "running"),
        ("Stopped", "stopped"),
        ("Starting", "pending"),
        ("Stopping", "pending"),
        ("Pending", "pending"),
        ("Expired", "other"),
        (None, "other"),
    ]
    found = records(fake_api, *({"Status": status} for status, _ in cases))
    assert [record.state for record in found] == [state for _, state in cases]


@pytest.mark.parametrize(
    ("region", "country"),
    [
        ("cn-hangzhou", "CN"),
        ("cn-somewhere-new", "CN"),
        ("cn-hongkong", "HK"),
        ("ap-southeast-1", "SG"),
        ("ap-northeast-1", "JP"),
        ("us-west-1", "US"),
        ("us-east-1", "US"),
        ("eu-central-1", "DE"),
        ("xx-unknown-9", ""),
    ],
)
def test_countries_of_regions(region: str, country: str) -> None:
    assert alibaba.place(region)[0] == country


def test_the_region_of_the_answer_wins(fake_api: FakeApi) -> None:
    (found,) = records(fake_api, {"RegionId": "ap-northeast-1"})
    assert (found.region, found.country, found.city) == ("ap-northeast-1", "JP", "Tokyo")


def test_garbage_expiry_is_unknown(fake_api: FakeApi) -> None:
    garbage = ["2099-13-45", "2026-02-30T16:00Z", "", None, 12, "soon", "9999-12-31T23:59Z"]
    found = records(fake_api, *({"ExpiredTime": value} for value in garbage))
    assert [record.expires_at for record in found] == [None] * len(garbage)


def test_an_empty_region(fake_api: FakeApi) -> None:
    ecs_api = Ecs(fake_api, {})
    assert run(fake_api) == []
    assert ecs_api.actions() == ["DescribeInstances"]


# ------------------------------------------------------------- auto-renew


def test_a_failing_renewal_call_leaves_the_flag_unknown(fake_api: FakeApi) -> None:
    ecs_api = Ecs(fake_api, {"cn-hongkong": [ecs("i-1")]})
    ecs_api.renew_reply = error(500, "InternalError", "The request processing has failed.")
    (found,) = run(fake_api)
    assert found.auto_renew is None and found.charge_type == "prepaid"


def test_a_malformed_renewal_answer_leaves_the_flag_unknown(fake_api: FakeApi) -> None:
    ecs_api = Ecs(fake_api, {"cn-hongkong": [ecs("i-1")]})
    ecs_api.renew_reply = Reply(200, {"InstanceRenewAttributes": "nope"})
    assert run(fake_api)[0].auto_renew is None


def test_a_refused_renewal_call_ends_the_sync(fake_api: FakeApi) -> None:
    ecs_api = Ecs(fake_api, {"cn-hongkong": [ecs("i-1")]})
    ecs_api.renew_reply = error(
        403, "Forbidden.RAM", "User not authorized to operate on the specified resource."
    )
    fails(fake_api, AuthFailed)


# ------------------------------------------------------------------- errors


def test_a_wrong_secret_is_auth_failed(fake_api: FakeApi) -> None:
    ecs_api = Ecs(fake_api, {"cn-hongkong": [ecs("i-1")]})
    failure = fails(fake_api, AuthFailed, secret="not-the-secret")
    assert "SignatureDoesNotMatch" in str(failure)
    assert ecs_api.actions() == ["DescribeInstances"]


def test_an_unknown_access_key_is_auth_failed(fake_api: FakeApi) -> None:
    Ecs(fake_api, {"cn-hongkong": [ecs("i-1")]})
    failure = fails(fake_api, AuthFailed, key_id="LTAI5tNoSuchKey0000")
    assert "InvalidAccessKeyId.NotFound" in str(failure)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "InvalidAccessKeyId.Inactive", "Specified access key is disabled."),
        (400, "IncompleteSignature", "The request signature does not conform to Aliyun standards."),
        (
            404,
            "InvalidAccessKeyId.NotFound",
            "The Access Key ID provided does not exist in our records.",
        ),
        (403, "Forbidden.RAM", "User not authorized to operate on the specified resource."),
    ],
)
def test_other_refusals_are_auth_failed(
    fake_api: FakeApi, status: int, code: str, message: str
) -> None:
    fake_api.route("GET", "/", error(status, code, message))
    fails(fake_api, AuthFailed)


def test_the_code_decides_not_the_message(fake_api: FakeApi) -> None:
    # Alibaba documents UnsupportedHTTPMethod with SignatureDoesNotMatch's very message
    fake_api.route(
        "GET",
        "/",
        error(
            400,
            "UnsupportedHTTPMethod",
            "Specified signature is not matched with our calculation.",
        ),
    )
    failure = fails(fake_api, ProviderError)
    assert not isinstance(failure, AuthFailed)
    assert "[UnsupportedHTTPMethod]" in str(failure) and failure.status == 400


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"Message": "Specified signature is not matched with our calculation."}, AuthFailed),
        ({"Message": "Specified access key is not found."}, AuthFailed),
        ({"Message": "Request was denied due to user flow control."}, RateLimited),
        ({"Message": "Something else went wrong."}, ProviderError),
    ],
)
def test_an_answer_without_a_code_is_judged_by_its_message(
    fake_api: FakeApi, answer: dict[str, str], kind: type[ProviderError]
) -> None:
    fake_api.route("GET", "/", Reply(400, answer))
    assert type(fails(fake_api, kind)) is kind


def test_missing_credentials_are_auth_failed(fake_api: FakeApi) -> None:
    with pytest.raises(AuthFailed):
        alibaba.headers(Credentials(api_base=fake_api.url, key_id=KEY_ID))
    assert fake_api.requests == []


def test_an_error_message_is_stripped_of_the_credentials(fake_api: FakeApi) -> None:
    fake_api.route(
        "GET",
        "/",
        error(400, "InvalidParameter", f"The specified parameter AccessKeyId {KEY_ID} is odd"),
    )
    failure = fails(fake_api, ProviderError)
    assert not isinstance(failure, AuthFailed)
    assert "DescribeInstances" in str(failure) and "HTTP 400" in str(failure)


def test_rate_limited(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/", Reply(429, {"Code": "Throttling"}, headers={"Retry-After": "120"}))
    failure = fails(fake_api, RateLimited)
    assert isinstance(failure, RateLimited) and failure.retry_after == 120


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("Throttling.User", "Request was denied due to user flow control."),
        ("Throttling", "Request was denied due to request throttling."),
    ],
)
def test_throttling_is_rate_limited(fake_api: FakeApi, code: str, message: str) -> None:
    fake_api.route("GET", "/", error(400, code, message))
    failure = fails(fake_api, RateLimited)
    assert isinstance(failure, RateLimited) and failure.retry_after == alibaba.THROTTLE_WAIT


def test_html_is_a_provider_error(fake_api: FakeApi) -> None:
    fake_api.route("GET", "/", Reply(200, "<html><body>captive portal</body></html>"))
    failure = fails(fake_api, ProviderError)
    assert not isinstance(failure, AuthFailed) and "HTML" in str(failure)


def test_malformed_json(fake_api: FakeApi) -> None:
    fake_api.route(
        "GET",
        "/",
        Reply(200, b'{"Instances": {"Instance": [', {"Content-Type": "application/json"}),
    )
    assert "not valid JSON" in str(fails(fake_api, ProviderError))


def test_the_wrong_shape(fake_api: FakeApi) -> None:
    bodies: list[Any] = [
        [],
        {"TotalCount": 1},
        {"TotalCount": 1, "Instances": []},
        {"TotalCount": 1, "Instances": {"Instance": {"InstanceId": "i-1"}}},
        {"Instances": {"Instance": [ecs("i-1")]}},
        {"TotalCount": "many", "Instances": {"Instance": [ecs("i-1")]}},
        {"TotalCount": 1, "Instances": {"Instance": ["i-1"]}},
        {"TotalCount": 1, "Instances": {"Instance": [ecs("")]}},
    ]
    creds = credentials(fake_api)
    with Api(creds, headers=alibaba.headers(creds)) as api:
        for body in bodies:
            fake_api.route("GET", "/", body)
            with pytest.raises(ProviderError) as caught:
                alibaba.instances(api)
            assert not isinstance(caught.value, AuthFailed), body
            assert KEY_ID not in str(caught.value) and SECRET not in str(caught.value)


def test_a_pagination_that_never_ends(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "MAX_PAGES", 3)

    def endless(request: Request) -> Any:
        number = request.arg("PageNumber")
        return {
            "TotalCount": 10**6,
            "Instances": {"Instance": [ecs(f"i-{number}-{n}") for n in range(100)]},
        }

    fake_api.route("GET", "/", endless)
    assert "more than 3 pages" in str(fails(fake_api, ProviderError))
    assert len(fake_api.requests) == 3


def test_a_page_that_repeats(fake_api: FakeApi) -> None:
    # a server that ignores PageNumber lists the same instances again
    fake_api.route(
        "GET",
        "/",
        {"TotalCount": 200, "Instances": {"Instance": [ecs(f"i-{n}") for n in range(100)]}},
    )
    assert "listed twice" in str(fails(fake_api, ProviderError))


def test_duplicate_ids_across_regions(fake_api: FakeApi) -> None:
    Ecs(fake_api, {"cn-hongkong": [ecs("i-1")], "cn-shanghai": [ecs("i-1")]})
    assert "i-1 is listed twice" in str(
        fails(fake_api, ProviderError, region="cn-hongkong,cn-shanghai")
    )


@pytest.mark.parametrize(
    "region", ["", " , ", "cn-hongkong,../etc", "CN HONGKONG", "cn-hongkong&x=1"]
)
def test_the_region_option_is_required_and_checked(fake_api: FakeApi, region: str) -> None:
    fails(fake_api, ProviderError, region=region)
    assert fake_api.requests == []
