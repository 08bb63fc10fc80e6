"""Issue 17 on the server: check outcomes stored and validated, the probe registry (reports,
reference targets, health), and verdicts with reasons driven by synthetic histories:
carrier-only blocks, port and TLS blocks, an unhealthy probe, flapping, a refused port.
Both databases; the CLI against both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sigma.services.ip_checks import _iso
from sigma.services.probes import Role
from sigma.services.verdicts import decide

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CT = Role(china=True, control=False, healthy=True, carrier="ct", region="guangdong")
CU = Role(china=True, control=False, healthy=True, carrier="cu", region="beijing")
CM = Role(china=True, control=False, healthy=True, carrier="cm", region="shanghai")
HK = Role(china=False, control=True, healthy=True, carrier="other", region="hk")
SICK = Role(china=True, control=False, healthy=False, carrier="cm", region="shanghai")
ROLES = {"ct-gd": CT, "cu-bj": CU, "cm-sh": CM, "hk": HK}


def ok(oks=5, outcome="ok"):
    return {"ok": True, "fails": 0, "oks": oks, "at": _iso(NOW), "outcome": outcome}


def bad(fails=5, outcome="timeout"):
    return {"ok": False, "fails": fails, "oks": 0, "at": _iso(NOW), "outcome": outcome}


def judge(state, roles=ROLES, **kw):
    return decide(state, roles, NOW, **kw)[0]


# ---------------------------------------------------------------- the verdict table


def test_everything_passes_is_ok_and_nothing_heard_is_unknown():
    state = {s: {"icmp": ok(), "tcp:22": ok()} for s in ROLES}
    d = judge(state)
    assert (d.verdict, d.agree, d.of) == ("ok", 4, 4)
    assert judge({}).verdict == "unknown"
    stale = {"ct-gd": {"icmp": {**ok(), "at": _iso(NOW - timedelta(hours=2))}}}
    assert judge(stale).verdict == "unknown" and "last hour" in judge(stale).reason


def test_whole_ip_block_names_the_carriers_and_the_agreement():
    state = {s: {"icmp": bad(), "tcp:22": bad()} for s in ("ct-gd", "cu-bj", "cm-sh")}
    state["hk"] = {"icmp": ok(), "tcp:22": ok()}
    d = judge(state)
    assert d.verdict == "blocked"
    assert (d.carriers, d.agree, d.of) == (["cm", "ct", "cu"], 3, 3)
    assert d.regions == ["beijing", "guangdong", "shanghai"]
    # not yet confirmed over the rounds: degraded
    young = {s: {"icmp": bad(2), "tcp:22": bad(2)} for s in ("ct-gd", "cu-bj", "cm-sh")}
    young["hk"] = state["hk"]
    assert judge(young).verdict == "degraded"
    assert judge(young, rounds=2).verdict == "blocked"


def test_one_carrier_blocked_is_degraded_unless_the_agreement_allows():
    state = {
        "ct-gd": {"icmp": bad(), "tcp:22": bad()},
        "cu-bj": {"icmp": ok(), "tcp:22": ok()},
        "cm-sh": {"icmp": ok(), "tcp:22": ok()},
        "hk": {"icmp": ok(), "tcp:22": ok()},
    }
    d = judge(state)
    assert (d.verdict, d.carriers, d.regions, d.agree, d.of) == (
        "degraded",
        ["ct"],
        ["guangdong"],
        1,
        4,
    )
    assert judge(state, agreement=30).verdict == "blocked"  # 1 of 3 is >= 30 %


def test_port_and_tls_blocks():
    # ICMP answers from China, the SSH port does not; the control reaches both
    state = {s: {"icmp": ok(), "tcp:22": bad()} for s in ("ct-gd", "cu-bj", "cm-sh")}
    state["hk"] = {"icmp": ok(), "tcp:22": ok()}
    d = judge(state)
    assert (d.verdict, d.checks, d.agree, d.of) == ("port-blocked", ["tcp:22"], 3, 3)
    # TCP connects to 443, the TLS handshake does not complete
    tls = {s: {"tcp:443": ok(), "tls:443": bad(outcome="tls_failed")} for s in ROLES if s != "hk"}
    tls["hk"] = {"tcp:443": ok(), "tls:443": ok()}
    assert (judge(tls).verdict, judge(tls).checks) == ("tls-blocked", ["tls:443"])
    # the port is closed everywhere, controls included: a property of the host, not a block
    closed = {s: {"icmp": ok(), "tcp:8443": bad()} for s in ROLES}
    assert judge(closed).verdict == "ok"


def test_an_unhealthy_probe_moves_nothing_and_down_needs_everyone():
    roles = {**ROLES, "cm-sh": SICK}
    state = {
        "ct-gd": {"icmp": ok(), "tcp:22": ok()},
        "cu-bj": {"icmp": ok(), "tcp:22": ok()},
        "cm-sh": {"icmp": bad(), "tcp:22": bad()},  # its own bad day
        "hk": {"icmp": ok(), "tcp:22": ok()},
    }
    d, views = decide(state, roles, NOW)
    assert d.verdict == "ok" and d.of == 3
    assert views["cm-sh"].state == "unhealthy"
    everywhere = {s: {"icmp": bad(), "tcp:22": bad()} for s in ROLES}
    assert judge(everywhere).verdict == "down"
    only_sick = {"cm-sh": {"icmp": bad()}}
    assert judge(only_sick, roles).verdict == "unknown"


def test_flapping_never_confirms_a_block():
    state = {s: {"icmp": bad(1), "tcp:22": bad(1)} for s in ("ct-gd", "cu-bj", "cm-sh")}
    state["hk"] = {"icmp": ok(), "tcp:22": ok()}
    for _ in range(10):  # fail, recover, fail...: the streak never reaches the rounds
        assert judge(state).verdict == "degraded"


def test_probes_without_registry_keep_the_name_rule():
    state = {"cn-a": {"tcp": bad(3)}, "de": {"tcp": ok(3)}}
    assert judge(state, roles={}).verdict == "blocked"


# ---------------------------------------------------------------- the server


REFS = [
    {"name": "ref-up", "ip": "192.0.2.10", "check_type": "tcp", "port": 443},
    {"name": "ref-gfw", "ip": "192.0.2.20", "check_type": "tcp", "port": 443, "expect": "blocked"},
]


@pytest.fixture
def api_settings(db_url):
    from sigma.settings import Settings

    return Settings(
        database_url=db_url,
        jwt_secret="test-jwt-secret-0123456789",
        rate_limit_requests=100_000,
        rate_limit_login=100_000,
        jobs_enabled=False,
        probe_references=REFS,
    )


@pytest.fixture
def vps(api):
    r = api.client.post(
        "/api/vps",
        headers=api.headers(),
        json={"hostname": "hk-1", "status": "active", "ip_addresses": [{"ip": "103.1.2.3"}]},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _report(api, key, source, outcomes, **identity):
    body = {
        "source": source,
        "references": [
            {"name": name, "ip": ip, "check_type": "tcp", "port": 443, "outcome": outcome}
            for (name, ip), outcome in zip(
                [("ref-up", "192.0.2.10"), ("ref-gfw", "192.0.2.20")], outcomes, strict=True
            )
        ],
        **identity,
    }
    return api.client.post("/api/probes/report", headers=key, json=body)


def _check(vps, source, check_type, at, **fields):
    return {
        "id": str(uuid.uuid4()),
        "vps_id": vps["id"],
        "ip": "103.1.2.3",
        "check_type": check_type,
        "source": source,
        "checked_at": at.isoformat(),
        **fields,
    }


def _key(api) -> dict[str, str]:
    """A new probe key (bound to the source of its first report)."""
    return {"X-Api-Key": api.api_key("probe")}


def test_reports_register_probes_and_judge_their_health(api):
    probe = _key(api)
    refs = api.client.get("/api/probes/references", headers=probe).json()
    assert [(r["name"], r["expect"]) for r in refs] == [
        ("ref-up", "reachable"),
        ("ref-gfw", "blocked"),
    ]
    r = _report(api, probe, "gd-ct-1", ["ok", "timeout"], carrier="CT", region="guangdong")
    assert r.status_code == 200, r.text
    assert (r.json()["health"], r.json()["china"], r.json()["carrier"]) == ("healthy", True, "ct")
    # a control must reach both: outside China the "blocked" reference is reachable
    hk = _key(api)
    r = _report(api, hk, "hk-ctl", ["ok", "timeout"], carrier="other", control=True)
    assert (
        r.json()["health"] == "unhealthy"
        and "ref-gfw expected reachable" in r.json()["health_reason"]
    )
    r = _report(api, hk, "hk-ctl", ["ok", "ok"], carrier="other", control=True)
    assert r.json()["health"] == "healthy"
    # a China probe whose "blocked" reference answers: its own path is not China's
    r = _report(api, _key(api), "cm-odd", ["ok", "ok"], carrier="cm")
    assert r.json()["health"] == "unhealthy"
    listed = api.client.get("/api/probes", headers=api.headers()).json()
    assert [(p["source"], p["health"]) for p in listed] == [
        ("cm-odd", "unhealthy"),
        ("gd-ct-1", "healthy"),
        ("hk-ctl", "healthy"),
    ]
    audit = api.client.get(
        "/api/audit-logs", headers=api.headers(), params={"resource": "probe"}
    ).json()
    healths = [e["details"].get("health") for e in audit["data"] if "health" in e["details"]]
    from sigma.db.engine import unit_of_work
    from sigma.services.actor import local_actor
    from sigma.services.attention import attention

    with unit_of_work(api.app.state.sessions) as s:
        items = {i.kind: i for i in attention(s, local_actor()).items}
    assert items["probes-unhealthy"].count == 1 and items["probes-unhealthy"].listing == "probes"
    # the changes only: gd-ct-1 healthy; hk-ctl unhealthy, then healthy; cm-odd unhealthy
    assert sorted(healths) == ["healthy", "healthy", "unhealthy", "unhealthy"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"source": "x", "carrier": "telecom"}, "carrier"),
        ({"source": "x", "region": "a" * 65}, "region"),
        ({"source": ""}, "source"),
        ({"source": "has space"}, "source"),
        (
            {"source": "x", "references": [{"name": "r", "ip": "1.2.3.4", "outcome": "meh"}]},
            "outcome",
        ),
        ({"source": "x", "references": [{"name": "r", "ip": "999.1.1.1", "outcome": "ok"}]}, "ip"),
        ({"source": "x", "round": {"checks": -1}}, "checks"),
        ({"source": "x", "surprise": 1}, "surprise"),
    ],
)
def test_bad_reports_are_refused_naming_the_field(api, body, field):
    probe = {"X-Api-Key": api.api_key("probe")}
    r = api.client.post("/api/probes/report", headers=probe, json=body)
    assert r.status_code == 422 and field in r.text, r.text
    assert api.client.get("/api/probes", headers=api.headers()).json() == []


def test_roles_on_the_probe_routes(api):
    reader = api.headers(api.user("readonly"))
    probe = {"X-Api-Key": api.api_key("probe")}
    assert _report(api, reader, "x", ["ok", "timeout"]).status_code == 403
    assert _report(api, probe, "x", ["ok", "timeout"]).status_code == 200
    assert api.client.get("/api/probes", headers=probe).status_code == 403
    assert api.client.delete("/api/probes/x", headers=probe).status_code == 403
    assert api.client.delete("/api/probes/x", headers=reader).status_code == 403
    assert api.client.delete("/api/probes/x", headers=api.headers()).status_code == 200
    assert api.client.delete("/api/probes/x", headers=api.headers()).status_code == 404
    assert api.client.get("/api/probes").status_code == 401


def test_outcomes_are_validated(api, vps):
    probe = {"X-Api-Key": api.api_key("probe")}
    now = datetime.now(UTC)
    for fields, word in (
        ({"outcome": "refused", "success": True}, "contradicts"),
        ({"outcome": "sideways"}, "outcome"),
        ({}, "success"),
        ({"outcome": "ok", "port": 70000}, "port"),
    ):
        r = api.client.post(
            "/api/ip-checks/batch",
            headers=probe,
            json={"checks": [_check(vps, "cn-a", "tcp", now, **fields)]},
        )
        assert r.status_code == 422 and word in r.text, (fields, r.text)
    icmp_port = _check(vps, "cn-a", "icmp", now, outcome="ok", port=22)
    tcp_loss = _check(vps, "cn-a", "tcp", now, outcome="ok", loss_pct=5.0)
    for check, word in ((icmp_port, "port"), (tcp_loss, "loss_pct")):
        r = api.client.post("/api/ip-checks/batch", headers=probe, json={"checks": [check]})
        assert r.status_code == 422 and word in r.text, r.text
    good = [
        _check(vps, "cn-a", "icmp", now, outcome="ok", latency_ms=40, loss_pct=33.3, jitter_ms=4),
        _check(vps, "cn-a", "tls", now, outcome="tls_failed", port=443),
        _check(vps, "cn-a", "http", now, outcome="http_error", port=80),
    ]
    r = api.client.post("/api/ip-checks/batch", headers=probe, json={"checks": good})
    assert r.status_code == 200 and r.json()["inserted"] == 3, r.text
    rows = api.client.get(
        "/api/ip-checks", headers=api.headers(), params={"vps_id": vps["id"]}
    ).json()["data"]
    got = {r["check_type"]: r for r in rows}
    assert (got["icmp"]["loss_pct"], got["icmp"]["jitter_ms"]) == (33.3, 4)
    assert (got["tls"]["outcome"], got["tls"]["success"], got["tls"]["port"]) == (
        "tls_failed",
        False,
        443,
    )
    assert got["http"]["success"] is True  # an HTTP answer, even an error, is an answer


def test_a_refused_port_and_an_unhealthy_probe_through_the_batch_route(api, vps):
    probe = api.headers()  # an operator posting for several probes (a key speaks for one)
    t0 = datetime.now(UTC) - timedelta(minutes=20)
    # cm-sh is unhealthy (its references disagree): whatever it sees moves nothing
    assert _report(api, _key(api), "cm-sh", ["timeout", "timeout"], carrier="cm").status_code == 200
    for source, carrier, control in (("ct-gd", "ct", False), ("hk", "other", True)):
        expected = ["ok", "timeout"] if not control else ["ok", "ok"]
        _report(api, _key(api), source, expected, carrier=carrier, control=control)
    for n in range(4):
        at = t0 + timedelta(minutes=n)
        checks = [
            # the host sends a RST on 22 from China: it is there, so no block
            _check(vps, "ct-gd", "tcp", at, outcome="refused", port=22),
            _check(vps, "ct-gd", "icmp", at, outcome="ok"),
            _check(vps, "hk", "tcp", at, outcome="ok", port=22),
            _check(vps, "hk", "icmp", at, outcome="ok"),
            _check(vps, "cm-sh", "tcp", at, outcome="timeout", port=22),
            _check(vps, "cm-sh", "icmp", at, outcome="unreachable"),
        ]
        r = api.client.post("/api/ip-checks/batch", headers=probe, json={"checks": checks})
        assert r.status_code == 200, r.text
    [row] = api.client.get("/api/ip-checks/status", headers=api.headers()).json()
    assert row["verdict"] == "ok", row
    assert row["sources"]["cm-sh"]["state"] == "unhealthy"
    assert row["sources"]["ct-gd"]["outcomes"]["tcp:22"] == "refused"
    assert row["sources"]["ct-gd"]["carrier"] == "ct" and row["sources"]["hk"]["control"]
    # now China times out on 22 while ICMP answers and the control connects: port-blocked
    for n in range(3):
        at = t0 + timedelta(minutes=10 + n)
        checks = [
            _check(vps, "ct-gd", "tcp", at, outcome="timeout", port=22),
            _check(vps, "ct-gd", "icmp", at, outcome="ok"),
            _check(vps, "hk", "tcp", at, outcome="ok", port=22),
            _check(vps, "hk", "icmp", at, outcome="ok"),
        ]
        api.client.post("/api/ip-checks/batch", headers=probe, json={"checks": checks})
    [row] = api.client.get("/api/ip-checks/status", headers=api.headers()).json()
    assert row["verdict"] == "port-blocked"
    assert row["detail"]["carriers"] == ["ct"] and row["detail"]["checks"] == ["tcp:22"]
    assert (row["detail"]["agree"], row["detail"]["of"]) == (1, 1)
    timeline = api.client.get(f"/api/vps/{vps['id']}/history", headers=api.headers()).json()
    assert any(e["details"].get("to") == "port-blocked" for e in timeline["data"])


def test_cli_probe_list_and_status_why(cli, run):
    from sigma.services import ip_checks, probes, vps

    v = run(
        vps.create, {"hostname": "hk-1", "status": "active", "ip_addresses": [{"ip": "103.1.2.3"}]}
    )
    for source, carrier, control in (
        ("ct-gd", "ct", False),
        ("cu-bj", "cu", False),
        ("hk", "other", True),
    ):
        run(
            probes.report, {"source": source, "carrier": carrier, "region": "r", "control": control}
        )
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(3):
        at = t0 + timedelta(minutes=n)
        vps_ = {"id": str(v.id)}
        checks = [
            _check(vps_, "ct-gd", "tcp", at, outcome="timeout", port=22),
            _check(vps_, "ct-gd", "icmp", at, outcome="unreachable"),
            _check(vps_, "cu-bj", "tcp", at, outcome="ok", port=22),
            _check(vps_, "cu-bj", "icmp", at, outcome="ok"),
            _check(vps_, "hk", "tcp", at, outcome="ok", port=22),
            _check(vps_, "hk", "icmp", at, outcome="ok"),
        ]
        run(ip_checks.record_batch, {"checks": checks})
    r = cli("probe", "list", "--format", "json")
    assert r.code == 0, r.err
    assert [(p["source"], p["carrier"], p["china"], p["health"]) for p in r.json()] == [
        ("ct-gd", "ct", True, "unknown"),
        ("cu-bj", "cu", True, "unknown"),
        ("hk", "other", False, "unknown"),
    ]
    table = cli("probe", "list").out
    assert "control" in table and "china" in table
    r = cli("ip-check", "status")
    assert r.code == 0, r.err
    assert "degraded" in r.out and "ct icmp,tcp:22 1/3" in r.out  # carrier, checks, n/m
    r = cli("ip-check", "status", "--format", "json")
    assert r.json()[0]["detail"]["carriers"] == ["ct"]
    r = cli("ip-check", "status", "--verdict", "port-blocked", "--format", "json")
    assert r.code == 0 and r.json() == []
    r = cli("probe", "rm", "nobody")
    assert r.code == 3 and "nobody" in r.err
    assert cli("probe", "rm", "hk").code == 0
    assert [p["source"] for p in cli("probe", "list", "--format", "json").json()] == [
        "ct-gd",
        "cu-bj",
    ]


def test_a_probe_key_speaks_for_one_probe(api, vps):
    """Bound at provisioning (?source=) or by its first report: reports and results as
    another probe are refused, so one compromised probe node cannot pose as another."""
    r = api.client.post(
        "/api/ip-checks/probe-keys",
        headers=api.headers(),
        params={"source": "gd-ct"},
        json={"name": "probe-gd-ct"},
    )
    assert r.status_code == 200 and r.json()["probe_source"] == "gd-ct", r.text
    bound = {"X-Api-Key": r.json()["key"]}
    assert _report(api, bound, "gd-ct", ["ok", "timeout"], carrier="ct").status_code == 200
    r = _report(api, bound, "hk-ctl", ["ok", "ok"], carrier="other", control=True)
    assert r.status_code == 403 and "speaks for probe gd-ct" in r.text
    now = datetime.now(UTC)
    checks = [
        _check(vps, "gd-ct", "icmp", now, outcome="ok"),
        _check(vps, "hk-ctl", "icmp", now, outcome="unreachable"),
    ]
    r = api.client.post("/api/ip-checks/batch", headers=bound, json={"checks": checks})
    assert r.status_code == 200 and r.json()["inserted"] == 1, r.text
    assert r.json()["rejected"] == [
        {"index": 1, "error": "source: this key speaks for probe gd-ct, not hk-ctl"}
    ]
    # a key provisioned without a source is bound by its first report
    loose = {"X-Api-Key": api.api_key("probe")}
    assert _report(api, loose, "sh-cm", ["ok", "timeout"], carrier="cm").status_code == 200
    assert _report(api, loose, "gd-ct", ["ok", "timeout"], carrier="ct").status_code == 403
    keys = api.client.get("/api/auth/api-keys", headers=api.headers(), params={"all_users": "true"})
    assert {k["probe_source"] for k in keys.json()} >= {"gd-ct", "sh-cm"}
    # an operator may still report for any probe (a manual run), and bad sources are refused
    assert _report(api, api.headers(), "hk-ctl", ["ok", "ok"], control=True).status_code == 200
    r = api.client.post(
        "/api/ip-checks/probe-keys",
        headers=api.headers(),
        params={"source": "has space"},
        json={"name": "x"},
    )
    assert r.status_code == 422 and "source" in r.text
    refused = api.client.get(
        "/api/audit-logs", headers=api.headers(), params={"action": "probe-report-refused"}
    ).json()["data"]
    assert any(e["details"].get("bound_to") == "gd-ct" for e in refused)
