"""Several `sigma serve` replicas (deploy/k8s runs 2+) start at once on one PostgreSQL
database: the migrations run once, nobody fails."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

PG_ADMIN_URL = os.environ.get(
    "SIGMA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)

MIGRATE = """
import sys
from sigma.db.engine import make_engine, upgrade
eng = make_engine(sys.argv[1])
upgrade(eng)
eng.dispose()
"""


@pytest.fixture
def fresh_pg(pg_database):  # pg_database: skips (or fails under CI) when PostgreSQL is away
    import psycopg

    name = f"sigma_replicas_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_migrations_on_an_empty_database(fresh_pg):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, fresh_pg], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors

    from sqlalchemy import text

    from sigma.db.engine import make_engine
    from sigma.db.migrations import HEAD_REVISION

    eng = make_engine(fresh_pg)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            HEAD_REVISION
        ]
    eng.dispose()
