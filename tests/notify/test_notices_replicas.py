"""Exactly once across two real `sigma serve` replicas on one PostgreSQL: both schedulers run
the notices job, and both are asked for a run at the same moment; 30 expiring VPS reach the
channel once each (in grouped messages), recorded once each in notice_deliveries."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, timedelta

import pytest
from tests.serverproc import Server

from sigma.services import vps


@pytest.fixture
def pg_url(pg_database):
    from tests.conftest import _truncate

    _truncate(pg_database)
    return pg_database


def test_two_replicas_deliver_each_item_once(pg_url, tmp_path, receiver, monkeypatch):
    from sqlalchemy import func, select
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import ensure_schema, make_engine, unit_of_work
    from sigma.db.models.notify import NoticeDelivery
    from sigma.services.actor import local_actor

    eng = make_engine(pg_url)
    ensure_schema(eng, auto_upgrade=True)
    sessions = sessionmaker(eng, expire_on_commit=False)
    with unit_of_work(sessions) as s:
        for i in range(30):
            vps.create(
                s,
                local_actor(),
                {
                    "hostname": f"rep-{i:02d}",
                    "status": "active",
                    "expire_date": date.today() + timedelta(days=1 + i % 5),
                },
            )
    env = {
        "SIGMA_JOBS_ENABLED": "true",
        "SIGMA_NOTIFY_URLS": receiver.url("json", "/replicas"),
        "SIGMA_NOTIFY_RULES": "*: kind=expiring",
        "SIGMA_NOTIFY_INTERVAL": "60",
    }
    servers = [Server(pg_url, tmp_path / f"r{i}", extra_env=env) for i in range(2)]
    for srv in servers:
        srv.workdir.mkdir()
    try:
        for srv in servers:  # one after the other: the first creates the admin
            srv.start()
        clients = [srv.admin() for srv in servers]
        barrier = threading.Barrier(2)
        answers: list[int] = []

        def ask(client):
            barrier.wait()
            answers.append(client.post("/api/notify/run", timeout=60).status_code)

        asks = [threading.Thread(target=ask, args=(c,)) for c in clients]
        for t in asks:
            t.start()
        for t in asks:
            t.join(60)
        assert set(answers) <= {200, 409}, answers
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with unit_of_work(sessions) as s:
                sent = s.scalar(
                    select(func.count())
                    .select_from(NoticeDelivery)
                    .where(NoticeDelivery.status == "sent")
                )
            if sent >= 30:
                break
            time.sleep(0.5)
        time.sleep(2)  # any double would have arrived by now
    finally:
        for srv in servers:
            srv.stop()
    with unit_of_work(sessions) as s:
        rows = list(s.scalars(select(NoticeDelivery)))
    eng.dispose()
    assert len(rows) == 30 and {r.status for r in rows} == {"sent"}
    assert len({r.item_key for r in rows}) == 30
    titles = [m["title"] for m in receiver.json("/replicas")]
    counted = sum(int(re.match(r"sigma: (\d+) need attention", t)[1]) for t in titles)
    assert counted == 30, titles
