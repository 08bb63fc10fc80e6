"""Issue 16, part A, at the service layer on SQLite and PostgreSQL: every event of a VPS's
timeline written in the transaction of its change, the IP history by address, prefix and
CIDR, duplicates and their reasons, merge (result, dry run, conflicts, rollback), and the
trash (hidden from listings, exports, stats and costs; restore; purge by hand and by the job)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sigma.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from sigma.services import history, merge, trash, vps


def kinds(run, ref, **f) -> list[str]:
    """The kinds of a VPS's events, oldest first."""
    page = run(history.timeline, ref, {"per_page": 100, **f})
    return [e.kind for e in reversed(page.data)]


def events(run, ref, kind):
    return [e for e in run(history.timeline, ref, {"per_page": 100}).data if e.kind == kind]


def holdings(run, ip, **q):
    return run(history.ip_history, {"ip": ip, "per_page": 100, **q}).data


# ------------------------------------------------------------------ the timeline


def test_user_changes_are_events_with_before_and_after(run, actor):
    v = run(vps.create, {"hostname": "hk-1", "ip_addresses": [{"ip": "103.1.2.3"}]})
    run(
        vps.update,
        v.id,
        {
            "country": "HK",
            "status": "active",
            "ip_addresses": [
                {"ip": "103.1.2.3", "label": "china-telecom"},
                {"ip": "103.1.2.4"},
            ],
        },
    )
    run(vps.update, v.id, {"ip_addresses": [{"ip": "103.1.2.4"}], "hostname": "hk-one"})
    run(vps.retire, v.id)
    assert kinds(run, v.id) == [
        "created",
        "updated",
        "status",
        "ip-relabelled",
        "ip-added",
        "updated",
        "ip-removed",
        "retired",
    ]
    updated = events(run, v.id, "updated")
    assert updated[-1].details["changes"]["country"] == {"from": "", "to": "HK"}
    assert updated[0].details["changes"]["hostname"] == {"from": "hk-1", "to": "hk-one"}
    # each event keeps the hostname of its time and who did it
    assert updated[-1].hostname == "hk-1" and updated[0].hostname == "hk-one"
    assert {e.source for e in events(run, v.id, "updated")} == {"user"}
    assert updated[0].actor == actor.email
    assert events(run, v.id, "status")[0].details == {"from": "provisioning", "to": "active"}
    assert events(run, v.id, "ip-relabelled")[0].details == {
        "ip": "103.1.2.3",
        "from": "",
        "to": "china-telecom",
    }
    assert events(run, v.id, "retired")[0].details == {"from": "active"}


def test_timeline_pages_newest_first_since_and_kind(run, sessions):
    v = run(vps.create, {"hostname": "h"})
    for n in range(5):
        run(vps.update, v.id, {"notes": f"note {n}"})
    page = run(history.timeline, v.id, {"per_page": 2, "page": 1})
    assert page.total == 6 and page.page == 1 and page.per_page == 2
    assert [e.details["changes"]["notes"]["to"] for e in page.data] == ["note 4", "note 3"]
    last = run(history.timeline, v.id, {"per_page": 2, "page": 3})
    assert [e.kind for e in last.data] == ["updated", "created"]
    assert run(history.timeline, v.id, {"kind": "created"}).total == 1
    middle = run(history.timeline, v.id, {"per_page": 100}).data[2].at
    since = run(history.timeline, v.id, {"since": middle.isoformat()})
    assert since.total == 3 and all(e.at >= middle for e in since.data)
    with pytest.raises(InvalidInput) as exc:
        run(history.timeline, v.id, {"kind": "nonsense"})
    assert exc.value.field == "kind"
    with pytest.raises(InvalidInput) as exc:
        run(history.timeline, v.id, {"since": "last tuesday"})
    assert exc.value.field == "since"
    with pytest.raises(NotFound):
        run(history.timeline, "no-such-vps")


