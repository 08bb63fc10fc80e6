"""Issue 18, part A: the attention model. Every kind produced from a fleet built through the
services (and the probes' and agents' tables as they write them); acknowledge, snooze and
unacknowledge with their rules (roles, bad input, audit); an item comes back when its facts
change and when its snooze ends. Both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from sigma.errors import InvalidInput, NotFound, PermissionDenied

TODAY = date.today()
NOW = datetime.now(UTC)


def make_fleet(sessions) -> dict[str, str]:
    """A fleet with one of each thing that needs attention; {name: VPS id or ticket id}."""
    from sigma.db.engine import unit_of_work
    from sigma.db.models.lifecycle import VpsTraffic
    from sigma.db.models.monitoring import Probe, Reachability, ReachAlert
    from sigma.services import agents, tickets, traffic, vps
    from sigma.services.actor import local_actor

    me = local_actor()
    ids: dict[str, str] = {}

    def add(name: str, **fields) -> str:
        base = {
            "hostname": name,
            "status": "active",
            "ip_addresses": [{"ip": f"203.0.113.{len(ids) + 10}", "label": "overseas"}],
            "cost_monthly": "5",
            "expire_date": str(TODAY + timedelta(days=200)),
        }
        with unit_of_work(sessions) as s:
            ids[name] = str(vps.create(s, me, {**base, **fields}).id)
        return ids[name]

    add("calm")
    add("late", expire_date=str(TODAY - timedelta(days=3)))
    add("soon", expire_date=str(TODAY + timedelta(days=5)))
    add("tomorrow", expire_date=str(TODAY + timedelta(days=1)))
    add("walled")
    add("flaky")
    for name in ("ported", "tlsed", "dead"):
        add(name)
    add("silent")
    add("hungry", traffic_quota_gb=100, traffic_reset_day=1)
    add("bare", expire_date=None, cost_monthly=None, ip_addresses=[])
    add("twin-a", ip_addresses=[{"ip": "198.51.100.7", "label": "overseas"}])
    add("twin-b", ip_addresses=[{"ip": "198.51.100.7", "label": "overseas"}])
    add("gone", expire_date=str(TODAY - timedelta(days=3)))
    with unit_of_work(sessions) as s:
        vps.retire(s, me, ids["gone"])
        row = vps.find(s, ids["silent"])
        row.extra = {**(row.extra or {}), "last_heartbeat": agents.stamp(NOW - timedelta(hours=2))}
        since = NOW - timedelta(hours=5)
        s.add(
            Reachability(
                vps_id=uuid.UUID(ids["walled"]),
                ip="203.0.113.14",
                verdict="blocked",
                since=since,
                state={},
            )
        )
        s.add(
            Reachability(
                vps_id=uuid.UUID(ids["flaky"]),
                ip="203.0.113.15",
                verdict="degraded",
                since=since,
                state={},
            )
        )
        for name, verdict in (
            ("ported", "port-blocked"),
            ("tlsed", "tls-blocked"),
            ("dead", "down"),
        ):
            s.add(
                Reachability(
                    vps_id=uuid.UUID(ids[name]), ip="192.0.2.1", verdict=verdict, since=since
                )
            )
        s.add(Probe(source="cn-sick", carrier="cm", health="unhealthy", health_since=since))
        s.add(
            ReachAlert(
                vps_id=uuid.UUID(ids["flaky"]),
                ip="203.0.113.15",
                carrier="ct",
                metric="latency",
                value=420.0,
                threshold=300.0,
                since=since,
                updated_at=since,
            )
        )
        s.add(
            VpsTraffic(
                vps_id=uuid.UUID(ids["hungry"]),
                period_start=traffic.period_start(TODAY, 1),
                bytes_in=60 * 10**9,
                bytes_out=36 * 10**9,
            )
        )
        ids["t-critical"] = str(
            tickets.create(s, me, {"title": "exit down", "priority": "critical"}).id
        )
        ids["t-low"] = str(tickets.create(s, me, {"title": "rename", "priority": "low"}).id)
        stale = tickets.create(s, me, {"title": "nobody's", "priority": "medium"})
        ids["t-stale"] = str(stale.id)
        tickets.find(s, stale.id).created_at = NOW - timedelta(days=2)
    return ids


@pytest.fixture
def fleet(sessions):
    return make_fleet(sessions)


def listed(run, **kw):
    from sigma.services import attention

    return run(lambda s, a: attention.items(s, a, **kw))


def test_every_kind_is_produced_worst_first(run, fleet):
    found = listed(run)
    by_kind: dict[str, list] = {}
    for i in found:
        by_kind.setdefault(i.kind, []).append(i)
    key = {
        "overdue": f"overdue:vps:{fleet['late']}",
        "blocked": f"blocked:ip:{fleet['walled']}/203.0.113.14",
        "degraded": f"degraded:ip:{fleet['flaky']}/203.0.113.15",
        "agent-offline": f"agent-offline:vps:{fleet['silent']}",
        "probe-unhealthy": "probe-unhealthy:probe:cn-sick",
        "reach-alert": f"reach-alert:ip:{fleet['flaky']}/203.0.113.15/ct/latency",
        "quota": f"quota:vps:{fleet['hungry']}",
        "port-blocked": f"port-blocked:ip:{fleet['ported']}/192.0.2.1",
        "tls-blocked": f"tls-blocked:ip:{fleet['tlsed']}/192.0.2.1",
        "down": f"down:ip:{fleet['dead']}/192.0.2.1",
        "missing-data": f"missing-data:vps:{fleet['bare']}",
    }
    from sigma.services.attention import KINDS

    # every kind but those of provider and DNS accounts, which need an account's sync to
    # exist: tests/accounts/test_sync_scenarios.py and test_dns_service.py produce them
    accounts = {"gone", "sync-failed", "dns-stale", "domain-expiring", "cert-expiring"}
    assert set(by_kind) == set(KINDS) - accounts
    for k, expected in key.items():
        assert [i.key for i in by_kind[k]] == [expected], k
    # expiring: a warning 5 days ahead, critical a day ahead; the retired VPS is not overdue
    expiring = {i.subject.name: i.severity for i in by_kind["expiring"]}
    assert expiring == {"soon": "warning", "tomorrow": "critical"}
    assert by_kind["blocked"][0].severity == "critical"
    assert by_kind["degraded"][0].severity == "warning"
    assert by_kind["quota"][0].severity == "warning"  # 96 % of 100 GB
    assert "96 %" in by_kind["quota"][0].summary
    assert by_kind["missing-data"][0].severity == "info"
    assert "no expiry date, no cost, no IP address" in by_kind["missing-data"][0].summary
    tickets = {i.subject.name: i.severity for i in by_kind["ticket"]}
    assert tickets == {"exit down": "critical", "nobody's": "info"}  # the fresh low one: none
    (dup,) = by_kind["duplicate"]
    assert {dup.subject.name} == {"twin-a & twin-b"} and "198.51.100.7" in dup.summary
    assert by_kind["blocked"][0].subject.type == "ip"
    assert by_kind["blocked"][0].vps_id == fleet["walled"]
    assert by_kind["blocked"][0].link == f"/vps/{fleet['walled']}"
    # worst first: every critical before every warning before every info
    ranks = [("critical", "warning", "info").index(i.severity) for i in found]
    assert ranks == sorted(ranks)
    assert all(i.state == "open" for i in found)


def test_filters_by_kind_severity_and_vps(run, fleet):
    assert {i.kind for i in listed(run, kinds=["blocked", "ticket"])} == {"blocked", "ticket"}
    assert {i.severity for i in listed(run, severities=["info"])} == {"info"}
    mine = listed(run, vps=fleet["flaky"])
    assert {i.kind for i in mine} == {"degraded", "reach-alert"}
    with pytest.raises(InvalidInput, match="kind: unknown kind 'nope'"):
        listed(run, kinds=["nope"])
    with pytest.raises(InvalidInput, match="severity"):
        listed(run, severities=["urgent"])
    with pytest.raises(NotFound):
        listed(run, vps="no-such-host")


def test_page_counts_and_critical(run, fleet):
    from sigma.services import attention

    p = run(attention.list_page, None, None, None, False, 1, 3)
    assert p.total == len(listed(run)) and len(p.data) == 3 and p.per_page == 3
    assert sum(c.count for c in p.counts) == p.total
    assert p.critical == sum(1 for i in listed(run) if i.severity == "critical") > 0
    q = run(attention.list_page, ["missing-data"])
    assert q.critical == 0 and q.total == 1


def test_ack_snooze_unack_and_the_item_coming_back(run, fleet, sessions, audit_rows):
    from sigma.db.engine import unit_of_work
    from sigma.services import attention, vps
    from sigma.services.actor import local_actor

    key = f"expiring:vps:{fleet['soon']}"
    a = run(attention.ack, key, "renewal asked for")
    assert (a.state, a.note, a.key) == ("acknowledged", "renewal asked for", key)
    assert key not in {i.key for i in listed(run)}
    handled = {i.key: i for i in listed(run, include_handled=True)}
    assert handled[key].state == "acknowledged" and handled[key].note == "renewal asked for"
    row = audit_rows(resource="attention")[-1]
    assert row.action == "acknowledge" and row.details["key"] == key
    # a new expiry date: a new fingerprint, the item is open again
    with unit_of_work(sessions) as s:
        vps.update(s, local_actor(), fleet["soon"], {"expire_date": str(TODAY + timedelta(days=4))})
    assert key in {i.key for i in listed(run)}

    # a snooze holds until its end
    key2 = f"blocked:ip:{fleet['walled']}/203.0.113.14"
    s_ = run(attention.snooze, key2, "2h", "asked the provider")
    assert s_.state == "snoozed" and s_.until > NOW + timedelta(hours=1)
    assert key2 not in {i.key for i in listed(run)}
    later = datetime.now(UTC) + timedelta(hours=3)
    assert key2 in {i.key for i in listed(run, now=later)}
    assert {i.key: i.state for i in run(lambda s, a: attention.current(s))}[key2] == "snoozed"

    # unack puts it back at once
    run(attention.unack, key2)
    assert key2 in {i.key for i in listed(run)}
    assert [r.action for r in audit_rows(resource="attention")] == [
        "acknowledge",
        "snooze",
        "unacknowledge",
    ]
    with pytest.raises(NotFound, match="not acknowledged or snoozed"):
        run(attention.unack, key2)


def test_a_changed_verdict_brings_the_item_back(run, fleet, sessions):
    from sqlalchemy import update

    from sigma.db.engine import unit_of_work
    from sigma.db.models.monitoring import Reachability
    from sigma.services import attention

    key = f"blocked:ip:{fleet['walled']}/203.0.113.14"
    run(attention.ack, key)
    assert key not in {i.key for i in listed(run)}
    with unit_of_work(sessions) as s:  # blocked again from a new start: a new episode
        s.execute(update(Reachability).values(since=NOW - timedelta(minutes=5)))
    assert key in {i.key for i in listed(run)}
    # the stale acknowledgement is pruned on the next write of its kind, or by the job
    with unit_of_work(sessions) as s:
        assert attention.prune(s) == 1


def test_who_may_acknowledge_and_bad_input(run, fleet, readonly, audit_rows):
    from sigma.services import attention
    from sigma.services.actor import Actor

    key = f"overdue:vps:{fleet['late']}"
    with pytest.raises(PermissionDenied):
        run(attention.ack, key, as_actor=readonly)
    with pytest.raises(PermissionDenied):
        run(attention.snooze, key, "1h", as_actor=readonly)
    assert listed(run, kinds=["overdue"])  # a reader reads
    operator = Actor(email="op@example.com", role="operator")
    assert run(attention.ack, key, as_actor=operator).by == "op@example.com"

    cases = [
        (attention.ack, ("overdue:vps:" + str(uuid.uuid4()),), NotFound, "no longer"),
        (attention.ack, ("bogus:vps:1",), NotFound, "unknown kind"),
        (attention.ack, ("",), InvalidInput, "key"),
        (attention.ack, (key, "x" * 501), InvalidInput, "note: must be at most 500"),
        (attention.ack, (key, "bell\x07"), InvalidInput, "note: must not contain a control"),
        (attention.ack, ("k" * 301,), InvalidInput, "key: must be at most"),
        (attention.snooze, (key, "2020-01-01T00:00Z"), InvalidInput, "not in the future"),
        (attention.snooze, (key, "soonish"), InvalidInput, "until: 'soonish' is neither"),
        (attention.snooze, (key, "5y"), InvalidInput, "until"),
        (attention.snooze, (key, "400d"), InvalidInput, "at most 366 days"),
    ]
    before = len(audit_rows(resource="attention"))
    for fn, args, error, message in cases:
        with pytest.raises(error, match=message):
            run(fn, *args)
    assert len(audit_rows(resource="attention")) == before  # a refusal writes nothing


def test_pages_are_the_whole_list_cut(run, fleet):
    """list_page counts and orders the big kinds in the database and computes the small ones
    whole: its pages, put together, are `items` exactly, for every filter, with items
    acknowledged and snoozed, and its counts are the list's."""
    from sigma.services import attention

    run(attention.ack, f"expiring:vps:{fleet['soon']}", "asked")
    run(attention.snooze, f"blocked:ip:{fleet['walled']}/203.0.113.14", "2h")
    run(attention.ack, f"ticket:ticket:{fleet['t-critical']}")
    cases = [
        {},
        {"include_handled": True},
        {"severities": ["critical"]},
        {"severities": ["warning", "info"], "include_handled": True},
        {"kinds": ["expiring", "blocked", "ticket", "missing-data"]},
        {"vps": fleet["soon"], "include_handled": True},
        {"vps": fleet["walled"]},
    ]
    for case in cases:
        whole = run(lambda s, a, c=case: attention.items(s, a, **c))
        keys = [i.key for i in whole]
        for per_page in (1, 2, 5, 100):
            pages, page = [], 1
            while True:
                p = run(
                    lambda s, a, c=case, n=page, k=per_page: attention.list_page(
                        s,
                        a,
                        c.get("kinds"),
                        c.get("severities"),
                        c.get("vps"),
                        c.get("include_handled", False),
                        n,
                        k,
                    )
                )
                assert p.total == len(whole), (case, per_page)
                pages += p.data
                if page * per_page >= p.total:
                    break
                page += 1
            assert [i.key for i in pages] == keys, (case, per_page)
            assert [(i.state, i.fingerprint) for i in pages] == [
                (i.state, i.fingerprint) for i in whole
            ]
        counted = {(c.kind, c.severity): c.count for c in p.counts}
        expected: dict[tuple[str, str], int] = {}
        for i in whole:
            expected[(i.kind, i.severity)] = expected.get((i.kind, i.severity), 0) + 1
        assert counted == expected, case
        assert p.critical == sum(
            1 for i in whole if i.severity == "critical" and i.state == "open"
        ), case


