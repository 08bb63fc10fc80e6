"""Replacing a VPS (issue 16, part B): what the new VPS inherits (and the flags that keep
it from inheriting), the open tickets moved, the old one retiring and linked, both timelines,
one audit row, and the refusals that write nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sigma.errors import Conflict, InvalidInput, NotFound
from sigma.services import replacement, tickets, vps


@pytest.fixture
def old(run):
    return run(
        vps.create,
        {
            "hostname": "hk-exit-01",
            "status": "active",
            "purpose": "vpn-exit",
            "tags": ["cn", "premium"],
            "monitoring_enabled": False,
            "node_exporter_port": 9200,
            "extra": {"rack": "a1"},
        },
    )


@pytest.fixture
def ticket_ids(run, old):
    """Three tickets on OLD: open, in progress (both open) and closed."""
    made = []
    for title, status in (("blocked by GFW", "open"), ("slow", "in-progress"), ("old", "closed")):
        t = run(tickets.create, {"title": title, "vps_id": str(old.id)})
        if status != "open":
            if status == "closed":
                run(tickets.update, t.id, {"status": "in-progress"})
                run(tickets.update, t.id, {"status": "resolved"})
            run(tickets.update, t.id, {"status": status})
        made.append((t.id, status))
    return made


def _history(sessions, vps_id, kind):
    from sqlalchemy import select

    from sigma.db.models.history import VpsHistory

    with sessions() as s:
        q = select(VpsHistory).where(VpsHistory.vps_id == vps_id, VpsHistory.kind == kind)
        return list(s.scalars(q))


def test_replace_with_an_existing_vps(run, sessions, audit_rows, old, ticket_ids):
    new = run(vps.create, {"hostname": "hk-exit-02", "tags": ["new"], "status": "active"})
    before_audit = len(audit_rows())
    result = run(replacement.replace, "hk-exit-01", {"with": "hk-exit-02"})
    assert result.created is False
    assert result.old.status == "retiring"
    assert result.old.extra == {"rack": "a1", "replaced_by": str(new.id)}
    assert result.new.extra == {"replaces": [str(old.id)]}
    n = run(vps.get, new.id)
    assert n.purpose == "vpn-exit"
    assert n.tags == ["new", "cn", "premium"]
    assert (n.monitoring_enabled, n.node_exporter_port) == (False, 9200)
    assert sorted(result.inherited) == [
        "monitoring_enabled",
        "node_exporter_port",
        "purpose",
        "tags",
    ]
    open_ids = {t for t, status in ticket_ids if status != "closed"}
    assert set(result.tickets_moved) == open_ids
    for tid, status in ticket_ids:
        linked = run(tickets.get, tid).vps_id
        assert linked == (new.id if status != "closed" else old.id)
    # both timelines show the pair; one audit row for the whole replacement
    [replaced] = _history(sessions, old.id, "replaced")
    assert replaced.details["replaced_by"] == str(new.id)
    assert replaced.details["status"] == {"from": "active", "to": "retiring"}
    assert sorted(replaced.details["tickets_moved"]) == sorted(str(t) for t in open_ids)
    [replaces] = _history(sessions, new.id, "replaces")
    assert replaces.details["replaces"] == str(old.id)
    assert replaces.details["inherited"]["purpose"] == {"from": "", "to": "vpn-exit"}
    assert len(audit_rows()) == before_audit + 1
    [row] = audit_rows(action="replace")
    assert row.details["replaced_by_hostname"] == "hk-exit-02"


def test_replace_by_a_new_vps_with_flags(run, sessions, audit_rows, old, ticket_ids):
    result = run(
        replacement.replace,
        old.id,
        {
            "new": {"hostname": "hk-exit-03", "country": "HK", "node_exporter_port": 9300},
            "inherit_tags": False,
            "inherit_tickets": False,
        },
    )
    assert result.created is True
    n = run(vps.get, "hk-exit-03")
    assert (n.country, n.purpose, n.tags) == ("HK", "vpn-exit", [])
    # an explicit field of the new VPS wins over the inherited one
    assert (n.monitoring_enabled, n.node_exporter_port) == (False, 9300)
    assert result.tickets_moved == []
    assert all(run(tickets.get, t).vps_id == old.id for t, _ in ticket_ids)
    assert {r.action for r in audit_rows(resource="vps", resource_id=str(n.id))} == {"create"}
    assert [r.action for r in audit_rows(action="replace")] == ["replace"]
    assert len(_history(sessions, n.id, "created")) == 1
    assert len(_history(sessions, n.id, "replaces")) == 1


def test_a_retiring_vps_stays_retiring_and_a_new_one_may_replace_several(run, old):
    a = run(vps.create, {"hostname": "sg-1", "status": "retiring"})
    new = run(vps.create, {"hostname": "sg-2"})
    run(replacement.replace, a.id, {"with": str(new.id)})
    result = run(replacement.replace, old.id, {"with": str(new.id)})
    assert run(vps.get, a.id).status == "retiring"
    assert result.new.extra["replaces"] == [str(a.id), str(old.id)]


@pytest.mark.parametrize(
    "body, error, field",
    [
        ({"with": "hk-exit-01"}, InvalidInput, "with"),  # itself
        ({"with": "no-such-vps"}, NotFound, "with"),
        ({"with": "gone-1"}, Conflict, "with"),  # a retired VPS cannot take over
        ({}, InvalidInput, "with"),  # neither with nor new
        ({"with": "x", "new": {"hostname": "y"}}, InvalidInput, "with"),  # both
        ({"new": {"hostname": "-bad"}}, InvalidInput, "new.hostname"),
        ({"with": "hk-exit-04", "inherit_tags": "perhaps"}, InvalidInput, "inherit_tags"),
    ],
)
def test_refusals_write_nothing(
    run, sessions, audit_rows, count, db_models, old, body, error, field
):
    run(vps.create, {"hostname": "gone-1", "status": "retired"})
    run(vps.create, {"hostname": "hk-exit-04"})
    rows, audits = count(db_models.Vps), len(audit_rows())
    with pytest.raises(error) as exc:
        run(replacement.replace, old.id, body)
    assert exc.value.field == field
    assert (count(db_models.Vps), len(audit_rows())) == (rows, audits)
    assert run(vps.get, old.id).status == "active"
    assert _history(sessions, old.id, "replaced") == []


def test_a_retired_vps_is_not_replaced(run):
    gone = run(vps.create, {"hostname": "dead-1", "status": "retired"})
    run(vps.create, {"hostname": "alive-1"})
    with pytest.raises(Conflict):
        run(replacement.replace, gone.id, {"with": "alive-1"})


def test_an_unknown_old_vps_is_not_found(run):
    with pytest.raises(NotFound):
        run(replacement.replace, "nobody", {"with": "nobody-else"})


def test_a_failure_halfway_rolls_everything_back(run, old, count, db_models, monkeypatch):
    """One transaction: a new VPS created for the replacement goes when a later step fails."""
    from sigma.services import history

    real = history.record

    def failing(session, vps_id, kind, *args, **kwargs):
        if kind == "replaces":
            raise RuntimeError("disk full")
        return real(session, vps_id, kind, *args, **kwargs)

    monkeypatch.setattr(history, "record", failing)
    rows = count(db_models.Vps)
    with pytest.raises(RuntimeError):
        run(replacement.replace, old.id, {"new": {"hostname": "hk-exit-05"}})
    assert count(db_models.Vps) == rows
    assert run(vps.get, old.id).status == "active"
    assert "replaced_by" not in run(vps.get, old.id).extra