def test_an_event_is_written_with_its_change_or_not_at_all(run, count):
    from sigma.db.models.history import VpsHistory

    v = run(vps.create, {"hostname": "h", "expire_date": "2030-01-01"})
    before = count(VpsHistory)
    with pytest.raises(InvalidInput):  # refused by the service after the event could be built
        run(vps.update, v.id, {"purchase_date": "2031-01-01", "notes": "x"})
    with pytest.raises(PermissionDenied):
        from sigma.services.actor import Actor

        run(vps.update, v.id, {"notes": "y"}, as_actor=Actor(email="r@x", role="readonly"))
    assert count(VpsHistory) == before
    run(vps.update, v.id, {"notes": "z"})
    run(vps.update, v.id, {"notes": "z"})  # no change, no event
    assert count(VpsHistory) == before + 1


def test_tickets_open_and_close_on_their_vps(run):
    from sigma.services import tickets

    v = run(vps.create, {"hostname": "h"})
    other = run(vps.create, {"hostname": "o"})
    t = run(tickets.create, {"title": "blocked in CN", "vps_id": str(v.id)})
    run(tickets.set_status, t.id, "in-progress")
    run(tickets.set_status, t.id, "resolved")
    run(tickets.set_status, t.id, "closed")  # already done: no second event
    run(tickets.set_status, t.id, "open")  # reopened
    run(tickets.update, t.id, {"vps_id": str(other.id)})  # linked to another VPS
    run(tickets.create, {"title": "no vps"})
    assert kinds(run, v.id) == ["created", "ticket-opened", "ticket-closed", "ticket-opened"]
    assert kinds(run, other.id) == ["created", "ticket-opened"]
    opened = events(run, v.id, "ticket-opened")
    assert opened[-1].details["ticket_id"] == str(t.id)
    assert opened[-1].details["title"] == "blocked in CN"
    assert events(run, v.id, "ticket-closed")[0].details["status"] == "resolved"


def test_reachability_verdicts_are_events_from_the_probe(run):
    from sigma.services import ip_checks

    v = run(vps.create, {"hostname": "h", "status": "active", "ip_addresses": [{"ip": "1.2.3.4"}]})
    for _ in range(4):
        run(
            ip_checks.record_batch,
            {
                "checks": [
                    {"vps_id": str(v.id), "ip": "1.2.3.4", "source": "cn-ct", "success": False}
                ]
            },
        )
    found = events(run, v.id, "reachability")
    assert found and found[-1].source == "probe"
    assert found[-1].details["ip"] == "1.2.3.4" and found[-1].details["from"] == "unknown"


def test_agent_offline_and_online_are_events(run, sessions):
    from sigma.db.engine import unit_of_work
    from sigma.db.types import utcnow
    from sigma.services import agents

    old = (utcnow() - timedelta(hours=1)).isoformat()
    v = run(vps.create, {"hostname": "h", "status": "active", "extra": {"last_heartbeat": old}})
    with unit_of_work(sessions) as session:
        assert [e.kind for e in agents.detect_offline(session, 60)] == ["agent-offline"]
    with unit_of_work(sessions) as session:
        assert agents.detect_offline(session, 60) == []  # recorded once
    run(agents.heartbeat, {"hostname": "h", "system_info": {"up": 1}})
    with unit_of_work(sessions) as session:
        assert [e.kind for e in agents.detect_offline(session, 60)] == ["agent-online"]
    assert kinds(run, v.id) == ["created", "agent-offline", "agent-online"]
    offline = events(run, v.id, "agent-offline")[0]
    assert offline.source == "agent" and offline.details["last_heartbeat"] == old


