"""Shared fixtures: real databases (SQLite file and a throwaway PostgreSQL database),
an isolated config/data dir per test, and an in-process CLI runner."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

PG_ADMIN_URL = os.environ.get(
    "SIGMA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# suites that drive real external tools or processes for tens of seconds each: marked `slow`
# here, in one place (`nox -s tests -- -m "not slow"` for a quick run)
SLOW = (
    "tests/e2e/",
    "tests/deploy/",
    "tests/resilience/",
    "tests/docs/",
    "tests/api/test_schemathesis.py",
    "tests/exports/test_prometheus.py",
    "tests/exports/test_ansible_inventory.py",
    "tests/cli/test_terminal_width.py",
)


def pytest_collection_modifyitems(config, items):
    root = str(config.rootpath) + "/"
    for item in items:
        if str(item.path).removeprefix(root).startswith(SLOW):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 5:
        print("\nERROR: pytest collected no tests; this is a failure, not a pass.")


# ------------------------------------------------------------------ environment


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test reads the developer's config, data dir, keyring or server settings."""
    for key in list(os.environ):
        if key.startswith("SIGMA_") and key != "SIGMA_TEST_PG":
            monkeypatch.delenv(key)
    monkeypatch.setenv("SIGMA_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("SIGMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NO_COLOR", "1")
    # every read of the attention list computes it (its kept snapshot has its own test)
    monkeypatch.setenv("SIGMA_ATTENTION_CACHE_SECONDS", "0")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    yield


# ------------------------------------------------------------------ databases


def _pg_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    reason = _pg_reachable()
    if reason:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {reason}")
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {reason}")
    import psycopg

    name = f"sigma_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    from sigma.db.engine import make_engine, upgrade

    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str) -> None:
    from sqlalchemy import text

    from sigma.db.engine import make_engine
    from sigma.db.tables import metadata

    eng = make_engine(url)
    # DELETE, children first: on a test's handful of rows it takes milliseconds where
    # TRUNCATE (new files, fsync) takes ~0.2 s per test
    with eng.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))
    eng.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    """A migrated SQLite file, built once; each test gets a copy (a fresh migration costs
    ~0.2 s, a copy ~1 ms)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "sigma.db"
    from sigma.db.engine import make_engine, upgrade

    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()
    return str(path)


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """A fresh migrated SQLite database of this test (modules that test something above the
    database override `db_url` with it)."""
    import shutil

    path = tmp_path / "sigma.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request) -> str:
    """Each database test runs on the embedded SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def settings(db_url):
    from sigma.settings import Settings

    return Settings(database_url=db_url)


@pytest.fixture
def sessions(settings):
    """A session factory on a migrated database (for service-layer tests)."""
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import ensure_schema, make_engine

    eng = make_engine(settings.effective_database_url)
    ensure_schema(eng, auto_upgrade=True)  # one SELECT when already at head
    yield sessionmaker(eng, expire_on_commit=False)
    eng.dispose()


# ------------------------------------------------------------------ CLI


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        import json

        return json.loads(self.out)


@pytest.fixture(scope="session")
def click_tree():
    """The click command built from `sigma.cli.app`. Typer rebuilds it on every call (once
    per process in real use, ~0.3 s for the whole tree); tests build it once."""
    import typer.main

    from sigma.cli import app

    return app, typer.main.get_command(app)


@pytest.fixture(params=["local", "remote"])
def cli(request, db_url, monkeypatch, capsys, click_tree):
    """Run `sigma ARGS...` in-process against this test's database; returns Result.

    Twice: with the local backend, and remote, against an in-process `sigma serve` on the
    same database as an admin API key (see remote_cli_server below). A test that is
    inherently local says so with @pytest.mark.local_only("reason")."""
    import typer.main

    monkeypatch.setenv("SIGMA_DATABASE_URL", db_url)
    if request.param == "remote":
        marker = request.node.get_closest_marker("local_only")
        if marker:
            pytest.skip(f"local backend only: {marker.args[0] if marker.args else 'see the test'}")
        request.getfixturevalue("remote_cli_server")
    from sigma.cli import main

    app, tree = click_tree
    build = typer.main.get_command
    monkeypatch.setattr(typer.main, "get_command", lambda a: tree if a is app else build(a))

    def run(*args: str, input: str | None = None) -> Result:
        if input is not None:
            import io

            monkeypatch.setattr("sys.stdin", io.StringIO(input))
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


