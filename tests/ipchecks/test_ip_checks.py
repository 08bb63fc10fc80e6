"""IP checks: the contract's CRUD, summary and purge, the probes' batch route (idempotent),
targets, reachability verdicts, and the CLI (both databases)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest


@pytest.fixture
def fleet(api):
    h = api.headers()
    a = api.client.post(
        "/api/vps",
        headers=h,
        json={
            "hostname": "hk-1",
            "status": "active",
            "ssh_port": 2222,
            "ip_addresses": [
                {"ip": "103.1.2.3", "label": "china-telecom"},
                {"ip": "2001:db8::1"},
                {"ip": "10.0.0.1", "label": "internal"},
            ],
        },
    ).json()
    b = api.client.post(
        "/api/vps",
        headers=h,
        json={"hostname": "jp-1", "status": "retired", "ip_addresses": [{"ip": "198.51.100.9"}]},
    ).json()
    return a, b


def test_contract_crud_summary_purge(api, fleet):
    a, _ = fleet
    h = api.headers()
    made = []
    for ok, ms in ((True, 40), (True, 60), (False, None)):
        r = api.client.post(
            "/api/ip-checks",
            headers=h,
            json={
                "vps_id": a["id"],
                "ip": "103.1.2.3",
                "success": ok,
                "latency_ms": ms,
                "source": "cn-bj",
                "check_type": "tcp",
            },
        )
        assert r.status_code == 200, r.text
        made.append(r.json())
    # the contract's fields, then issue 17's (null from a probe that sends only `success`)
    assert set(made[0]) == {
        "id",
        "vps_id",
        "ip",
        "check_type",
        "source",
        "success",
        "latency_ms",
        "checked_at",
    } | {"outcome", "port", "loss_pct", "jitter_ms"}
    assert made[0]["outcome"] is None and made[0]["port"] is None
    r = api.client.post(
        "/api/ip-checks",
        headers=h,
        json={"vps_id": a["id"], "ip": "2001:0db8::0001", "success": True},
    )
    assert (
        r.json()["ip"] == "2001:db8::1"
        and r.json()["check_type"] == "icmp"
        and r.json()["source"] == ""
    )
    for body, field in (
        ({"vps_id": a["id"], "ip": "1.2.3.4", "success": True, "check_type": "udp"}, "check_type"),
        ({"vps_id": a["id"], "ip": "1.2.3.999", "success": True}, "ip"),
        ({"vps_id": str(uuid.uuid4()), "ip": "1.2.3.4", "success": True}, "vps_id"),
    ):
        r = api.client.post("/api/ip-checks", headers=h, json=body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    page = api.client.get(
        "/api/ip-checks", headers=h, params={"ip": "103.1.2.3", "per_page": 2}
    ).json()
    assert page["total"] == 3 and len(page["data"]) == 2 and page["data"][0]["id"] == made[2]["id"]
    assert (
        api.client.get("/api/ip-checks", headers=h, params={"success": "false"}).json()["total"]
        == 1
    )
    assert api.client.get("/api/ip-checks", headers=h, params={"ip": "nope"}).status_code == 422
    assert api.client.get(f"/api/ip-checks/{made[0]['id']}", headers=h).json() == made[0]
    assert api.client.get(f"/api/ip-checks/{uuid.uuid4()}", headers=h).status_code == 404
    summary = api.client.get("/api/ip-checks/summary", headers=h, params={"vps_id": a["id"]}).json()
    s = next(x for x in summary if x["ip"] == "103.1.2.3")
    assert s["total_checks"] == 3 and s["success_count"] == 2 and s["success_rate"] == 66.67
    assert s["avg_latency_ms"] == 50.0 and s["last_success"] is False
    assert summary[0]["last_check"] >= summary[-1]["last_check"]
    assert api.client.delete(f"/api/ip-checks/{made[0]['id']}", headers=h).json() == {
        "deleted": True
    }
    assert api.client.delete(f"/api/ip-checks/{made[0]['id']}", headers=h).status_code == 404
    assert api.client.delete(
        "/api/ip-checks/purge", headers=h, params={"older_than_days": 1}
    ).json() == {"deleted": 0}
    assert api.client.delete(
        "/api/ip-checks/purge", headers=h, params={"older_than_days": 0}
    ).json() == {"deleted": 3}
    assert api.client.delete("/api/ip-checks/purge", headers=h).status_code == 422
    # deleting the VPS cascades to its checks
    api.client.post(
        "/api/ip-checks", headers=h, json={"vps_id": a["id"], "ip": "103.1.2.3", "success": True}
    )
    api.client.delete(f"/api/vps/{a['id']}", headers=h)
    assert api.client.get("/api/ip-checks", headers=h).json()["total"] == 0


def test_targets_and_idempotent_batch(api, fleet):
    a, b = fleet
    key = {"X-Api-Key": api.api_key("probe")}
    targets = api.client.get("/api/ip-checks/targets", headers=key).json()
    assert [(t["ip"], t["label"], t["ssh_port"]) for t in targets] == [
        ("103.1.2.3", "china-telecom", 2222),
        ("2001:db8::1", "", 2222),
        ("10.0.0.1", "internal", 2222),
    ]
    ids = [str(uuid.uuid4()) for _ in range(3)]
    checks = [
        {
            "id": ids[i],
            "vps_id": a["id"],
            "ip": "103.1.2.3",
            "check_type": t,
            "source": "cn-sh",
            "success": True,
            "latency_ms": 5,
            "checked_at": "2024-01-01T00:00:00Z",
        }
        for i, t in enumerate(("icmp", "tcp", "http"))
    ]
    gone = {
        "vps_id": str(uuid.uuid4()),
        "ip": "1.1.1.1",
        "check_type": "tcp",
        "source": "cn-sh",
        "success": False,
    }
    r = api.client.post("/api/ip-checks/batch", headers=key, json={"checks": [*checks, gone]})
    assert r.status_code == 200, r.text
    assert (
        r.json()["inserted"] == 3
        and r.json()["duplicates"] == 0
        and r.json()["rejected"][0]["index"] == 3
    )
    r = api.client.post(
        "/api/ip-checks/batch", headers=key, json={"checks": checks}
    )  # re-sent from a spool
    assert r.json() == {"inserted": 0, "duplicates": 3, "rejected": []}
    page = api.client.get("/api/ip-checks", headers=api.headers()).json()
    assert page["total"] == 3 and page["data"][0]["checked_at"] == "2024-01-01T00:00:00Z"
    r = api.client.post(
        "/api/ip-checks/batch", headers=key, json={"checks": [dict(checks[0], check_type="udp")]}
    )
    assert r.status_code == 422
    future = dict(checks[0], id=str(uuid.uuid4()), checked_at="2999-01-01T00:00:00Z")
    assert api.client.post("/api/ip-checks/batch", headers=key, json={"checks": [future]}).json()[
        "rejected"
    ]
    ro = {"X-Api-Key": api.api_key("readonly")}
    assert (
        api.client.post("/api/ip-checks/batch", headers=ro, json={"checks": []}).status_code == 403
    )
    assert api.client.get("/api/ip-checks/targets", headers=ro).status_code == 403
    # an agent's key reports for its own VPS, never reachability: no forged verdicts
    agent = {"X-Api-Key": api.api_key("agent")}
    assert (
        api.client.post(
            "/api/ip-checks/batch", headers=agent, json={"checks": [future]}
        ).status_code
        == 403
    )
    assert api.client.post("/api/ip-checks", headers=agent, json=gone).status_code == 403
    assert api.client.get("/api/ip-checks/targets", headers=agent).status_code == 403
    # a probe reports on the inventory's addresses only
    stray = dict(checks[0], id=str(uuid.uuid4()), ip="192.0.2.77")
    [rej] = api.client.post("/api/ip-checks/batch", headers=key, json={"checks": [stray]}).json()[
        "rejected"
    ]
    assert rej["index"] == 0 and "not an address of VPS hk-1" in rej["error"]
    r = api.client.post(
        "/api/ip-checks", headers=key, json={"vps_id": a["id"], "ip": "192.0.2.77", "success": True}
    )
    assert r.status_code == 422 and r.json()["field"] == "ip"


def _round(api, key, vps_id, ip, results, at):
    checks = [
        {
            "id": str(uuid.uuid4()),
            "vps_id": vps_id,
            "ip": ip,
            "check_type": t,
            "source": s,
            "success": ok,
            "latency_ms": 30 if ok else None,
            "checked_at": at.isoformat(),
        }
        for s, per_type in results.items()
        for t, ok in per_type.items()
    ]
    r = api.client.post("/api/ip-checks/batch", headers=key, json={"checks": checks})
    assert r.status_code == 200 and r.json()["inserted"] == len(checks), r.text


def _verdict(api, ip):
    rows = api.client.get("/api/ip-checks/status", headers=api.headers()).json()
    return next(r for r in rows if r["ip"] == ip)


def test_verdicts_blocked_down_degraded_ok(api, fleet):
    from sigma.db.types import utcnow

    a, _ = fleet
    key = {"X-Api-Key": api.api_key("probe")}
    t0 = utcnow() - timedelta(minutes=30)
    ip = "103.1.2.3"
    ok = {"icmp": True, "tcp": True}
    bad = {"icmp": False, "tcp": False}
    _round(api, key, a["id"], ip, {"cn-bj": ok, "cn-sh": ok, "hk-control": ok}, t0)
    assert _verdict(api, ip)["verdict"] == "ok"
    # ICMP filtered by the host everywhere, TCP fine: still ok
    _round(
        api,
        key,
        a["id"],
        ip,
        {
            "cn-bj": {"icmp": False, "tcp": True},
            "hk-control": {"icmp": False, "tcp": True},
            "cn-sh": {"icmp": False, "tcp": True},
        },
        t0 + timedelta(minutes=1),
    )
    assert _verdict(api, ip)["verdict"] == "ok"
    # China fails, the control succeeds: degraded until confirmed over 3 rounds, then blocked
    for n in range(3):
        _round(
            api,
            key,
            a["id"],
            ip,
            {"cn-bj": bad, "cn-sh": bad, "hk-control": ok},
            t0 + timedelta(minutes=2 + n),
        )
        assert _verdict(api, ip)["verdict"] == ("blocked" if n == 2 else "degraded")
    row = _verdict(api, ip)
    assert row["sources"]["cn-bj"]["state"] == "fail" and row["sources"]["cn-bj"]["fails"] == 3
    assert row["sources"]["hk-control"]["state"] == "ok" and list(row["sources"])[:2] == [
        "cn-bj",
        "cn-sh",
    ]
    # a late result from a spool does not rewrite history
    _round(api, key, a["id"], ip, {"cn-bj": ok}, t0 - timedelta(minutes=5))
    assert _verdict(api, ip)["verdict"] == "blocked"
    # then the control fails too: down after 3 rounds
    for n in range(3):
        _round(
            api,
            key,
            a["id"],
            ip,
            {"cn-bj": bad, "cn-sh": bad, "hk-control": bad},
            t0 + timedelta(minutes=10 + n),
        )
    assert _verdict(api, ip)["verdict"] == "down"
    # one carrier back: degraded; everything back: ok
    _round(
        api,
        key,
        a["id"],
        ip,
        {"cn-bj": ok, "cn-sh": bad, "hk-control": ok},
        t0 + timedelta(minutes=20),
    )
    assert _verdict(api, ip)["verdict"] == "degraded"
    _round(
        api,
        key,
        a["id"],
        ip,
        {"cn-bj": ok, "cn-sh": ok, "hk-control": ok},
        t0 + timedelta(minutes=21),
    )
    assert _verdict(api, ip)["verdict"] == "ok"
    events = api.client.get(
        "/api/vps-events", headers=api.headers(), params={"kind": "reachability"}
    ).json()
    changes = [(e["details"]["from"], e["details"]["to"]) for e in reversed(events)]
    assert changes == [
        ("ok", "degraded"),
        ("degraded", "blocked"),
        ("blocked", "degraded"),
        ("degraded", "down"),
        ("down", "degraded"),
        ("degraded", "ok"),
    ]
    assert events[0]["hostname"] == "hk-1" and events[0]["details"]["label"] == "china-telecom"
    assert [
        r["verdict"]
        for r in api.client.get(
            "/api/ip-checks/status", headers=api.headers(), params={"verdict": "ok"}
        ).json()
    ] == ["ok"]
    assert (
        api.client.get(
            "/api/ip-checks/status", headers=api.headers(), params={"verdict": "meh"}
        ).status_code
        == 422
    )


def test_verdict_rules_unit():
    from datetime import UTC, datetime

    from sigma.services.ip_checks import _iso
    from sigma.services.verdicts import decide

    now = datetime.now(UTC)

    def st(ok, fails=0, oks=0, age=0):
        return {
            "ok": ok,
            "fails": fails,
            "oks": oks,
            "at": _iso(now - timedelta(seconds=age)),
            "latency_ms": 1,
        }

    def verdict(state):
        return decide(state, {}, now)[0].verdict

    assert verdict({}) == "unknown"
    # only China sources, all failing long enough: down (nothing says the host is up)
    assert verdict({"cn-a": {"tcp": st(False, 3)}}) == "down"
    # the failing source is stale: its view is ignored
    assert (
        verdict({"cn-a": {"tcp": st(False, 9, age=7200)}, "de": {"tcp": st(True, oks=5)}}) == "ok"
    )
    # the control has not yet succeeded 3 rounds in a row: degraded, not blocked
    assert verdict({"cn-a": {"tcp": st(False, 3)}, "de": {"tcp": st(True, oks=1)}}) == "degraded"
    assert verdict({"cn-a": {"tcp": st(False, 3)}, "de": {"tcp": st(True, oks=3)}}) == "blocked"


def test_cli_ip_check_commands(cli):
    _cli_flow(cli)


def test_cli_ip_check_commands_remote(cli, remote_cli_server):
    """The same commands against `sigma serve` (the remote backend)."""
    _cli_flow(cli)


def _cli_flow(cli):
    assert cli("vps", "add", "hk-1", "--ip", "103.1.2.3=ct", "--status", "active").code == 0
    r = cli(
        "ip-check",
        "add",
        "--vps",
        "hk-1",
        "--ip",
        "103.1.2.3",
        "--success",
        "--check-type",
        "tcp",
        "--source",
        "cn-bj",
        "--latency-ms",
        "48",
    )
    assert r.code == 0 and "-> ok" in r.err
    assert (
        cli("ip-check", "add", "--vps", "hk-1", "--ip", "103.1.2.3", "--source", "cn-sh").code == 0
    )
    r = cli("ip-check", "list", "--format", "json")
    assert r.code == 0 and len(r.json()) == 2
    r = cli("ip-check", "list", "--success", "false")
    assert "FAIL" in r.out and "hk-1" in r.out
    r = cli("ip-check", "summary")
    assert "1/2" in r.out and "50.0%" in r.out
    r = cli("ip-check", "status")
    assert r.code == 0 and "cn-bj" in r.out and "cn-sh" in r.out and "degraded" in r.out
    r = cli("ip-check", "status", "--format", "json")
    assert r.json()[0]["verdict"] == "degraded"
    check_id = cli("ip-check", "list", "-q").out.split()[0]
    assert cli("ip-check", "show", check_id).code == 0
    assert cli("ip-check", "rm", check_id).code == 0
    assert cli("ip-check", "show", check_id).code == 3
    assert cli("ip-check", "add", "--vps", "hk-1", "--ip", "1.2.3", "--success").code == 2
    assert cli("ip-check", "purge", "--older-than-days", "0", "--yes").code == 0
    assert cli("ip-check", "list", "--format", "json").json() == []
    r = cli("agent", "events", "--format", "json")
    assert r.code == 0 and r.json()[0]["kind"] == "reachability"
    assert cli("ip-checks", "list").code == 0  # the original's spelling
