"""Migration 0010 on a database with data, SQLite and PostgreSQL: the events of vps_events
become the first events of each timeline, the addresses of the VPS in service their first
holdings (since the VPS's creation), a retired VPS's addresses none, and every VPS is out of
the trash."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

PG_ADMIN = os.environ.get("SIGMA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path) -> Iterator[str]:
    """A database with no schema at all (each test migrates it step by step)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("pg_database")  # skips when PostgreSQL is unreachable
    import psycopg

    name = f"sigma_mig_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_0010_fills_the_history_from_what_is_known(empty_url):
    from sigma.db.engine import make_engine, upgrade

    engine = make_engine(empty_url)
    try:
        upgrade(engine, "0009")
        live, gone = uuid.uuid4(), uuid.uuid4()
        event = uuid.uuid4()
        with engine.begin() as conn:
            for vid, host, status, ips in (
                (live, "hk-1", "active", '[{"ip": "103.1.2.3", "label": "china-telecom"}]'),
                (gone, "old-1", "retired", '[{"ip": "198.51.100.1", "label": ""}]'),
            ):
                conn.execute(
                    text(
                        "INSERT INTO vps (id, hostname, alias, ip_addresses, ssh_port, country, "
                        "city, dc_name, currency, status, purpose, vpn_protocol, tags, "
                        "monitoring_enabled, node_exporter_port, extra, notes, version, "
                        "created_at, updated_at) VALUES (:id, :h, '', :ips, 22, '', '', '', "
                        "'USD', :s, '', '', '[]', true, 9100, '{}', '', 1, :t, :t)"
                    ),
                    {
                        "id": vid if engine.dialect.name == "postgresql" else vid.hex,
                        "h": host,
                        "ips": ips,
                        "s": status,
                        "t": "2026-01-02 03:04:05",
                    },
                )
            conn.execute(
                text(
                    "INSERT INTO vps_events (id, vps_id, kind, details, created_at) "
                    "VALUES (:id, :v, 'agent-offline', '{\"hostname\": \"hk-1\"}', :t)"
                ),
                {
                    "id": event if engine.dialect.name == "postgresql" else event.hex,
                    "v": live if engine.dialect.name == "postgresql" else live.hex,
                    "t": "2026-02-01 00:00:00",
                },
            )
        upgrade(engine)
        from sqlalchemy.orm import sessionmaker

        from sigma.db.engine import unit_of_work
        from sigma.services import history
        from sigma.services.actor import local_actor

        sessions = sessionmaker(engine, expire_on_commit=False)
        with unit_of_work(sessions) as session:
            page = history.timeline(session, local_actor(), live)
            held = history.ip_history(session, local_actor(), {"ip": "0.0.0.0/0"})
            trash = session.execute(text("SELECT count(*) FROM vps WHERE deleted_at IS NOT NULL"))
            assert trash.scalar() == 0
        assert [(e.id, e.kind, e.source, e.hostname) for e in page.data] == [
            (event, "agent-offline", "agent", "hk-1")
        ]
        assert [(h.ip, h.label, h.vps_id, h.until) for h in held.data] == [
            ("103.1.2.3", "china-telecom", live, None)
        ]
        assert held.data[0].since.isoformat().startswith("2026-01-02T03:04:05")
    finally:
        engine.dispose()