def test_agent_ip_changes_are_events_only_when_the_set_changes(run, count):
    """The ORM heartbeat (SQLite always; PostgreSQL for what the batch does not take)."""
    from sigma.db.models.history import VpsHistory
    from sigma.services import agents

    reg = {
        "hostname": "agent-1",
        "ip_addresses": [{"ip": "103.1.2.3"}, {"ip": "10.0.0.5", "label": "internal"}],
    }
    v = run(agents.register, reg)
    assert kinds(run, v.id) == ["created"] and events(run, v.id, "created")[0].source == "agent"
    run(vps.update, v.id, {"ip_addresses": [{"ip": "103.1.2.3", "label": "china-telecom"}]})
    n = count(VpsHistory, vps_id=v.id)
    # the same set (another order, no labels): nothing written, labels kept
    same = [{"ip": "10.0.0.5"}, {"ip": "103.1.2.3"}]
    run(vps.update, v.id, {"ip_addresses": reg["ip_addresses"]})
    n = count(VpsHistory, vps_id=v.id)
    version = run(vps.get, v.id)._version
    for _ in range(3):
        out = run(agents.heartbeat, {"hostname": "agent-1", "ip_addresses": same})
    assert count(VpsHistory, vps_id=v.id) == n and run(vps.get, v.id)._version == version
    assert out.ip_addresses[0].ip == "103.1.2.3"
    # a new address and one gone: two events, the VPS's version moves
    changed = [{"ip": "103.1.2.9"}, {"ip": "10.0.0.5"}]
    out = run(agents.heartbeat, {"hostname": "agent-1", "ip_addresses": changed})
    assert {e.ip for e in out.ip_addresses} == {"103.1.2.9", "10.0.0.5"}
    assert kinds(run, v.id)[-2:] == ["ip-removed", "ip-added"]
    added = events(run, v.id, "ip-added")[0]
    assert added.source == "agent" and added.details == {"ip": "103.1.2.9", "label": ""}
    assert run(vps.get, v.id)._version == version + 1
    # heartbeats without addresses (older agents) change nothing
    run(agents.heartbeat, {"hostname": "agent-1", "system_info": {"x": 1}})
    assert count(VpsHistory, vps_id=v.id) == n + 2
    assert [h.vps_state for h in holdings(run, "103.1.2.9")] == ["active"]
    assert holdings(run, "103.1.2.3")[0].until is not None


def test_imports_write_their_events_in_batches(run):
    from sigma.services import transfer

    data = json.dumps(
        [
            {"hostname": "imp-1", "status": "active", "ip_addresses": [{"ip": "198.51.100.1"}]},
            {"hostname": "imp-2", "ip_addresses": ["198.51.100.2"]},
        ]
    )
    report = run(transfer.import_vps, data, "json")
    assert report.created == 2
    one = run(vps.get, "imp-1")
    created = events(run, one.id, "created")[0]
    assert created.source == "import" and created.details["ip_addresses"][0]["ip"] == "198.51.100.1"
    # an update of the same records: field, status and IP events, one import audit row each
    exported = json.loads(run(transfer.export_vps, "json"))
    for rec in exported:
        if rec["hostname"] == "imp-1":
            rec.update(country="JP", status="suspended", ip_addresses=[{"ip": "198.51.100.7"}])
    run(transfer.import_vps, json.dumps(exported), "json")
    assert kinds(run, one.id) == ["created", "updated", "status", "ip-removed", "ip-added"]
    assert {e.source for e in run(history.timeline, one.id).data} == {"import"}
    assert events(run, one.id, "updated")[0].details["changes"]["country"]["to"] == "JP"
    assert [h.hostname for h in holdings(run, "198.51.100.7")] == ["imp-1"]
    assert holdings(run, "198.51.100.1")[0].until is not None
    # a dry run writes nothing
    two = run(vps.get, "imp-2")
    run(transfer.import_vps, json.dumps(exported), "json", True)
    assert kinds(run, two.id) == ["created"]


# ------------------------------------------------------------------ IP history


