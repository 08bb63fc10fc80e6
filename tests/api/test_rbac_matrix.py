"""The RBAC matrix, generated from the app's OpenAPI document: every operation x every kind
of caller gets the status its declared `x-sigma-role` rule says, and (audit completeness)
every successful mutation leaves exactly one audit row while a refused one leaves none.

New routes are covered automatically; a route without a rule, or with a rule this test does
not know, fails it.
"""

from __future__ import annotations

import fnmatch
import json

import pytest
from apidriver import ADMIN_EMAIL, ADMIN_PASSWORD, AGENT_HOST, Driver, audit_count

# who passes each rule (effective roles; "anonymous" = no credentials at all)
READERS = {"admin", "operator", "readonly"}
ALLOWED: dict[str, set[str]] = {
    "public": {"anonymous", "admin", "operator", "readonly", "agent", "probe"},
    "any": READERS,  # every authenticated reader; agents and probes are not
    "inventory": READERS | {"probe"},  # the VPS list: readers and the original sigma-probe
    "op": {"admin", "operator"},
    "admin": {"admin"},
    "agent": {"agent", "admin", "operator"},  # an agent's own reports (with its own key)
    "probe": {"probe", "admin", "operator"},  # probe targets and results
    "user": {"admin", "operator", "readonly", "agent", "probe"},  # the caller's own account
}


# a success revokes the caller's sessions: the matrix signs the principal in again
REVOKES_SESSIONS = {"POST /api/auth/change-password", "POST /api/auth/logout-all"}


def allowed_for(rule: str, who) -> bool:
    if rule == "agent" and who.role == "agent" and not who.via_key:
        return False  # an agent speaks for its VPS with that VPS's key, never with a session
    return who.role in ALLOWED[rule]


# successful mutations that write no audit row, on purpose (issue #3, contract 2.12):
# token refresh, agent calls and IP-check ingestion by probes
NOT_AUDITED = [
    "POST /api/auth/refresh",
    "* /api/agent/*",
    "POST /api/ip-checks",
    "POST /api/ip-checks/*",
]

# operations whose success needs state no generic request can have (a current TOTP code
# of the caller's own pending secret; a configured channel); other tests cover them
SUCCESS_COVERED_ELSEWHERE = {
    "POST /api/auth/totp/verify",
    "POST /api/auth/totp/disable",
    # needs a notification channel (a local webhook): tests of issue 4
    "POST /api/notify/run",
    # needs a channel that answers (a local receiver): tests/notify/test_notices_faces.py
    "POST /api/notify/test",
    # needs a VPS in the trash: tests/api/test_history_api.py (issue 16)
    "POST /api/vps/{ref}/restore",
    # needs a synced DNS account: tests/accounts/test_dns_service.py (issue 19)
    "GET /api/dns/{name}",
}


def not_audited(op) -> bool:
    for pattern in NOT_AUDITED:
        method, path = pattern.split(" ", 1)
        if method in ("*", op.method) and fnmatch.fnmatchcase(op.path, path):
            return True
    return False


@pytest.fixture
def db_url(sqlite_url):
    """RBAC is decided above the database: the matrix runs on SQLite only (the role checks
    and audit writes on PostgreSQL are covered by the other API tests, which run on both)."""
    return sqlite_url


