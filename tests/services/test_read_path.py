"""The lean read path of the filtered VPS list: the page and its count in one statement, the
read-only unit of work (autocommit) and the PostgreSQL pool's liveness check that replaced
the per-checkout `SELECT 1`."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from sigma.db.engine import unit_of_work
from sigma.services import vps
from sigma.services.actor import local_actor


def _statements(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0].upper()))
    return seen


def test_page_and_count_in_one_statement_read_only(sessions):
    actor = local_actor()
    with unit_of_work(sessions) as s:
        for i in range(7):
            vps.create(
                s,
                actor,
                {"hostname": f"hk-{i}", "country": "HK", "tags": ["p:x"], "status": "active"},
            )
        vps.create(
            s, actor, {"hostname": "jp-0", "country": "JP", "tags": ["p:x"], "status": "active"}
        )
    engine = sessions.kw["bind"]
    seen = _statements(engine)
    f = {"status": "active", "country": "HK", "tag": ["p:x"], "per_page": 3}
    with unit_of_work(sessions, read_only=True) as s:
        page = vps.list_vps(s, actor, f)
    assert (page.total, [v.hostname for v in page.data]) == (7, ["hk-0", "hk-1", "hk-2"])
    assert seen == ["SELECT"]  # no BEGIN, no COMMIT, no separate count
    # past the end: no row carries the count, so it is asked for on its own
    with unit_of_work(sessions, read_only=True) as s:
        beyond = vps.list_vps(s, actor, {**f, "page": 5})
    assert (beyond.total, beyond.data) == (7, [])
    with unit_of_work(sessions, read_only=True) as s:
        none = vps.list_vps(s, actor, {**f, "country": "SG"})
    assert (none.total, none.data) == (0, [])
    # a tag that is not plain text is matched exactly too (no substring shortcut on SQLite)
    with unit_of_work(sessions) as s:
        vps.create(
            s,
            actor,
            {"hostname": "odd", "country": "HK", "tags": ['a"b\\c', "日本"], "status": "active"},
        )
    with unit_of_work(sessions, read_only=True) as s:
        assert [v.hostname for v in vps.list_vps(s, actor, {"tag": ['a"b\\c']}).data] == ["odd"]
        assert [v.hostname for v in vps.list_vps(s, actor, {"tag": ["日本"]}).data] == ["odd"]
        assert vps.list_vps(s, actor, {"tag": ["p:"]}).total == 0


def test_pool_replaces_a_connection_the_server_closed(db_url, sessions):
    """What pool_pre_ping did, without its round trip: a pooled connection whose server
    session is gone (a PostgreSQL restart closes them all) is replaced on checkout, and the
    unit of work never sees an error."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the embedded SQLite has no server to lose")
    import time

    engine = sessions.kw["bind"]
    victim = engine.connect()
    pid = victim.execute(text("SELECT pg_backend_pid()")).scalar()
    victim.commit()
    with engine.connect() as other:  # a second pooled connection, checked in after the victim
        victim.close()  # back to the pool first: the next checkout takes it (FIFO)
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        other.commit()

    time.sleep(0.2)  # the server's termination notice reaches the client socket
    seen = _statements(engine)
    for _ in range(3):
        with unit_of_work(sessions, read_only=True) as s:
            assert vps.list_vps(s, local_actor(), {}).total == 0
    assert seen == ["SELECT"] * 3  # no pings on the way