def test_ip_history_by_address_prefix_and_cidr(run):
    a = run(vps.create, {"hostname": "a", "ip_addresses": [{"ip": "103.1.2.3", "label": "ct"}]})
    run(vps.update, a.id, {"ip_addresses": []})
    b = run(vps.create, {"hostname": "b", "ip_addresses": [{"ip": "103.1.2.3"}]})
    run(
        vps.create, {"hostname": "c", "ip_addresses": [{"ip": "103.1.20.1"}, {"ip": "2001:db8::5"}]}
    )
    run(vps.create, {"hostname": "d", "ip_addresses": [{"ip": "103.10.0.1"}]})
    held = holdings(run, "103.1.2.3")
    assert [(h.hostname, h.label, h.until is None) for h in held] == [
        ("b", "", True),
        ("a", "china-telecom", False),
    ]
    assert held[1].vps_id == a.id and held[0].vps_id == b.id and held[0].vps_state == "provisioning"
    assert {h.hostname for h in holdings(run, "103.1.2.")} == {"a", "b"}
    assert {h.hostname for h in holdings(run, "103.1.")} == {"a", "b", "c"}
    assert {h.hostname for h in holdings(run, "103.1.0.0/16")} == {"a", "b", "c"}
    assert {h.hostname for h in holdings(run, "103.1.2.3/24")} == {"a", "b"}
    assert {h.hostname for h in holdings(run, "103")} == {"a", "b", "c", "d"}
    assert {h.hostname for h in holdings(run, "2001:db8:")} == {"c"}
    assert {h.hostname for h in holdings(run, "2001:db8::/32")} == {"c"}
    assert holdings(run, "203.0.113.1") == []
    # who had it at a time: the holdings overlapping [since, until]
    ended = held[1].until
    assert {h.hostname for h in holdings(run, "103.1.2.3", until=held[1].since.isoformat())} == {
        "a"
    }
    later = (ended + timedelta(microseconds=1)).isoformat()
    assert {h.hostname for h in holdings(run, "103.1.2.3", since=later)} == {"b"}
    page = run(history.ip_history, {"ip": "103.1.", "per_page": 1, "page": 2})
    assert page.total == 3 and len(page.data) == 1


@pytest.mark.parametrize(
    "bad", ["", "103.1.2.x", "300.1.", "1.2.3.4/33", "hk-exit-01", "1.2.3.4.5", "::g"]
)
def test_ip_history_refuses_what_is_not_an_address(run, bad):
    with pytest.raises(InvalidInput) as exc:
        run(history.ip_history, {"ip": bad})
    assert exc.value.field == "ip"


def test_retired_and_trashed_vps_stop_holding_their_addresses(run):
    v = run(vps.create, {"hostname": "v", "ip_addresses": [{"ip": "192.0.2.1"}]})
    run(vps.delete, v.id)
    assert holdings(run, "192.0.2.1")[0].vps_state == "trashed"
    assert holdings(run, "192.0.2.1")[0].until is not None
    run(trash.restore, v.id)
    now = holdings(run, "192.0.2.1")
    assert len(now) == 2 and now[0].until is None
    run(vps.retire, v.id)
    assert all(h.until is not None for h in holdings(run, "192.0.2.1"))
    run(trash.purge, v.id)
    assert {h.vps_state for h in holdings(run, "192.0.2.1")} == {"purged"}
    # the timeline of a purged VPS stays, by its id
    assert kinds(run, v.id)[-1] == "purged"


# ------------------------------------------------------------------ duplicates


def test_duplicates_and_their_reasons(run):
    a = run(
        vps.create,
        {
            "hostname": "hk-1",
            "ip_addresses": [{"ip": "103.1.2.3"}, {"ip": "10.0.0.1", "label": "internal"}],
            "extra": {"provider_instance_id": "i-42"},
        },
    )
    b = run(vps.create, {"hostname": "hk-1", "ip_addresses": [{"ip": "103.1.2.3", "label": "ct"}]})
    c = run(
        vps.create,
        {
            "hostname": "jp-1",
            "ip_addresses": [{"ip": "10.0.0.1", "label": "internal"}],
            "extra": {"provider_instance_id": "i-42"},
        },
    )
    # shares only an internal address with a: not a duplicate of it by IP
    run(vps.create, {"hostname": "lan-only", "ip_addresses": [{"ip": "10.0.0.1", "label": "lan"}]})
    gone = run(vps.create, {"hostname": "x-1", "ip_addresses": [{"ip": "198.51.100.9"}]})
    old = run(vps.create, {"hostname": "x-2", "ip_addresses": [{"ip": "198.51.100.9"}]})
    run(vps.delete, gone.id)  # the trash is not "in service"
    run(vps.retire, old.id)  # nor the retired
    pairs = run(merge.duplicates).data
    found = {frozenset((p.a.id, p.b.id)): {(r.reason, r.value) for r in p.reasons} for p in pairs}
    assert found == {
        frozenset((a.id, b.id)): {("hostname", "hk-1"), ("ip", "103.1.2.3")},
        frozenset((a.id, c.id)): {("provider_instance_id", "i-42")},
    }
    page = run(merge.duplicates, 2, 1)
    assert page.total == 2 and len(page.data) == 1


