"""Traffic quotas per billing period (issue 16, part B): periods and reset days, counters
that grow, reset (reboot, wrap) or stay, agent restarts, period boundaries and thresholds
with a controlled clock, on both write paths (services.traffic.record, which heartbeat()
calls, and the heartbeat batch statement of PostgreSQL) with the same expectations; the
current period's usage and projection; the over-quota filter; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sigma.db.models.lifecycle import VpsTraffic
from sigma.services import traffic, vps

D = date
GB = 10**9


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------- rules (no database)


@pytest.mark.parametrize(
    "day, reset, start, end",
    [
        (D(2024, 3, 10), 1, D(2024, 3, 1), D(2024, 4, 1)),
        (D(2024, 3, 1), 1, D(2024, 3, 1), D(2024, 4, 1)),
        (D(2024, 3, 14), 15, D(2024, 2, 15), D(2024, 3, 15)),
        (D(2024, 3, 15), 15, D(2024, 3, 15), D(2024, 4, 15)),
        (D(2024, 1, 5), 28, D(2023, 12, 28), D(2024, 1, 28)),  # across the year
        (D(2024, 2, 29), 28, D(2024, 2, 28), D(2024, 3, 28)),  # leap day
        (D(2023, 3, 1), 28, D(2023, 2, 28), D(2023, 3, 28)),
        (D(2024, 12, 31), 28, D(2024, 12, 28), D(2025, 1, 28)),
    ],
)
def test_periods(day, reset, start, end):
    assert traffic.period_start(day, reset) == start
    assert traffic.period_end(start) == end


def test_grow_counts_resets_and_saturates():
    assert traffic.grow(10, 150, 100) == 60
    assert traffic.grow(10, 100, 100) == 10  # nothing new
    assert traffic.grow(10, 40, 100) == 50  # went backwards: a reset, all of it is new
    assert traffic.grow(0, 50, 2**32 - 100) == 50  # a 32-bit wrap counts from zero
    assert traffic.grow(traffic.CAP - 5, traffic.CAP, 0) == traffic.CAP  # saturates


@pytest.mark.parametrize(
    "used, quota, expected",
    [
        (0, 100, 0),
        (79 * GB, 100, 0),
        (80 * GB, 100, 80),
        (94_999_999_999, 100, 80),
        (95 * GB, 100, 95),
        (100 * GB, 100, 100),
        (500 * GB, 100, 100),
        (10**18, None, 0),  # no quota
        (1, 0, 100),  # a quota of nothing: any traffic is over it
        (0, 0, 0),
    ],
)
def test_levels(used, quota, expected):
    assert traffic.level(used, quota) == expected


def test_used_by_direction():
    assert traffic.used_bytes(3, 5, "out") == 5
    assert traffic.used_bytes(3, 5, "in") == 3
    assert traffic.used_bytes(3, 5, "sum") == 8
    assert traffic.used_bytes(7, 5, "max") == 7


def test_projection():
    u = traffic.summarise(D(2024, 3, 1), 0, 10 * GB, "out", 100, at(2024, 3, 11))
    assert (u.period_end, u.used_bytes, u.quota_bytes, u.percent) == (
        D(2024, 4, 1),
        10 * GB,
        100 * GB,
        10.0,
    )
    assert u.projected_bytes == 31 * GB  # 10 GB in 10 of 31 days
    assert u.projected_percent == 31.0
    early = traffic.summarise(D(2024, 3, 1), 0, GB, "out", 100, at(2024, 3, 1, 0, 30))
    assert early.projected_bytes is None  # less than an hour of the period


def test_counters_are_validated_hard():
    from pydantic import ValidationError

    from sigma.schemas.monitoring import AgentHeartbeat

    ok = AgentHeartbeat.model_validate({"hostname": "a", "traffic": {"rx_bytes": 0, "tx_bytes": 1}})
    assert ok.traffic is not None and ok.traffic.tx_bytes == 1
    assert AgentHeartbeat.model_validate({"hostname": "a"}).traffic is None  # optional
    for bad in (
        {"rx_bytes": -1, "tx_bytes": 0},
        {"rx_bytes": "5", "tx_bytes": 0},
        {"rx_bytes": 1.5, "tx_bytes": 0},
        {"rx_bytes": True, "tx_bytes": 0},
        {"rx_bytes": 2**62 + 1, "tx_bytes": 0},
        {"rx_bytes": 10**30, "tx_bytes": 0},
        {"rx_bytes": 1},
        [1, 2],
        "lots",
    ):
        with pytest.raises(ValidationError) as exc:
            AgentHeartbeat.model_validate({"hostname": "a", "traffic": bad})
        assert exc.value.errors()[0]["loc"][0] == "traffic", bad


# ---------------------------------------------------------------- the two write paths


@pytest.fixture(params=["record", "batch"])
def path(request, db_url):
    if request.param == "batch" and not db_url.startswith("postgresql"):
        pytest.skip("the heartbeat batch statement is PostgreSQL's")
    return request.param


@pytest.fixture
def report(path, sessions, db_url):
    """report(hostname, rx, tx, now): one heartbeat's counters through `path`; the
    thresholds crossed are read back from the timeline by the test."""
    from sigma.db.engine import unit_of_work

    if path == "record":

        def by_record(hostname: str, rx: int, tx: int, now: datetime) -> None:
            with unit_of_work(sessions) as s:
                row = vps.find(s, hostname)
                traffic.record(s, row, rx, tx, now)

        yield by_record
        return

    import psycopg

    from sigma.schemas.monitoring import AgentHeartbeat
    from sigma.services import agents
    from sigma.services.auth import HeartbeatCredential

    conn = psycopg.connect(db_url.replace("+psycopg", ""), autocommit=True)

    def by_batch(hostname: str, rx: int, tx: int, now: datetime) -> None:
        hb = AgentHeartbeat.model_validate(
            {"hostname": hostname, "traffic": {"rx_bytes": rx, "tx_bytes": tx}}
        )
        params = agents.heartbeat_batch_params([(HeartbeatCredential(legacy=True), hb)], now)
        rows = conn.execute(agents.HEARTBEAT_BATCH_SQL, params).fetchall()
        assert len(rows) == 1  # the statement took it (not left to heartbeat() alone)

    yield by_batch
    conn.close()


def _rows(sessions, vps_id):
    from sqlalchemy import select

    with sessions() as s:
        q = select(VpsTraffic).where(VpsTraffic.vps_id == vps_id).order_by(VpsTraffic.period_start)
        return [(r.period_start, r.bytes_in, r.bytes_out, r.alerted) for r in s.scalars(q)]


def _alerts(sessions, vps_id):
    from sqlalchemy import select

    from sigma.db.models.history import VpsHistory

    with sessions() as s:
        q = (
            select(VpsHistory)
            .where(VpsHistory.vps_id == vps_id, VpsHistory.kind == "traffic-threshold")
            .order_by(VpsHistory.at, VpsHistory.details["threshold"].as_integer())
        )
        return [(e.source, e.details) for e in s.scalars(q)]


def test_usage_across_restarts_resets_and_periods(run, sessions, report):
    v = run(
        vps.create,
        {
            "hostname": "jp-relay-02",
            "status": "active",
            "traffic_quota_gb": 100,
            "traffic_direction": "out",
            "traffic_reset_day": 15,
        },
    )
    t = at(2024, 2, 20, 10)
    report("jp-relay-02", 1_000, 5_000, t)  # the first report: the baseline only
    assert _rows(sessions, v.id) == [(D(2024, 2, 15), 0, 0, 0)]
    report("jp-relay-02", 2 * GB + 1_000, 30 * GB + 5_000, t + timedelta(hours=1))
    assert _rows(sessions, v.id) == [(D(2024, 2, 15), 2 * GB, 30 * GB, 0)]
    # the agent restarted: the kernel's counters went on growing
    report("jp-relay-02", 3 * GB + 1_000, 81 * GB + 5_000, t + timedelta(hours=2))
    assert _rows(sessions, v.id) == [(D(2024, 2, 15), 3 * GB, 81 * GB, 80)]
    # a reboot: the counters start again from zero (never negative, never an error)
    report("jp-relay-02", 500, GB, t + timedelta(hours=3))
    assert _rows(sessions, v.id) == [(D(2024, 2, 15), 3 * GB + 500, 82 * GB, 80)]
    report("jp-relay-02", 500, GB, t + timedelta(hours=4))  # nothing moved
    assert _rows(sessions, v.id) == [(D(2024, 2, 15), 3 * GB + 500, 82 * GB, 80)]
    # the period's last minute, then the reset day: what moved between the two reports
    # counts in the new period
    report("jp-relay-02", 500, 15 * GB, at(2024, 3, 14, 23, 59))
    report("jp-relay-02", 700, 17 * GB, at(2024, 3, 15, 0, 1))
    assert _rows(sessions, v.id) == [
        (D(2024, 2, 15), 3 * GB + 500, 96 * GB, 95),
        (D(2024, 3, 15), 200, 2 * GB, 0),
    ]
    # over the whole quota in one report: the three thresholds at once, once each
    report("jp-relay-02", 700, 140 * GB, at(2024, 3, 16))
    report("jp-relay-02", 800, 150 * GB, at(2024, 3, 16, 1))
    assert _rows(sessions, v.id)[-1] == (D(2024, 3, 15), 300, 135 * GB, 100)
    alerts = _alerts(sessions, v.id)
    assert [(d["period_start"], d["threshold"]) for _, d in alerts] == [
        ("2024-02-15", 80),
        ("2024-02-15", 95),
        ("2024-03-15", 80),
        ("2024-03-15", 95),
        ("2024-03-15", 100),
    ]
    assert {source for source, _ in alerts} == {"agent"}
    assert alerts[0][1] == {
        "threshold": 80,
        "period_start": "2024-02-15",
        "used_bytes": 81 * GB,
        "quota_gb": 100,
        "direction": "out",
    }
    with sessions() as s:
        usage = traffic.usage(s, vps.find(s, v.id), at(2024, 3, 25))
    assert usage is not None
    assert (usage.period_start, usage.period_end) == (D(2024, 3, 15), D(2024, 4, 15))
    assert (usage.bytes_in, usage.bytes_out, usage.used_bytes) == (300, 135 * GB, 135 * GB)
    assert usage.percent == 135.0
    assert usage.projected_bytes == 135 * GB * 31 // 10  # 10 of the period's 31 days


def test_saturated_counters_never_overflow(run, sessions, report):
    v = run(vps.create, {"hostname": "hk-hostile", "status": "active", "traffic_quota_gb": 1})
    t = at(2024, 5, 2)
    for i, value in enumerate((0, traffic.CAP, 0, traffic.CAP, 0, traffic.CAP)):
        report("hk-hostile", value, value, t + timedelta(minutes=i))
    [(start, bytes_in, bytes_out, alerted)] = _rows(sessions, v.id)
    assert (start, bytes_in, bytes_out, alerted) == (D(2024, 5, 1), traffic.CAP, traffic.CAP, 100)


def test_reports_without_a_quota_are_kept_and_never_alert(run, sessions, report):
    v = run(vps.create, {"hostname": "no-quota", "status": "active"})
    report("no-quota", 0, 0, at(2024, 5, 2))
    report("no-quota", 10**15, 10**15, at(2024, 5, 3))
    assert _rows(sessions, v.id) == [(D(2024, 5, 1), 10**15, 10**15, 0)]
    assert _alerts(sessions, v.id) == []


def test_a_heartbeat_records_its_counters(run, sessions, actor):
    """The ORM heartbeat (SQLite, and what the batch does not take) with counters."""
    from sigma.services import agents

    v = run(vps.create, {"hostname": "hb-1", "status": "active", "traffic_quota_gb": 10})
    run(agents.heartbeat, {"hostname": "hb-1", "traffic": {"rx_bytes": 100, "tx_bytes": 100}})
    run(agents.heartbeat, {"hostname": "hb-1", "traffic": {"rx_bytes": 300, "tx_bytes": 150}})
    run(agents.heartbeat, {"hostname": "hb-1"})  # the original agent: no counters, no change
    [(_start, bytes_in, bytes_out, _alerted)] = _rows(sessions, v.id)
    assert (bytes_in, bytes_out) == (200, 50)
    shown = run(vps.get, v.id)
    assert shown.traffic is not None and shown.traffic.used_bytes == 250
    assert shown.traffic.quota_bytes == 10 * GB


# ---------------------------------------------------------------- reading and filtering


def _usage_row(sessions, vps_id, start, bytes_in, bytes_out):
    from sigma.db.engine import unit_of_work

    with unit_of_work(sessions) as s:
        s.add(
            VpsTraffic(
                vps_id=vps_id,
                period_start=start,
                bytes_in=bytes_in,
                bytes_out=bytes_out,
                last_rx=bytes_in,
                last_tx=bytes_out,
            )
        )


def test_over_quota_filter(run, sessions, each):
    from sigma.db.types import utcnow

    today = utcnow().date()

    def add(hostname, quota, direction="sum", reset=1):
        return run(
            vps.create,
            {
                "hostname": hostname,
                "status": "active",
                "traffic_quota_gb": quota,
                "traffic_direction": direction,
                "traffic_reset_day": reset,
            },
        )

    hot = add("hot", 100, "out", 3)
    _usage_row(sessions, hot.id, traffic.period_start(today, 3), 10 * GB, 85 * GB)
    half = add("half", 100, "max", 28)
    _usage_row(sessions, half.id, traffic.period_start(today, 28), 50 * GB, 20 * GB)
    unlimited = run(vps.create, {"hostname": "unlimited", "status": "active"})
    _usage_row(sessions, unlimited.id, traffic.period_start(today, 1), 10**15, 10**15)
    last_month = add("last-month", 10, "sum", 1)
    start = traffic.period_start(today, 1)
    previous = traffic.period_start(start - timedelta(days=1), 1)
    _usage_row(sessions, last_month.id, previous, 100 * GB, 100 * GB)  # an old period only
    add("quiet", 100)

    def check(percent, expected):
        page = run(vps.list_vps, {"over_quota": percent, "per_page": 100})
        assert sorted(v.hostname for v in page.data) == expected
        assert page.total == len(expected)

    each(
        [
            ("80", ["hot"]),
            ("85", ["hot"]),
            ("85.5", []),
            (50, ["half", "hot"]),
            (Decimal("49.9"), ["half", "hot"]),
            (0, ["half", "hot", "last-month", "quiet"]),  # every VPS with a quota
        ],
        check,
    )


def test_over_quota_filter_is_validated(run):
    from sigma.errors import InvalidInput

    for bad in ("-1", "lots", "100001"):
        with pytest.raises(InvalidInput) as exc:
            run(vps.list_vps, {"over_quota": bad})
        assert exc.value.field == "over_quota"


def test_usage_of_a_vps_without_quota_or_reports_is_none(run):
    v = run(vps.create, {"hostname": "plain", "status": "active"})
    assert run(vps.get, v.id).traffic is None
    w = run(vps.create, {"hostname": "capped", "status": "active", "traffic_quota_gb": 5})
    usage = run(vps.get, w.id).traffic
    assert usage is not None and (usage.used_bytes, usage.percent) == (0, 0.0)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"traffic_reset_day": 0}, "traffic_reset_day"),
        ({"traffic_reset_day": 29}, "traffic_reset_day"),
        ({"traffic_reset_day": "31"}, "traffic_reset_day"),
        ({"traffic_quota_gb": -1}, "traffic_quota_gb"),
        ({"traffic_quota_gb": "lots"}, "traffic_quota_gb"),
        ({"traffic_direction": "up"}, "traffic_direction"),
        ({"billing_cycle": "0d"}, "billing_cycle"),
    ],
)
def test_bad_fields_are_refused_and_nothing_written(run, count, db_models, fields, field):
    from sigma.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        run(vps.create, {"hostname": "bad-1", **fields})
    assert exc.value.field == field
    v = run(vps.create, {"hostname": "good-1"})
    with pytest.raises(InvalidInput) as exc:
        run(vps.update, v.id, fields)
    assert exc.value.field == field
    assert count(db_models.Vps) == 1
    assert run(vps.get, v.id)._version == v._version