@pytest.fixture
def driver(api):
    import time

    import pyotp

    # a TOTP user, so that the second login step can really succeed
    email = "totp-user@example.com"
    token = api.user("readonly", email=email)
    setup = api.client.post("/api/auth/totp/setup", headers=api.headers(token)).json()
    totp = pyotp.TOTP(setup["secret"])
    r = api.client.post(
        "/api/auth/totp/verify",
        headers=api.headers(token),
        json={"code": totp.at(time.time() - 30)},
    )
    assert r.status_code == 200, r.text

    def totp_login(d):
        r = api.client.post("/api/auth/login", json={"email": email, "password": "password-123"})
        return {"totp_token": r.json()["totp_token"], "code": totp.now()}

    return Driver(
        api,
        overrides={
            "LoginRequest": lambda d: {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            "TotpLogin": totp_login,
            # every caller allowed to report speaks for the agent principal's own VPS
            "POST /api/agent/heartbeat": lambda d: {"hostname": AGENT_HOST},
            "POST /api/agent/register": lambda d: {"hostname": AGENT_HOST},
            # a check is about one of its VPS's addresses
            "POST /api/ip-checks": checked_address,
            "POST /api/vps/import": lambda d: {
                "data": json.dumps([{"hostname": f"imported-{d.tag}-{next(d.seq)}"}])
            },
            # two fresh VPS: OTHER is merged into KEEP and removed (one audit row)
            "POST /api/vps/merge": lambda d: {
                "keep": d.create("/api/vps"),
                "other": d.create("/api/vps"),
            },
            "POST /api/providers/import": lambda d: {
                "data": json.dumps([{"name": f"imported-{d.tag}-{next(d.seq)}"}])
            },
            # replaced by another existing VPS (a new one would add its own `create` row)
            "POST /api/vps/{ref}/replace": lambda d: {"with": successor(d)},
            # an item that needs attention: a fresh critical ticket (issue 18); unack needs
            # one acknowledged first
            "POST /api/attention/ack": lambda d: {"key": attention_item(d)},
            "POST /api/attention/snooze": lambda d: {"key": attention_item(d), "until": "1h"},
            "POST /api/attention/unack": lambda d: {"key": attention_item(d, acked=True)},
            # an account whose API is a closed loopback port: its syncs fail fast, reported
            # (and audited) as failed runs (issue 19)
            "AccountCreate": lambda d: {
                "kind": "hetzner",
                "name": f"acct-{d.tag}-{next(d.seq)}",
                "api_base": "http://127.0.0.1:9",
                "token": "matrix-token",
            },
            "POST /api/sync": lambda d: {"accounts": [d.create("/api/accounts")]},
        },
    )


def attention_item(d, acked: bool = False) -> str:
    r = d.client.post(
        "/api/tickets",
        headers=d.admin,
        json={"title": f"attention-{d.tag}-{next(d.seq)}", "priority": "critical"},
    )
    assert r.status_code == 200, r.text
    key = f"ticket:ticket:{r.json()['id']}"
    if acked:
        r = d.client.post("/api/attention/ack", headers=d.admin, json={"key": key})
        assert r.status_code == 200, r.text
    return key


def successor(d) -> str:
    r = d.client.post("/api/vps", headers=d.admin, json={"hostname": f"next-{d.tag}-{next(d.seq)}"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def checked_address(d) -> dict:
    ip = f"192.0.2.{next(d.seq) % 250 + 1}"
    r = d.client.post(
        "/api/vps",
        headers=d.admin,
        json={"hostname": f"checked-{d.tag}-{next(d.seq)}", "ip_addresses": [{"ip": ip}]},
    )
    assert r.status_code == 200, r.text
    return {
        "vps_id": r.json()["id"],
        "ip": ip,
        "check_type": "tcp",
        "source": "cn-test",
        "success": True,
    }


def rule_problems(ops) -> list[str]:
    problems = []
    for op in ops:
        if op.rule is None:
            problems.append(f"{op}: no x-sigma-role declared (openapi_extra=rule(...))")
        elif op.rule not in ALLOWED:
            problems.append(f"{op}: unknown x-sigma-role '{op.rule}'")
    return problems


def test_rbac_matrix_and_audit_completeness(api, principals, driver):
    ops = driver.operations()
    assert len(ops) >= 20, "the OpenAPI document lost its routes"
    problems: list[str] = []
    succeeded: set[str] = set()
    checked = 0
    problems += rule_problems(ops)
    for op in ops:
        if op.rule not in ALLOWED:
            continue
        for who in principals:
            allowed = allowed_for(op.rule, who)
            call = driver.build(op, fresh=allowed and op.mutating)
            before = audit_count(api)
            r = driver.send(call, who.headers)
            rows = audit_count(api) - before
            checked += 1
            where = f"{op} as {who.name} [{op.rule}] -> {r.status_code} {r.text[:160]}"
            if r.status_code >= 500:
                problems.append(f"server error: {where}")
            elif allowed and r.status_code in (401, 403):
                problems.append(f"refused, should pass: {where}")
            elif not allowed and who.role == "anonymous" and r.status_code != 401:
                problems.append(f"expected 401: {where}")
            elif not allowed and who.role != "anonymous" and r.status_code != 403:
                problems.append(f"expected 403: {where}")
            if r.status_code < 300:
                succeeded.add(str(op))
                if str(op) in REVOKES_SESSIONS and who.email:
                    who.password = (call.json or {}).get("new_password", who.password)
                    token = api.client.post(
                        "/api/auth/login", json={"email": who.email, "password": who.password}
                    )
                    assert token.status_code == 200, token.text
                    who.headers = api.headers(token.json()["token"])
                    if who.name == "jwt-admin":  # the request builder acts as that admin
                        driver.admin = who.headers
                if r.status_code >= 200 and op.mutating and not not_audited(op) and rows != 1:
                    problems.append(f"{rows} audit rows (expected 1) for success: {where}")
            if r.status_code >= 400 and rows != 0:
                problems.append(f"{rows} audit rows (expected none) for failure: {where}")
            if op.method == "GET" and rows != 0:
                problems.append(f"{rows} audit rows for a read: {where}")
    never = {str(op) for op in ops if op.rule in ALLOWED} - succeeded - SUCCESS_COVERED_ELSEWHERE
    for name in sorted(never):
        problems.append(
            f"{name}: no principal reached a success status; the generic request "
            "builder needs a valid body/ref for it (see apidriver.py)"
        )
    assert not problems, f"{len(problems)} problems in {checked} calls:\n" + "\n".join(problems)
    assert checked >= len(ops) * len(principals) - 5


def test_matrix_rejects_undeclared_and_unknown_rules(api):
    """The matrix itself: an operation without x-sigma-role, or with a rule it does not
    know, is reported."""
    from fastapi import APIRouter

    router = APIRouter()

    @router.get("/api/undeclared-for-test")
    def undeclared():
        return {}

    @router.get("/api/unknown-rule-for-test", openapi_extra={"x-sigma-role": "everyone"})
    def unknown():
        return {}

    api.app.include_router(router)
    api.app.openapi_schema = None
    try:
        problems = rule_problems(Driver(api).operations())
        assert problems == [
            "GET /api/undeclared-for-test: no x-sigma-role declared (openapi_extra=rule(...))",
            "GET /api/unknown-rule-for-test: unknown x-sigma-role 'everyone'",
        ]
    finally:
        api.app.router.routes[:] = [
            r for r in api.app.router.routes if "-for-test" not in getattr(r, "path", "")
        ]
        api.app.openapi_schema = None