# ------------------------------------------------------------------ merge


@pytest.fixture
def pair(run, sessions):
    """KEEP (from the inventory) and OTHER (from its agent), with the things a merge moves."""
    from sigma.db.engine import unit_of_work
    from sigma.db.models.identity import ApiKey as ApiKeyRow
    from sigma.services import agents, ip_checks, tickets

    keep = run(
        vps.create,
        {
            "hostname": "hk-exit-01",
            "status": "active",
            "country": "HK",
            "ip_addresses": [{"ip": "103.1.2.3", "label": "china-telecom"}],
            "tags": ["cn"],
            "extra": {"rack": "A1", "provider_instance_id": "i-1"},
            "notes": "bought in May",
            "cost_monthly": "5.00",
        },
    )
    other = run(
        vps.create,
        {
            "hostname": "hk-exit-01b",
            "status": "active",
            "country": "JP",
            "city": "Hong Kong",
            "ip_addresses": [{"ip": "103.1.2.3", "label": "china-unicom"}, {"ip": "2001:db8::1"}],
            "tags": ["cn", "relay"],
            "extra": {"rack": "B2", "plan": "s1"},
            "notes": "from the agent",
        },
    )
    key = run(agents.provision, other.id)
    t = run(tickets.create, {"title": "slow", "vps_id": str(other.id)})
    run(
        ip_checks.record_batch,
        {"checks": [{"vps_id": str(other.id), "ip": "2001:db8::1", "success": True}]},
    )
    with unit_of_work(sessions) as session:
        key_id = session.query(ApiKeyRow).filter(ApiKeyRow.vps_id == other.id).one().id
    return keep, other, key, t, key_id


def test_merge_moves_everything_to_keep_and_lists_conflicts(run, pair, count, audit_rows):
    from sigma.db.models.core import Vps as VpsRow
    from sigma.db.models.identity import ApiKey as ApiKeyRow
    from sigma.db.models.monitoring import IpCheck
    from sigma.services import tickets

    keep, other, _key, t, key_id = pair
    result = run(merge.merge, {"keep": "hk-exit-01", "other": str(other.id)})
    assert result.dry_run is False and result.removed.id == other.id
    k = result.keep
    assert k.id == keep.id and k.hostname == "hk-exit-01" and k.country == "HK"
    assert k.city == "Hong Kong" and "city" in result.filled  # KEEP had none
    assert [(e.ip, e.label) for e in k.ip_addresses] == [
        ("103.1.2.3", "china-telecom"),
        ("2001:db8::1", ""),
    ]
    assert k.tags == ["cn", "relay"]
    assert k.extra["rack"] == "A1" and k.extra["plan"] == "s1"
    assert k.notes == "bought in May\n\nfrom the agent"
    conflicts = {c.field: (c.keep, c.other, c.resolution) for c in result.conflicts}
    assert conflicts["country"] == ("HK", "JP", "kept")
    assert conflicts["hostname"] == ("hk-exit-01", "hk-exit-01b", "kept")
    assert conflicts["extra.rack"] == ("A1", "B2", "kept")
    assert conflicts["ip_addresses.103.1.2.3.label"][2] == "kept"
    assert conflicts["notes"][2] == "joined"
    assert result.moved["tickets"] == 1 and result.moved["ip_checks"] == 1
    assert result.moved["agent_keys"] == 1 and result.moved["history"] >= 1
    # OTHER is gone; its tickets, checks and agent key are KEEP's now
    assert count(VpsRow, id=other.id) == 0
    assert run(tickets.get, t.id).vps_id == keep.id
    assert count(IpCheck, vps_id=keep.id) == 1
    assert count(ApiKeyRow, vps_id=keep.id) == 1 and count(ApiKeyRow, id=key_id) == 1
    # its history too, under its own hostname; the merge is an event and one audit row
    timeline = run(history.timeline, keep.id, {"per_page": 100}).data
    assert {e.hostname for e in timeline if e.kind == "created"} == {"hk-exit-01", "hk-exit-01b"}
    merged = [e for e in timeline if e.kind == "merged"]
    assert merged[0].details["other"]["hostname"] == "hk-exit-01b"
    assert [r.action for r in audit_rows(action="merge")] == ["merge"]
    with pytest.raises(NotFound):
        run(vps.get, other.id)
    # the address OTHER held ends, and begins again on KEEP
    held = holdings(run, "2001:db8::1")
    assert [(h.hostname, h.until is None, h.vps_id) for h in held] == [
        ("hk-exit-01", True, keep.id),
        ("hk-exit-01b", False, keep.id),
    ]


