"""Latency and loss alerts per carrier (issue 17): firing over the window's averages, once,
recovering, thresholds per carrier and per VPS, unhealthy probes left out; the notices
(webhook, once each), the API, the CLI on both backends. Both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sigma.services import ip_checks, probes, reach_alerts, vps


def _check(v, source, check_type, at, **fields):
    return {
        "id": str(uuid.uuid4()),
        "vps_id": str(v.id),
        "ip": "103.1.2.3",
        "check_type": check_type,
        "source": source,
        "checked_at": at.isoformat(),
        **fields,
    }


@pytest.fixture
def host(run):
    v = run(
        vps.create,
        {"hostname": "hk-1", "status": "active", "ip_addresses": [{"ip": "103.1.2.3"}]},
    )
    for source, carrier in (("gd-ct", "ct"), ("bj-cu", "cu"), ("sh-cm", "cm")):
        run(probes.report, {"source": source, "carrier": carrier})
    return v


def _round(run, v, at, ct_ms=500, cu_ms=100, cm_loss=50.0):
    checks = [
        _check(v, "gd-ct", "tcp", at, outcome="ok", port=22, latency_ms=ct_ms),
        _check(v, "bj-cu", "tcp", at, outcome="ok", port=22, latency_ms=cu_ms),
        _check(v, "sh-cm", "icmp", at, outcome="ok", latency_ms=80, loss_pct=cm_loss),
    ]
    run(ip_checks.record_batch, {"checks": checks})


def _evaluate(sessions, now, **info):
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import unit_of_work

    tuned = sessionmaker(sessions.kw["bind"], expire_on_commit=False, info=info)
    with unit_of_work(tuned) as s:
        return reach_alerts.evaluate(s, now)


def _firing(run):
    return sorted((a.carrier, a.metric, a.value) for a in run(reach_alerts.list_alerts))


def test_fire_once_recover_and_thresholds(run, sessions, host):
    from sigma.services import history

    later = datetime.now(UTC)
    now = later - timedelta(minutes=30)  # results may not come from the future
    for m in (12, 7, 2):
        _round(run, host, now - timedelta(minutes=m))
    assert _evaluate(sessions, now) == (2, 0)  # ct latency 500 > 300, cm loss 50 > 20
    assert _firing(run) == [("cm", "loss", 50.0), ("ct", "latency", 500.0)]
    assert _evaluate(sessions, now) == (0, 0)  # the same facts: nothing new
    # a carrier of its own in the settings: ct may take 1,000 ms
    assert _evaluate(sessions, now, alert_latency_ms={"default": 300, "ct": 1000}) == (0, 1)
    assert _firing(run) == [("cm", "loss", 50.0)]
    # the VPS's own threshold wins over the settings'
    run(reach_alerts.set_thresholds, "hk-1", {"latency_ms": 50, "loss_pct": 60})
    # latency > 50 from every carrier (cm's from ICMP: 80 ms); cm's loss 50 <= 60 recovers
    assert _evaluate(sessions, now) == (3, 1)
    assert _firing(run) == [
        ("cm", "latency", 80.0),
        ("ct", "latency", 500.0),
        ("cu", "latency", 100.0),
    ]
    run(reach_alerts.set_thresholds, "hk-1", {})  # back to the settings'
    for m in (12, 7, 2):
        _round(run, host, later - timedelta(minutes=m), ct_ms=120, cm_loss=0.0)
    assert _evaluate(sessions, later) == (0, 3)  # the window has moved on: all back under
    assert _firing(run) == []
    events = run(history.timeline, "hk-1", {"kind": "reach-recovered"}).data
    assert {(e.details["carrier"], e.details["metric"]) for e in events} == {
        ("cm", "loss"),
        ("cm", "latency"),
        ("ct", "latency"),
        ("cu", "latency"),
    }
    assert all(e.source == "probe" for e in events)


def test_an_unhealthy_probe_and_silence_are_not_recoveries(run, sessions, host):
    from sqlalchemy import update

    from sigma.db.engine import unit_of_work
    from sigma.db.models.monitoring import Probe

    now = datetime.now(UTC)
    _round(run, host, now - timedelta(minutes=2), ct_ms=900)
    assert _evaluate(sessions, now) == (2, 0)
    with unit_of_work(sessions) as s:
        s.execute(update(Probe).where(Probe.source == "gd-ct").values(health="unhealthy"))
    # gd-ct is not counted any more: no figure for ct, so its alert neither fires nor recovers
    assert _evaluate(sessions, now) == (0, 0)
    assert ("ct", "latency", 900.0) in _firing(run)
    # nothing heard for an hour: the alerts stay (silence is the verdict's business)
    assert _evaluate(sessions, now + timedelta(hours=1)) == (0, 0)
    assert len(_firing(run)) == 2


def test_alert_notices_once_each(run, sessions, host, webhook):
    from sigma.services import notify
    from sigma.services.actor import local_actor
    from sigma.settings import Settings

    conf = Settings(database_url="sqlite://", webhook_url=webhook.url + "/hook")
    later = datetime.now(UTC)
    now = later - timedelta(minutes=30)
    _round(run, host, now - timedelta(minutes=2))
    _evaluate(sessions, now)
    report = notify.run(sessions, local_actor(), conf)
    assert report.sent == 2 and {n.kind for n in report.notices} == {"reach-alert"}
    bodies = sorted((r["json"]["event"], r["json"]["carrier"]) for r in webhook.requests)
    assert bodies == [("vps_reach_alert", "cm"), ("vps_reach_alert", "ct")]
    ct = next(r["json"] for r in webhook.requests if r["json"]["carrier"] == "ct")
    assert (ct["metric"], ct["value"], ct["threshold"], ct["ip"]) == (
        "latency",
        500.0,
        300.0,
        "103.1.2.3",
    )
    assert notify.run(sessions, local_actor(), conf).sent == 0
    _round(run, host, later - timedelta(minutes=2), ct_ms=100, cm_loss=0.0)
    _evaluate(sessions, later)
    again = notify.run(sessions, local_actor(), conf)
    assert sorted(n.kind for n in again.notices) == ["reach-recovered", "reach-recovered"]


def test_thresholds_api_roles_and_bad_values(api):
    h = api.headers()
    v = api.client.post("/api/vps", headers=h, json={"hostname": "hk-1", "status": "active"}).json()
    r = api.client.get(f"/api/vps/{v['id']}/alert-thresholds", headers=h)
    assert r.status_code == 200 and r.json()["latency_ms"] is None
    assert r.json()["defaults"] == {"latency_ms": {"default": 300}, "loss_pct": {"default": 20}}
    r = api.client.put("/api/vps/hk-1/alert-thresholds", headers=h, json={"latency_ms": 400})
    assert r.status_code == 200 and (r.json()["latency_ms"], r.json()["loss_pct"]) == (400, None)
    for body, field in (
        ({"latency_ms": -1}, "latency_ms"),
        ({"loss_pct": 101}, "loss_pct"),
        ({"loss_pct": "lots"}, "loss_pct"),
        ({"jitter": 5}, "jitter"),
    ):
        r = api.client.put("/api/vps/hk-1/alert-thresholds", headers=h, json=body)
        assert r.status_code == 422 and field in r.text, r.text
    reader = api.headers(api.user("readonly"))
    assert api.client.get("/api/vps/hk-1/alert-thresholds", headers=reader).status_code == 200
    r = api.client.put("/api/vps/hk-1/alert-thresholds", headers=reader, json={})
    assert r.status_code == 403
    assert api.client.put("/api/vps/nobody/alert-thresholds", headers=h, json={}).status_code == 404
    assert api.client.get("/api/ip-checks/alerts", headers=reader).json() == []
    audit = api.client.get("/api/audit-logs", headers=h, params={"resource": "vps"}).json()
    assert any("alert_thresholds" in e["details"] for e in audit["data"])


def test_cli_alerts_and_thresholds(cli, run, sessions, host):
    now = datetime.now(UTC)
    _round(run, host, now - timedelta(minutes=2))
    _evaluate(sessions, now)
    r = cli("ip-check", "alerts")
    assert r.code == 0 and "latency 500 ms > 300 ms" in r.out and "loss 50 % > 20 %" in r.out
    r = cli("ip-check", "thresholds", "hk-1")
    assert r.code == 0 and "settings: default 300 ms" in r.out
    r = cli("ip-check", "thresholds", "hk-1", "--latency-ms", "800", "--format", "json")
    assert r.code == 0 and (r.json()["latency_ms"], r.json()["loss_pct"]) == (800, None)
    r = cli("ip-check", "thresholds", "hk-1", "--loss-pct", "30")
    assert r.code == 0 and "800 ms (this VPS)" in r.out and "30.0 % (this VPS)" in r.out
    r = cli("ip-check", "thresholds", "hk-1", "--clear", "--loss-pct", "3")
    assert r.code == 2 and "clear" in r.err
    assert "settings" in cli("ip-check", "thresholds", "hk-1", "--clear").out
    r = cli("ip-check", "thresholds", "hk-1", "--loss-pct", "200")
    assert r.code == 2 and "loss_pct" in r.err
    assert cli("ip-check", "thresholds", "nobody").code == 3