def test_downgrade_to_before_the_history_and_back(empty_url):
    """A rollback of sigma to the release before issue 16: migrations 0013 to 0010 undone on
    a database holding their data (timelines, trash, renewals, traffic, quota notices), the
    inventory intact, then upgraded again."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import current_revision, downgrade, make_engine, unit_of_work, upgrade
    from sigma.services import billing, history, traffic, vps
    from sigma.services.actor import local_actor

    engine = make_engine(empty_url)
    try:
        upgrade(engine)
        sessions = sessionmaker(engine, expire_on_commit=False)
        me = local_actor()
        with unit_of_work(sessions) as s:
            kept = vps.create(
                s,
                me,
                {
                    "hostname": "hk-1",
                    "status": "active",
                    "ip_addresses": [{"ip": "103.1.2.3"}],
                    "expire_date": "2030-01-31",
                    "cost_monthly": "4.00",
                    "traffic_quota_gb": 1,
                },
            )
            gone = vps.create(s, me, {"hostname": "old-1", "status": "active"})
        with unit_of_work(sessions) as s:
            billing.renew(s, me, str(kept.id), 1)
            traffic.record(s, vps.find(s, "hk-1"), 0, 0)
            traffic.record(s, vps.find(s, "hk-1"), 0, 2_000_000_000)
            vps.delete(s, me, str(gone.id))
            s.execute(
                text(
                    "INSERT INTO notification_log (id, kind, vps_id, threshold, expire_date, "
                    "channel, claimed_at) VALUES (:id, 'quota', :v, 100, '2030-01-01', "
                    "'webhook', '2030-01-01 00:00:00')"
                ),
                {
                    "id": uuid.uuid4() if engine.dialect.name == "postgresql" else uuid.uuid4().hex,
                    "v": kept.id if engine.dialect.name == "postgresql" else kept.id.hex,
                },
            )

        downgrade(engine, "0009")
        assert current_revision(engine) == "0009"
        tables = set(inspect(engine).get_table_names())
        assert not tables & {"vps_history", "ip_assignments", "vps_renewals", "vps_traffic"}
        columns = {c["name"] for c in inspect(engine).get_columns("vps")}
        with engine.connect() as conn:  # 0008's expression index survives the downgrade
            names = "SELECT indexname FROM pg_indexes WHERE tablename = 'vps'"
            if engine.dialect.name == "sqlite":
                names = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'vps'"
            assert "idx_vps_hostname_lower" in set(conn.execute(text(names)).scalars())
        assert not columns & {"deleted_at", "billing_cycle", "auto_renew", "traffic_quota_gb"}
        with engine.connect() as conn:
            hosts = conn.execute(text("SELECT hostname, expire_date FROM vps ORDER BY 1"))
            assert [(h, str(d)) for h, d in hosts] == [("hk-1", "2030-02-28"), ("old-1", "None")]
            assert conn.execute(text("SELECT count(*) FROM notification_log")).scalar() == 0

        upgrade(engine)
        with unit_of_work(sessions) as s:
            # the trash and the quotas went with the downgrade: old-1 is listed again
            assert [v.hostname for v in vps.list_vps(s, me, None).data] == ["hk-1", "old-1"]
            assert traffic.usage(s, vps.find(s, "hk-1")) is None
            assert history.timeline(s, me, kept.id).data == []
    finally:
        engine.dispose()


def test_0015_sums_the_stored_checks_into_the_history(empty_url):
    """The raw checks kept before migration 0015 become its first 5-minute and hourly sums."""
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work, upgrade
    from sigma.services import check_history, vps
    from sigma.services.actor import local_actor

    engine = make_engine(empty_url)
    try:
        upgrade(engine, "0014")
        sessions = sessionmaker(engine, expire_on_commit=False)
        with unit_of_work(sessions) as s:
            v = vps.create(
                s, local_actor(), {"hostname": "hk-1", "ip_addresses": [{"ip": "103.1.2.3"}]}
            )
        pg = engine.dialect.name == "postgresql"
        with engine.begin() as conn:
            for minute, outcome, latency in ((1, "ok", 40), (2, "timeout", None), (7, "ok", 60)):
                conn.execute(
                    text(
                        "INSERT INTO ip_checks (id, vps_id, ip, check_type, source, success, "
                        "latency_ms, checked_at, outcome, port) VALUES (:id, :v, '103.1.2.3', "
                        "'tcp', 'cn-ct', :ok, :lat, :at, :o, 22)"
                    ),
                    {
                        "id": uuid.uuid4() if pg else uuid.uuid4().hex,
                        "v": v.id if pg else v.id.hex,
                        "ok": outcome == "ok",
                        "lat": latency,
                        "at": f"2026-12-01 10:0{minute}:00",
                        "o": outcome,
                    },
                )
        upgrade(engine)
        with unit_of_work(sessions) as s:
            five = check_history.history(
                s,
                local_actor(),
                {
                    "ip": "103.1.2.3",
                    "since": "2026-12-01T10:00:00Z",
                    "until": "2026-12-01T11:00:00Z",
                    "resolution": "5m",
                },
            )
        [series] = five.series
        assert series.check == "tcp:22"
        assert [(p.checks, p.outcomes) for p in series.points] == [
            (2, {"ok": 1, "timeout": 1}),
            (1, {"ok": 1}),
        ]
    finally:
        engine.dispose()


def test_0018_sums_the_stored_buckets_into_6_hours_and_the_fleet(empty_url):
    """Migration 0018 fills the 6-hour buckets from the hourly ones and the fleet's buckets
    from every IP's, so that a month's chart starts complete; its downgrade removes both and
    the upgrade after it fills them again."""
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import downgrade, make_engine, unit_of_work, upgrade
    from sigma.services import check_history, ip_checks, vps
    from sigma.services.actor import local_actor

    engine = make_engine(empty_url)
    try:
        upgrade(engine, "0017")
        sessions = sessionmaker(engine, expire_on_commit=False)
        me = local_actor()
        checks = []
        with unit_of_work(sessions) as s:
            for host, ip in (("hk-1", "103.1.2.3"), ("hk-2", "103.1.2.4")):
                v = vps.create(s, me, {"hostname": host, "ip_addresses": [{"ip": ip}]})
                for hour, outcome, latency in ((1, "ok", 40), (2, "timeout", None), (7, "ok", 60)):
                    checks.append(
                        {
                            "id": str(uuid.uuid4()),
                            "vps_id": str(v.id),
                            "ip": ip,
                            "check_type": "icmp",
                            "source": "cn-ct",
                            "success": outcome == "ok",
                            "latency_ms": latency,
                            "checked_at": f"2026-11-01T0{hour}:10:00Z",
                            "outcome": outcome,
                        }
                    )
        # results stored through the 0017 code path: the 5-minute and hourly buckets only
        with engine.begin() as conn:
            from sigma.db import rollups

            rows, _fleet = rollups.summed(
                [
                    {
                        **c,
                        "vps_id": uuid.UUID(c["vps_id"]),
                        "checked_at": ip_checks._parse(c["checked_at"]),
                        "port": None,
                    }
                    for c in checks
                ],
                (300, 3600),
            )
            rollups.merge(conn, rows, [])
        span = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-01T12:00:00Z"}

        def month() -> tuple[list, list]:
            with unit_of_work(sessions, read_only=True) as s:
                one = check_history.history(s, me, {"ip": "103.1.2.3", **span, "resolution": "6h"})
                fleet = check_history.fleet_history(s, me, {**span, "resolution": "6h"})
            return (
                [(p.checks, p.outcomes, p.latency_avg) for s in one.series for p in s.points],
                [(p.checks, p.outcomes) for s in fleet.series for p in s.points],
            )

        upgrade(engine)
        expected = (
            [(2, {"ok": 1, "timeout": 1}, 40.0), (1, {"ok": 1}, 60.0)],
            [(4, {"ok": 2, "timeout": 2}), (2, {"ok": 2})],
        )
        assert month() == expected
        downgrade(engine, "0017")
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM ip_check_rollups WHERE resolution = 21600")
                ).scalar()
                == 0
            )
            # per IP: three 5-minute and three hourly buckets
            assert conn.execute(text("SELECT count(*) FROM ip_check_rollups")).scalar() == 2 * 6
        upgrade(engine)
        assert month() == expected
    finally:
        engine.dispose()
