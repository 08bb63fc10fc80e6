"""Check history (issue 17): results summed into 5-minute, hourly and 6-hour buckets, per IP
and for the fleet, as they arrive
(period boundaries, late results from a spool, two batches on one bucket), the store a
query reads, retention at its boundaries, bad queries, and the CLI on both backends. Both
databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sigma.services import check_history, ip_checks, vps

HOUR = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


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
    return run(
        vps.create,
        {"hostname": "hk-1", "status": "active", "ip_addresses": [{"ip": "103.1.2.3"}]},
    )


def _post(run, checks, monkeypatch, now):
    """A batch as the server takes it at `now` (results up to 5 minutes ahead are taken)."""
    monkeypatch.setattr(ip_checks, "utcnow", lambda: now)
    return run(ip_checks.record_batch, {"checks": checks})


def test_buckets_at_their_boundaries_late_results_and_merges(run, host, monkeypatch):
    now = HOUR + timedelta(hours=2)
    first = [
        _check(
            host,
            "cn-ct",
            "tcp",
            HOUR + timedelta(minutes=4, seconds=59),
            outcome="ok",
            port=22,
            latency_ms=40,
        ),
        _check(host, "cn-ct", "tcp", HOUR + timedelta(minutes=5), outcome="timeout", port=22),
        _check(
            host,
            "cn-ct",
            "icmp",
            HOUR + timedelta(minutes=1),
            outcome="ok",
            latency_ms=30,
            loss_pct=0.0,
        ),
    ]
    assert _post(run, first, monkeypatch, now).inserted == 3
    # later, another batch: one more result in the first bucket, and a late one from a
    # spool, an hour earlier (its own buckets); an older probe's failure has no outcome
    second = [
        _check(
            host,
            "cn-ct",
            "tcp",
            HOUR + timedelta(minutes=2),
            outcome="refused",
            port=22,
            latency_ms=10,
        ),
        _check(host, "cn-ct", "tcp", HOUR - timedelta(minutes=50), success=False, port=22),
        _check(
            host,
            "cn-ct",
            "icmp",
            HOUR + timedelta(minutes=3),
            outcome="ok",
            latency_ms=50,
            loss_pct=33.3,
        ),
    ]
    assert _post(run, second, monkeypatch, now).inserted == 3
    q = {
        "ip": "103.1.2.3",
        "since": (HOUR - timedelta(hours=1)).isoformat(),
        "until": (HOUR + timedelta(hours=1)).isoformat(),
    }
    five = run(check_history.history, {**q, "resolution": "5m"})
    assert five.resolution == "5m"
    series = {(s.source, s.check): s.points for s in five.series}
    tcp = series[("cn-ct", "tcp:22")]
    assert [(p.t, p.checks) for p in tcp] == [
        (HOUR - timedelta(minutes=50), 1),
        (HOUR, 2),
        (HOUR + timedelta(minutes=5), 1),
    ]
    assert tcp[0].outcomes == {"unclassified": 1} and tcp[0].ok_pct == 0.0
    assert tcp[1].outcomes == {"ok": 1, "refused": 1}
    assert (tcp[1].ok_pct, tcp[1].up_pct) == (50.0, 100.0)  # refused: the host answered
    assert (tcp[1].latency_avg, tcp[1].latency_min, tcp[1].latency_max) == (25.0, 10, 40)
    assert tcp[2].latency_avg is None and tcp[2].outcomes == {"timeout": 1}
    [icmp] = series[("cn-ct", "icmp")]
    assert (icmp.checks, icmp.loss_pct, icmp.latency_min, icmp.latency_max) == (2, 16.6, 30, 50)
    hourly = run(check_history.history, {**q, "resolution": "1h"})
    tcp_h = {(s.check): s.points for s in hourly.series}["tcp:22"]
    assert [(p.t, p.checks) for p in tcp_h] == [(HOUR - timedelta(hours=1), 1), (HOUR, 3)]
    raw = run(check_history.history, {**q, "resolution": "raw", "check": "tcp:22"})
    assert [p.outcomes for p in raw.series[0].points] == [
        {"unclassified": 1},  # 09:10
        {"refused": 1},  # 10:02
        {"ok": 1},  # 10:04:59
        {"timeout": 1},  # 10:05
    ]
    only = run(check_history.history, {**q, "resolution": "5m", "source": "cn-cu"})
    assert only.series == []  # a known IP: an empty history, not an error


def test_the_store_follows_the_span(sessions):
    from sigma.db.types import utcnow

    now = utcnow()
    pick = check_history.resolution_for
    with sessions() as s:
        assert pick(s, now - timedelta(hours=6), now, "auto") == "raw"
        assert pick(s, now - timedelta(hours=7), now, "auto") == "5m"
        assert pick(s, now - timedelta(days=3), now, "auto") == "5m"
        assert pick(s, now - timedelta(days=4), now, "auto") == "1h"
        assert pick(s, now - timedelta(days=7), now, "auto") == "1h"
        assert pick(s, now - timedelta(days=8), now, "auto") == "6h"
        assert pick(s, now - timedelta(days=30), now, "auto") == "6h"
        assert pick(s, now - timedelta(hours=1), now, "auto", raw=False) == "5m"
        # raw checks of 3 days ago are gone (2 days kept): the 5-minute sums
        assert (
            pick(s, now - timedelta(days=3), now - timedelta(days=3) + timedelta(hours=1), "auto")
            == "5m"
        )
        assert pick(s, now - timedelta(days=40), now - timedelta(days=39), "auto") == "1h"
        assert pick(s, now - timedelta(days=40), now, "raw") == "raw"


def test_retention_at_the_boundaries(run, host, monkeypatch, sessions):
    from sqlalchemy import func, select

    from sigma.db.engine import unit_of_work
    from sigma.db.models.monitoring import IpCheck, IpCheckFleetRollup, IpCheckRollup

    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    ats = [
        now - timedelta(days=2, seconds=1),  # raw: gone
        now - timedelta(days=2) + timedelta(seconds=1),  # raw: kept
        now - timedelta(days=31),  # 5-minute bucket gone, hourly kept
        now - timedelta(days=366),  # everything gone
    ]
    _post(run, [_check(host, "cn-ct", "icmp", at, outcome="ok") for at in ats], monkeypatch, now)
    with unit_of_work(sessions) as s:
        deleted = check_history.prune(s, now)
    # the buckets' counts are the IP's and the fleet's (one source and check: the same rows)
    assert deleted == {"raw": 3, "5m": 2 * 2, "1h": 1 * 2, "6h": 1 * 2}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(IpCheck)) == 1
        for table in (IpCheckRollup, IpCheckFleetRollup):
            kept = s.execute(
                select(table.resolution, func.count()).group_by(table.resolution)
            ).all()
            assert sorted(kept) == [(300, 2), (3600, 3), (21600, 3)], table


@pytest.mark.parametrize(
    "query, field",
    [
        ({"ip": "103.1.2"}, "ip"),
        ({"ip": "103.1.2.3", "since": "2026-12-02", "until": "2026-12-01"}, "since"),
        ({"ip": "103.1.2.3", "check": "ssh:22"}, "check"),
        ({"ip": "103.1.2.3", "check": "tcp:abc"}, "check"),
        ({"ip": "103.1.2.3", "resolution": "10s"}, "resolution"),
        ({"ip": "103.1.2.3", "since": "yesterday"}, "since"),
        ({"ip": "103.1.2.3", "source": "a b"}, "source"),
    ],
)
def test_bad_queries_name_the_field(api, query, field):
    r = api.client.get("/api/ip-checks/history", headers=api.headers(), params=query)
    assert r.status_code == 422 and field in r.text, r.text


def test_an_empty_check_is_no_check_on_both_routes(api):
    """`?check=` (a form left empty) means every check: never a 500 (found by schemathesis)."""
    for route, params in (
        ("/api/ip-checks/history", {"ip": "198.51.100.7", "check": ""}),
        ("/api/ip-checks/fleet-history", {"check": ""}),
    ):
        r = api.client.get(route, headers=api.headers(), params=params)
        assert r.status_code == 200 and r.json()["series"] == [], (route, r.text)


def test_an_unknown_ip_has_no_series_and_readers_only(api):
    r = api.client.get(
        "/api/ip-checks/history", headers=api.headers(), params={"ip": "198.51.100.7"}
    )
    assert r.status_code == 200 and r.json()["series"] == []
    probe = {"X-Api-Key": api.api_key("probe")}
    assert (
        api.client.get(
            "/api/ip-checks/history", headers=probe, params={"ip": "198.51.100.7"}
        ).status_code
        == 403
    )
    assert api.client.get("/api/ip-checks/history", params={"ip": "1.2.3.4"}).status_code == 401


def test_cli_history(cli, run, host):
    now = datetime.now(UTC)
    checks = [
        _check(host, "cn-ct", "tcp", now - timedelta(minutes=m), outcome=o, port=22, latency_ms=lat)
        for m, o, lat in ((30, "ok", 40), (20, "timeout", None), (10, "ok", 60))
    ]
    run(ip_checks.record_batch, {"checks": checks})
    r = cli("ip-check", "history", "103.1.2.3", "--since", "1h")
    assert r.code == 0, r.err
    assert r.out.count("cn-ct") == 3 and "timeout 1" in r.out
    assert "1 series, raw points" in r.err
    data = cli(
        "ip-check",
        "history",
        "103.1.2.3",
        "--since",
        "2h",
        "--resolution",
        "1h",
        "--format",
        "json",
    ).json()
    assert data["resolution"] == "1h" and sum(p["checks"] for p in data["series"][0]["points"]) == 3
    r = cli("ip-check", "history", "103.1.2.3", "--check", "ssh")
    assert r.code == 2 and "check" in r.err
    r = cli("ip-check", "history", "198.51.100.7")
    assert r.code == 0 and "0 series" in r.err
    # no IP: the fleet, per source (5-minute buckets: the fleet has no raw store)
    r = cli("ip-check", "history", "--since", "1h")
    assert r.code == 0, r.err
    assert "the fleet: 1 series, 5m points" in r.err and "cn-ct" in r.out
    data = cli("ip-check", "history", "--since", "1h", "--format", "json").json()
    assert sum(p["checks"] for p in data["series"][0]["points"]) == 3
    r = cli("ip-check", "history", "--resolution", "raw")
    assert r.code == 2 and "resolution" in r.err


def test_long_spans_are_summed_into_few_points(run, host, monkeypatch):
    """30 days come back as at most MAX_POINTS points a series, each the sum of its buckets:
    read from the 6-hour buckets (120 a month), or from the hourly ones when asked (merged
    into 5-hour points)."""
    now = HOUR + timedelta(days=1)
    checks = [
        _check(host, "cn-ct", "icmp", HOUR + timedelta(hours=h), outcome="ok", latency_ms=10 * h)
        for h in (0, 1, 6)
    ]
    _post(run, checks, monkeypatch, now)
    since, until = now - timedelta(days=30), now
    query = {"ip": "103.1.2.3", "since": since.isoformat(), "until": until.isoformat()}
    for asked, store, hours in (("auto", "6h", 6), ("1h", "1h", 5)):
        width = check_history.bin_seconds(since, until, check_history.STORES[store])
        assert width == hours * 3600
        h = run(check_history.history, {**query, "resolution": asked})
        assert h.resolution == store
        [series] = h.series
        assert len(series.points) <= check_history.MAX_POINTS
        starts = {
            int(c.timestamp()) // width * width
            for c in (HOUR, HOUR + timedelta(hours=1), HOUR + timedelta(hours=6))
        }
        assert [int(p.t.timestamp()) for p in series.points] == sorted(starts)
        assert sum(p.checks for p in series.points) == 3
        first = series.points[0]
        # 10:00 and 11:00 share a point (6-hour buckets start at 06:00 and 12:00 UTC)
        assert (first.checks, first.latency_min, first.latency_max) == (2, 0, 10), asked
        assert first.latency_avg == 5.0 and first.ok_pct == 100.0


def test_the_fleet_history_sums_every_ip_per_source(run, host, monkeypatch):
    """The fleet's chart: each source's checks of every IP in one series, read from the
    fleet's own buckets."""
    from sigma.errors import PermissionDenied
    from sigma.services.actor import Actor

    other = run(
        vps.create,
        {"hostname": "hk-2", "status": "active", "ip_addresses": [{"ip": "103.1.2.4"}]},
    )
    now = HOUR + timedelta(hours=2)
    checks = [
        _check(host, "cn-ct", "icmp", HOUR, outcome="ok", latency_ms=100),
        {
            **_check(other, "cn-ct", "icmp", HOUR + timedelta(minutes=1), outcome="timeout"),
            "ip": "103.1.2.4",
        },
        _check(host, "hk", "icmp", HOUR, outcome="ok", latency_ms=20),
    ]
    _post(run, checks, monkeypatch, now)
    q = {"since": (HOUR - timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    fleet = run(check_history.fleet_history, q)
    assert fleet.resolution == "5m"
    by_source = {s.source: s for s in fleet.series}
    assert set(by_source) == {"cn-ct", "hk"}
    assert [s.source for s in fleet.series] == ["cn-ct", "hk"]  # China first
    [point] = by_source["cn-ct"].points
    assert (point.checks, point.ok_pct, point.latency_avg) == (2, 50.0, 100.0)
    assert point.outcomes == {"ok": 1, "timeout": 1}
    hourly = run(check_history.fleet_history, {**q, "resolution": "1h", "check": "tcp:22"})
    assert hourly.series == []
    with pytest.raises(Exception, match="resolution"):
        run(check_history.fleet_history, {**q, "resolution": "raw"})
    with pytest.raises(PermissionDenied):
        run(check_history.fleet_history, q, actor=Actor(email="p@x.y", role="probe"))