def test_merge_dry_run_shows_the_result_and_writes_nothing(run, pair, count, audit_rows):
    from sigma.db.models.core import Vps as VpsRow
    from sigma.db.models.history import VpsHistory

    keep, other, *_ = pair
    before = run(vps.get, keep.id)
    events_before = count(VpsHistory)
    result = run(merge.merge, {"keep": str(keep.id), "other": "hk-exit-01b", "dry_run": True})
    real = run(merge.merge, {"keep": str(keep.id), "other": "hk-exit-01b", "dry_run": True})
    assert result.dry_run and result == real
    assert result.keep.city == "Hong Kong" and result.keep.tags == ["cn", "relay"]
    assert count(VpsRow, id=other.id) == 1 and count(VpsHistory) == events_before
    after = run(vps.get, keep.id)
    assert after == before and after._version == before._version
    assert audit_rows(action="merge") == []
    done = run(merge.merge, {"keep": str(keep.id), "other": "hk-exit-01b"})
    assert done.keep.model_dump(exclude={"updated_at", "online"}) == result.keep.model_dump(
        exclude={"updated_at", "online"}
    )


def test_merge_refusals_name_the_field_and_write_nothing(run, pair, audit_rows):
    keep, other, *_ = pair
    cases = [
        ({"keep": str(keep.id), "other": str(keep.id)}, InvalidInput, "other"),
        ({"keep": "hk-exit-01", "other": "nope"}, NotFound, "other"),
        ({"keep": "nope", "other": "hk-exit-01"}, NotFound, "keep"),
        ({"keep": "hk-exit-01"}, InvalidInput, "other"),
    ]
    for body, error, field in cases:
        with pytest.raises(error) as exc:
            run(merge.merge, body)
        assert exc.value.field == field, body
    run(vps.delete, other.id)
    with pytest.raises(Conflict) as exc:
        run(merge.merge, {"keep": str(keep.id), "other": str(other.id)})
    assert exc.value.field == "other" and "trash" in exc.value.message
    with pytest.raises(Conflict) as exc:
        run(merge.merge, {"keep": str(other.id), "other": str(keep.id)})
    assert exc.value.field == "keep"
    from sigma.services.actor import Actor

    run(trash.restore, other.id)
    with pytest.raises(PermissionDenied):
        run(
            merge.merge,
            {"keep": str(keep.id), "other": str(other.id)},
            as_actor=Actor(email="r@x", role="readonly"),
        )
    assert audit_rows(action="merge") == []


