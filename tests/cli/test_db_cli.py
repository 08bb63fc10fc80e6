"""Schema: HEAD_REVISION is Alembic's real head, `sigma db upgrade` is idempotent on SQLite and
PostgreSQL, and the migrations produce exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.local_only("schema upgrades run against the database directly")


def alembic_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import sigma.db.migrations as migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    return heads[0]


def test_head_revision_is_alembics_head():
    from sigma.db.migrations import HEAD_REVISION

    assert alembic_head() == HEAD_REVISION


def test_db_upgrade_is_idempotent(cli):
    from sigma.db.migrations import HEAD_REVISION

    for _ in range(2):
        r = cli("db", "upgrade")
        assert r.code == 0, r.err
        assert f"already at revision {HEAD_REVISION}" in r.err
    r = cli("db", "current")
    assert (r.code, r.out.strip()) == (0, HEAD_REVISION)


def test_db_upgrade_from_empty_sqlite(cli, monkeypatch, tmp_path):
    from sigma.db.migrations import HEAD_REVISION

    monkeypatch.setenv("SIGMA_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh' / 'new.db'}")
    assert cli("db", "current").out.strip() == "empty"
    r = cli("db", "upgrade")
    assert r.code == 0 and f"upgraded empty -> {HEAD_REVISION}" in r.err
    r = cli("db", "upgrade")
    assert r.code == 0 and "already at revision" in r.err
    assert cli("provider", "add", "Works").code == 0


def test_embedded_sqlite_is_created_on_first_use(cli, monkeypatch, tmp_path):
    monkeypatch.delenv("SIGMA_DATABASE_URL")
    r = cli("vps", "list", "--format", "json")
    assert r.code == 0 and r.out.strip() == "[]"
    assert (tmp_path / "data" / "sigma.db").exists()


def test_postgres_is_not_upgraded_behind_the_operators_back(cli, db_url, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the embedded SQLite upgrades itself")
    from sqlalchemy import text

    from sigma.db.engine import make_engine
    from sigma.db.migrations import HEAD_REVISION

    eng = make_engine(db_url)
    try:
        with eng.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0000-older'"))
        r = cli("vps", "list")
        assert r.code == 1 and "sigma db upgrade" in r.err and r.err.count("\n") == 1
    finally:
        with eng.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD_REVISION})
        eng.dispose()


def test_migrations_match_the_models(db_url, sessions):
    """No model change without a migration: Alembic's autogenerate finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from sigma.db.tables import metadata

    engine = sessions.kw["bind"]
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == []
