"""PostgreSQL restarted while an operator writes: `sigma serve` keeps answering (clean 503s
during the outage, no 500, no hang), recovers by itself, and every write it acknowledged
is in the database afterwards."""

import threading
import time

import pytest
from tests.resilience.private_pg import PrivatePostgres, pg_bin

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL server binaries not installed")


@pytest.fixture
def private_pg():
    pg = PrivatePostgres().init()
    yield pg
    pg.destroy()


def test_writes_survive_a_postgres_restart(private_pg):
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work, upgrade
    from sigma.server.app import create_app
    from sigma.services.users import bootstrap_admin
    from sigma.settings import Settings

    settings = Settings(
        database_url=private_pg.url,
        jwt_secret="x" * 32,
        jobs_enabled=False,
        rate_limit_requests=10**6,
    )
    eng = make_engine(settings.effective_database_url)
    upgrade(eng)
    with unit_of_work(sessionmaker(eng)) as s:
        bootstrap_admin(s, "admin@test.local", "testpass123")
    eng.dispose()

    acknowledged: list[str] = []
    outcomes: list[int] = []
    slowest = [0.0]
    stop = threading.Event()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        token = client.post(
            "/api/auth/login", json={"email": "admin@test.local", "password": "testpass123"}
        ).json()["token"]
        h = {"Authorization": f"Bearer {token}"}

        def writer():
            i = 0
            while not stop.is_set():
                name = f"w-{i}"
                t0 = time.monotonic()
                r = client.post("/api/vps", headers=h, json={"hostname": name})
                slowest[0] = max(slowest[0], time.monotonic() - t0)
                outcomes.append(r.status_code)
                if r.status_code == 200:
                    acknowledged.append(name)
                i += 1
                time.sleep(0.02)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(1.0)
        private_pg.stop()
        time.sleep(3.0)
        private_pg.start()
        private_pg.wait_ready()
        time.sleep(3.0)
        stop.set()
        t.join(timeout=60)

        assert 503 in outcomes, "the outage was not observed"
        assert not [s for s in outcomes if s >= 500 and s != 503], outcomes
        assert outcomes[-1] == 200, "the server did not recover by itself"
        assert slowest[0] < 15, f"a request hung for {slowest[0]:.1f}s"
        listed = client.get("/api/vps", headers=h, params={"per_page": 100}).json()
        total = listed["total"]
        names = set()
        page = 1
        while len(names) < total:
            names |= {
                v["hostname"]
                for v in client.get(
                    "/api/vps", headers=h, params={"per_page": 100, "page": page}
                ).json()["data"]
            }
            page += 1
        assert set(acknowledged) <= names, set(acknowledged) - names
        body = client.post("/api/vps", headers=h, json={"hostname": "after"}).json()
        assert body["hostname"] == "after"