def test_a_merge_that_fails_half_way_leaves_nothing_half_merged(run, pair, count, monkeypatch):
    from sigma.db.models.core import Vps as VpsRow
    from sigma.db.models.history import VpsHistory
    from sigma.services import tickets

    keep, other, _key, t, _ = pair
    before = (run(vps.get, keep.id), count(VpsHistory))

    def broken(*args, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(history, "sync_ips", broken)  # the last step of a merge
    with pytest.raises(RuntimeError):
        run(merge.merge, {"keep": str(keep.id), "other": str(other.id)})
    assert count(VpsRow, id=other.id) == 1
    assert run(tickets.get, t.id).vps_id == other.id
    assert (run(vps.get, keep.id), count(VpsHistory)) == before
    assert count(VpsHistory, vps_id=other.id) >= 1


# ------------------------------------------------------------------ the trash


@pytest.fixture
def fleet(run):
    """Two live VPS with a cost and an expiry (every export shows them), one of them trashed."""
    from sigma.services import providers

    p = run(providers.create, {"name": "prov"})
    kept = run(
        vps.create,
        {
            "hostname": "kept",
            "status": "active",
            "provider_id": str(p.id),
            "ip_addresses": [{"ip": "192.0.2.10"}],
            "cost_monthly": "10.00",
            "expire_date": "2030-01-01",
        },
    )
    gone = run(
        vps.create,
        {
            "hostname": "gone",
            "status": "active",
            "provider_id": str(p.id),
            "ip_addresses": [{"ip": "192.0.2.11"}],
            "cost_monthly": "7.00",
            "expire_date": "2030-01-02",
        },
    )
    run(vps.delete, gone.id)
    return kept, gone


def test_the_trash_is_hidden_from_listings_exports_stats_and_costs(run, fleet):
    from sigma.schemas.inventory import VpsFilter
    from sigma.services import costs, stats, transfer
    from sigma.services.exports import ansible, ical, prometheus

    kept, gone = fleet
    assert [v.hostname for v in run(vps.list_vps).data] == ["kept"]
    assert run(vps.list_vps, {"search": "gone"}).total == 0
    assert run(vps.list_vps, {"ip": "192.0.2.11"}).total == 0
    assert [v.hostname for v in run(vps.all_vps, VpsFilter())] == ["kept"]
    with pytest.raises(NotFound) as exc:
        run(vps.get, "gone")
    assert "is in the trash" in exc.value.message and exc.value.field == "vps"
    assert "gone" not in run(transfer.export_vps, "json")
    assert [t["labels"]["instance_name"] for t in run(prometheus.targets)] == ["kept"]
    assert "gone" not in json.dumps(run(ansible.inventory))
    feed = run(ical.calendar)
    assert "kept" in feed and "gone" not in feed
    s = run(stats.stats)
    assert s.total_vps == 1 and s.active_vps == 1
    assert [c.count for c in s.by_status] == [1] and [e.hostname for e in s.expiring_soon] == []
    summary = run(costs.summary, {})
    assert [(c.currency, c.vps_count, c.total_cost) for c in summary.per_currency] == [
        ("USD", 1, pytest.approx(10))
    ]
    months = run(costs.monthly, {"months": 1})
    assert months.months[0].per_currency[0].vps_count == 1


def test_trash_list_restore_and_refusals(run, fleet, settings):
    kept, gone = fleet
    page = run(trash.list_trash, 1, 25, 30)
    assert [(v.hostname, v.id) for v in page.data] == [("gone", gone.id)]
    assert page.data[0].purge_after - page.data[0].deleted_at == timedelta(days=30)
    with pytest.raises(NotFound) as exc:
        run(trash.restore, kept.id)
    assert "not in the trash" in exc.value.message
    with pytest.raises(NotFound):
        run(trash.restore, "no-such-vps")
    back = run(trash.restore, "gone")
    assert back.id == gone.id and back.status == "active"
    assert sorted(v.hostname for v in run(vps.list_vps).data) == ["gone", "kept"]
    assert kinds(run, gone.id)[-2:] == ["deleted", "restored"]
    assert run(trash.list_trash).total == 0


def test_restore_refuses_a_hostname_now_taken_in_another_case(run):
    v = run(vps.create, {"hostname": "hk-1"})
    run(vps.delete, v.id)
    run(vps.create, {"hostname": "HK-1"})
    with pytest.raises(Conflict) as exc:
        run(trash.restore, v.id)
    assert exc.value.field == "hostname"
    assert run(trash.list_trash).total == 1


def test_agent_keys_are_unbound_by_the_trash_and_bound_again_by_restore(run, sessions):
    from sigma.services import agents
    from sigma.services.actor import Actor

    v = run(vps.create, {"hostname": "agent-host", "status": "active"})
    created = run(agents.provision, v.id)
    run(vps.delete, v.id)
    with pytest.raises(NotFound):
        run(agents.bound_keys, v.id)  # hidden like the VPS
    # a heartbeat for a VPS in the trash is refused like an unknown host, by hostname...
    with pytest.raises(NotFound):
        run(agents.heartbeat, {"hostname": "agent-host"})
    # ...and the agent's key, unbound, is told to register (it does not revive the VPS)
    agent = Actor(
        email="agents@sigma.local", role="agent", user_id=created.user_id, api_key_id=created.id
    )
    with pytest.raises(NotFound):
        run(agents.heartbeat, {"hostname": "agent-host"}, as_actor=agent)
    run(trash.restore, v.id)
    assert [k.id for k in run(agents.bound_keys, v.id)] == [created.id]
    assert events(run, v.id, "restored")[0].details["rebound_keys"] == [str(created.id)]
    assert run(agents.heartbeat, {"hostname": "agent-host"}, as_actor=agent).id == v.id


def test_purge_by_hand_is_for_admins_and_keeps_the_history(run, fleet, count, audit_rows):
    from sigma.db.models.core import Vps as VpsRow
    from sigma.db.models.history import VpsHistory
    from sigma.services.actor import Actor

    kept, gone = fleet
    with pytest.raises(PermissionDenied):
        run(trash.purge, gone.id, as_actor=Actor(email="op@x", role="operator"))
    assert count(VpsRow, id=gone.id) == 1
    result = run(trash.purge, "gone")
    assert result.id == gone.id and result.hostname == "gone" and result.deleted
    assert count(VpsRow, id=gone.id) == 0
    assert count(VpsHistory, vps_id=gone.id) >= 3
    assert [r.action for r in audit_rows(action="purge")] == ["purge"]
    with pytest.raises(NotFound):
        run(trash.purge, "gone")
    # a VPS in service can be purged at once
    run(trash.purge, kept.id)
    assert count(VpsRow) == 0


def test_the_purge_job_empties_the_trash_after_the_retention(run, sessions, settings, fleet):
    from sigma.db.engine import unit_of_work
    from sigma.db.models.core import Vps as VpsRow
    from sigma.db.types import utcnow
    from sigma.server.jobs import jobs

    kept, gone = fleet
    job = next(j for j in jobs() if j.name == trash.JOB_NAME)
    job.run(sessions, settings)  # deleted just now: kept
    with unit_of_work(sessions) as session:
        assert session.get(VpsRow, gone.id) is not None
        # deleted 31 days ago
        session.get(VpsRow, gone.id).deleted_at = utcnow() - timedelta(days=31)
    job.run(sessions, settings)
    with unit_of_work(sessions) as session:
        assert session.get(VpsRow, gone.id) is None
        assert session.get(VpsRow, kept.id) is not None
    purged = events(run, gone.id, "purged")[0]
    assert purged.source == "system"
    job.run(sessions, settings)  # idempotent


def test_a_shorter_retention_purges_sooner(run, sessions, fleet):
    from sigma.db.engine import unit_of_work
    from sigma.db.types import utcnow

    kept, gone = fleet
    with unit_of_work(sessions) as session:
        assert trash.purge_expired(session, 5, now=utcnow() + timedelta(days=4)) == []
    with unit_of_work(sessions) as session:
        done = trash.purge_expired(session, 5, now=utcnow() + timedelta(days=6))
    assert [g.id for g in done] == [gone.id]


def test_deleted_ids_are_refused_by_imports_tickets_and_checks(run, fleet):
    from sigma.services import ip_checks, tickets, transfer

    kept, gone = fleet
    with pytest.raises(InvalidInput) as exc:
        run(transfer.import_vps, json.dumps([{"id": str(gone.id), "hostname": "gone"}]), "json")
    assert "trash" in json.dumps(exc.value.details)
    with pytest.raises(InvalidInput) as exc:
        run(tickets.create, {"title": "x", "vps_id": str(gone.id)})
    assert exc.value.field == "vps_id"
    with pytest.raises(InvalidInput):
        run(ip_checks.create, {"vps_id": str(gone.id), "ip": "192.0.2.11", "success": True})
    result = run(
        ip_checks.record_batch,
        {"checks": [{"vps_id": str(gone.id), "ip": "192.0.2.11", "success": True}]},
    )
    assert result.inserted == 0 and len(result.rejected) == 1
    assert [t.hostname for t in run(ip_checks.targets)] == ["kept"]