def test_the_kept_list_is_fresh_after_a_change_and_its_time(sessions, fleet, monkeypatch):
    """With attention_cache_seconds, a process keeps the computed list: a change another
    process made shows when the time is up, one this process made (audited) at once, an
    acknowledgement always; an asked clock always computes."""
    from sigma.db.engine import unit_of_work
    from sigma.db.models.core import Vps
    from sigma.services import attention, vps
    from sigma.services.actor import local_actor

    me = local_actor()
    sessions.kw["info"] = {**sessions.kw.get("info", {}), "attention_cache_seconds": 30}
    clock = [1000.0]
    monkeypatch.setattr(attention.time_, "monotonic", lambda: clock[0])
    attention.forget_snapshots()

    def keys() -> set[str]:
        with unit_of_work(sessions, read_only=True) as s:
            return {i.key for i in attention.list_page(s, me, per_page=100).data}

    before = keys()
    with unit_of_work(sessions) as s:  # as another process would: no audit row here
        row = vps.find(s, fleet["calm"])
        row.expire_date = TODAY - timedelta(days=1)
    gone = f"overdue:vps:{fleet['calm']}"
    assert gone not in keys() and keys() == before  # the kept list
    with unit_of_work(sessions) as s:  # an asked clock computes
        assert gone in {i.key for i in attention.current(s, NOW)}
    clock[0] += 31
    assert gone in keys()  # the time is up
    with unit_of_work(sessions) as s:  # a change made here (audited): seen at once
        vps.create(
            s,
            me,
            {"hostname": "fresh", "status": "active", "expire_date": str(TODAY - timedelta(2))},
        )
        fresh = str(vps.find(s, "fresh").id)
    assert f"overdue:vps:{fresh}" in keys()
    with unit_of_work(sessions) as s:
        attention.ack(s, me, gone)
    assert gone not in keys()  # acknowledgements are read on every call
    with unit_of_work(sessions) as s:
        assert s.get(Vps, uuid.UUID(fleet["calm"])) is not None
    attention.forget_snapshots()
