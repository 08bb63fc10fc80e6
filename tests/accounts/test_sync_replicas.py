"""Two real `sigma serve` replicas on one PostgreSQL, both with the sync job on and both asked
to sync the same account at the same moment: the account's machines become VPS once, and no
two runs of the account ever overlap (the provider sees one listing at a time)."""

from __future__ import annotations

import threading
import time

import pytest
from cryptography.fernet import Fernet
from tests.accounts.fakes import HetznerFake, server
from tests.cloud.fakeapi import FakeApi
from tests.serverproc import Server

TOKEN = "hz-replica-token-5Rt"


@pytest.fixture
def pg_url(pg_database):
    from tests.conftest import _truncate

    _truncate(pg_database)
    return pg_database


def test_two_replicas_sync_an_account_once(pg_url, tmp_path) -> None:
    from sqlalchemy import func, select
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import ensure_schema, make_engine, unit_of_work
    from sigma.db.models.core import Vps
    from sigma.db.models.history import VpsHistory
    from sigma.services import accounts
    from sigma.services.actor import local_actor
    from sigma.settings import Settings

    key = Fernet.generate_key().decode()
    fake = FakeApi().start()
    hetzner = HetznerFake(fake)
    hetzner.servers[TOKEN] = [
        server(500 + i, f"rep-{i:02d}", f"203.0.113.{i + 1}") for i in range(20)
    ]
    hetzner.per_page = 5
    hetzner.delay = 0.2  # four pages: a run lasts about a second
    in_flight, overlaps = [0], [0]
    handle = fake.routes[("GET", "/v1/servers")]

    def counting(request):
        in_flight[0] += 1
        if in_flight[0] > 1:
            overlaps[0] += 1
        try:
            return handle(request)
        finally:
            in_flight[0] -= 1

    fake.route("GET", "/v1/servers", counting)
    eng = make_engine(pg_url)
    ensure_schema(eng, auto_upgrade=True)
    sessions = sessionmaker(eng, expire_on_commit=False)
    settings = Settings(database_url=pg_url, account_key=key)
    with unit_of_work(sessions) as s:
        accounts.create(
            s,
            local_actor(),
            settings,
            {"kind": "hetzner", "name": "hz", "api_base": fake.url, "token": TOKEN},
        )
    env = {"SIGMA_JOBS_ENABLED": "true", "SIGMA_ACCOUNT_KEY": key}
    servers = [Server(pg_url, tmp_path / f"r{i}", extra_env=env) for i in range(2)]
    for srv in servers:
        srv.workdir.mkdir()
    try:
        for srv in servers:
            srv.start()
        clients = [srv.admin() for srv in servers]
        barrier = threading.Barrier(2)
        reports: list[dict] = []

        def ask(client):
            barrier.wait()
            r = client.post("/api/accounts/hz/sync", timeout=60)
            assert r.status_code == 200, r.text
            reports.append(r.json())

        asks = [threading.Thread(target=ask, args=(c,)) for c in clients]
        for t in asks:
            t.start()
        for t in asks:
            t.join(60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with unit_of_work(sessions) as s:
                made = s.scalar(select(func.count()).select_from(Vps))
            if made >= 20:
                break
            time.sleep(0.5)
        time.sleep(1.5)  # a second, overlapping run would have shown by now
    finally:
        for srv in servers:
            srv.stop()
        fake.stop()
    with unit_of_work(sessions) as s:
        hostnames = list(s.scalars(select(Vps.hostname)))
        created = s.scalar(
            select(func.count()).select_from(VpsHistory).where(VpsHistory.kind == "created")
        )
    eng.dispose()
    assert sorted(hostnames) == [f"rep-{i:02d}" for i in range(20)]
    assert created == 20
    assert overlaps[0] == 0
    assert len(reports) == 2
    assert sum(r["created"] for r in reports) <= 20
    busy = [r for r in reports if not r["ok"]]
    assert all("another sync" in r["error"] for r in busy), busy