# ------------------------------------------------------------------ HTTP API


@dataclass
class Api:
    """An in-process `sigma serve` app on this test's database, with a logged-in admin."""

    client: object
    app: object
    admin_token: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def user(self, role: str, email: str | None = None, password: str = "password-123") -> str:
        """Create a user with `role` and return a bearer token for them."""
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.com"
        r = self.client.post(
            "/api/users",
            headers=self.headers(),
            json={"email": email, "password": password, "role": role},
        )
        assert r.status_code == 200, r.text
        r = self.client.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def api_key(self, role: str, read_only: bool = False) -> str:
        """An API key belonging to a new user with `role`."""
        email = f"{role}-key-{uuid.uuid4().hex[:6]}@example.com"
        r = self.client.post(
            "/api/users",
            headers=self.headers(),
            json={"email": email, "password": "password-123", "role": role},
        )
        assert r.status_code == 200, r.text
        r = self.client.post(
            "/api/auth/api-keys",
            params={"user": email},
            headers=self.headers(),
            json={"name": f"{role}-key", "read_only": read_only},
        )
        assert r.status_code == 200, r.text
        return r.json()["key"]


ADMIN_EMAIL, ADMIN_PASSWORD = "admin@test.local", "testpass123"


@pytest.fixture
def api_settings(db_url):
    from sigma.settings import Settings

    return Settings(
        database_url=db_url,
        jwt_secret="test-jwt-secret-0123456789",
        rate_limit_requests=100_000,
        rate_limit_login=100_000,
        jobs_enabled=False,
    )


@pytest.fixture
def api(api_settings) -> Iterator[Api]:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import sessionmaker

    from sigma.db.engine import make_engine, unit_of_work, upgrade
    from sigma.server.app import create_app
    from sigma.services.users import bootstrap_admin

    eng = make_engine(api_settings.effective_database_url)
    upgrade(eng)
    with unit_of_work(sessionmaker(eng)) as session:
        bootstrap_admin(session, ADMIN_EMAIL, ADMIN_PASSWORD)
    eng.dispose()
    app = create_app(api_settings)
    with TestClient(app) as client:
        r = client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        yield Api(client=client, app=app, admin_token=r.json()["token"])


# ------------------------------------------------------------------ CLI against a server


_ADMIN_HASH: list[str] = []


@pytest.fixture
def remote_cli_server(db_url, monkeypatch):
    """The `cli` fixture's remote side: the app on this test's database (an admin user with
    an API key, no HTTP login), SIGMA_SERVER/SIGMA_API_KEY set, and the remote backend's
    HTTP client pointed at the app in-process."""
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import sessionmaker

    from sigma.client import remote
    from sigma.db.engine import make_engine, unit_of_work, upgrade
    from sigma.db.models.identity import User as UserRow
    from sigma.schemas.identity import ApiKeyCreate
    from sigma.server.app import create_app
    from sigma.services import auth
    from sigma.services.actor import SYSTEM
    from sigma.settings import Settings

    if not _ADMIN_HASH:  # argon2id at production cost: once per session
        _ADMIN_HASH.append(auth.hash_password(ADMIN_PASSWORD))
    settings = Settings(
        database_url=db_url,
        jwt_secret="test-jwt-secret-0123456789abcdef",
        rate_limit_requests=1_000_000,
        rate_limit_login=1_000_000,
        jobs_enabled=False,
    )
    eng = make_engine(db_url)
    upgrade(eng)
    with unit_of_work(sessionmaker(eng)) as session:
        session.add(
            UserRow(email=ADMIN_EMAIL, name="Admin", role="admin", password_hash=_ADMIN_HASH[0])
        )
        session.flush()
        key = auth.create_api_key(session, SYSTEM, ApiKeyCreate(name="cli-tests"), ADMIN_EMAIL).key
    eng.dispose()
    app = create_app(settings)
    monkeypatch.setattr(
        remote,
        "CLIENT_FACTORY",
        lambda base, headers: TestClient(app, base_url=base, headers=headers),
    )
    monkeypatch.setenv("SIGMA_SERVER", "http://testserver")
    monkeypatch.setenv("SIGMA_API_KEY", key)
    with TestClient(app):  # runs the app's lifespan around the test
        yield app
