"""Engine creation, schema upgrade and the unit of work (session scope)."""

from __future__ import annotations

import logging
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from sigma.db.migrations import HEAD_REVISION
from sigma.errors import SigmaError, Unavailable
from sigma.settings import redact_url
from sigma.vocab import DEFAULT_OFFLINE_AFTER

log = logging.getLogger(__name__)


def make_engine(url: str, *, pool_size: int = 5, pooler: bool = False) -> Engine:
    """An engine on `url` (SQLite or PostgreSQL). `pooler`: the URL leads to a transaction-mode
    pooler, where consecutive transactions of one client run on different server connections:
    a statement prepared on one is unknown to the next, a session setting lands on a stranger."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_sqlite_file(Path(path.split("?", 1)[0]).expanduser())
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=10,
            connect_args=pg_connect_args(pooler),
        )
        # instead of pool_pre_ping: a `SELECT 1` round trip before every unit of work was a
        # fifth of a filtered VPS list (bench/README.md)
        event.listen(engine.pool, "checkout", _pg_checkout)
        event.listen(engine.pool, "checkin", _pg_checkin)
        if not pooler:
            event.listen(engine, "connect", _pg_session_settings)
            event.listen(engine, "handle_error", _pooler_hint)
    return engine


def _pooler_hint(context: ExceptionContext) -> None:
    """The errors of prepared statements run through a transaction-mode pooler: say what
    to set, once per error, next to the error the server logs anyway."""
    name = type(context.original_exception).__name__
    if name in ("InvalidSqlStatementName", "DuplicatePreparedStatement"):
        log.error(
            "a prepared statement went missing between connections: when database_url leads to "
            "PgBouncer or another pooler in transaction mode, set database_pooler "
            "(SIGMA_DATABASE_POOLER=true)"
        )


def pg_connect_args(pooler: bool) -> dict[str, object]:
    """psycopg's connection arguments. Behind a pooler psycopg never prepares a statement on
    the server (it otherwise does after 5 runs of one), so every plan is a custom plan and
    the plan_cache_mode setting is moot."""
    args: dict[str, object] = {"connect_timeout": 5}
    if pooler:
        args["prepare_threshold"] = None
    return args


def _private_sqlite_file(path: Path) -> None:
    """The embedded database holds password hashes and TOTP secrets: its file (and the WAL
    and shared-memory files SQLite creates with the same mode) is 0600, and a directory sigma
    creates for it is 0700. An existing file readable by others is tightened when it is ours."""
    import os

    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    else:
        from sigma.config_file import data_dir

        try:  # sigma's own data dir (not a directory the user chose, such as /tmp)
            st = path.parent.stat()
            if (
                path.parent.resolve() == data_dir().resolve()
                and st.st_mode & 0o077
                and st.st_uid == os.getuid()
            ):
                path.parent.chmod(0o700)
        except OSError:
            pass
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = p.stat()
            if st.st_mode & 0o077 and st.st_uid == os.getuid():
                p.chmod(0o600)
        except OSError:
            continue


def _pg_session_settings(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Plan every statement for its parameters. psycopg prepares a statement on the server
    after 5 runs, and PostgreSQL then switches to a generic plan when it looks no dearer:
    for the filtered VPS list (`status = $1 AND country = $2 AND tags @> $3`) the generic
    plan ANDs a GIN bitmap of every VPS with the tag (~23,000 of 100,000) instead of reading
    the ~900 rows of the status and country: 7 ms instead of 1.5 ms (bench/README.md)."""
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    try:
        dbapi_conn.execute("SET plan_cache_mode = force_custom_plan")
    except Exception:  # PostgreSQL < 12 has no such setting: keep its default
        log.debug("plan_cache_mode not set", exc_info=True)
    finally:
        dbapi_conn.autocommit = autocommit


# a pooled connection idle for longer than this is pinged with a real round trip on checkout
PING_AFTER_IDLE_S = 10.0


def _pg_checkin(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    record.info["sigma_idle_since"] = time.monotonic()


def _readable(fd: int) -> bool:
    """Data, EOF or an error waiting on `fd`, without blocking. poll() where there is one:
    select() refuses descriptors above 1023, which a busy server has."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def _pg_checkout(
    dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """The pool's pre-ping, mostly without a round trip. An idle pooled connection has
    nothing to read: when its socket is readable the server has closed it or is closing it
    (a PostgreSQL restart or shutdown sends "terminating connection" and closes every
    session), so it is discarded, and with it every connection pooled before it, like a
    failed pre-ping does. A connection idle for more than PING_AFTER_IDLE_S (a server or a
    network path that may have vanished without a word) still gets a real `SELECT 1`."""
    try:
        dead = dbapi_conn.closed or dbapi_conn.broken or _readable(dbapi_conn.fileno())
        if (
            not dead
            and time.monotonic() - record.info.get("sigma_idle_since", time.monotonic())
            > PING_AFTER_IDLE_S
        ):
            autocommit = dbapi_conn.autocommit
            dbapi_conn.autocommit = True  # no BEGIN for the ping, none left open after it
            try:
                dbapi_conn.execute("SELECT 1")
            finally:
                dbapi_conn.autocommit = autocommit
    except Exception:
        dead = True
    if dead:
        raise InvalidatePoolError("the pooled connection is closed")


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # read pages through a memory map instead of one pread() per page outside SQLite's small
    # page cache: reading the 10,000 rows of the exports out of a 100,000-row table took
    # ~1.5 us per row in syscalls alone (bench/README.md)
    cur.execute("PRAGMA mmap_size=268435456")
    cur.close()


def session_factory(
    engine: Engine,
    *,
    offline_after: int = DEFAULT_OFFLINE_AFTER,
    base_currency: str = "USD",
    **policy: Any,
) -> sessionmaker[Session]:
    """Sessions on `engine`. The settings the services decide by travel with every session
    (Settings.session_info): agent liveness (`offline_after`), the cost reports' default
    currency, the reachability thresholds and probe references."""
    return sessionmaker(
        engine,
        expire_on_commit=False,
        info={"offline_after": offline_after, "base_currency": base_currency, **policy},
    )


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            return None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations shipped in the package."""
    _migrate(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo the migrations after `revision` (a rollback of sigma to an older release)."""
    _migrate(engine, "downgrade", revision)


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # a migration that rebuilds a table (SQLite cannot alter a constraint) must not
            # cascade the drop of the old table into the rows that reference it: foreign
            # keys off for the migration (outside a transaction, else SQLite ignores it),
            # checked as a whole before the commit
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # several `sigma serve` replicas may start at once: one migrates, the
                    # others wait here (the lock goes with this transaction), then find
                    # nothing to do
                    conn.execute(text("SELECT pg_advisory_xact_lock(495622516065)"))
                cfg.attributes["connection"] = conn
                getattr(command, direction)(cfg, revision)
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise SigmaError(
                        "a migration left rows whose references are broken; nothing was changed"
                    )
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Cheap check (one SELECT) that the schema is current; upgrade or explain otherwise."""
    try:
        rev = current_revision(engine)
    except OperationalError as exc:
        raise unavailable(engine, exc) from None
    if rev == HEAD_REVISION:
        return
    if auto_upgrade:
        upgrade(engine)
        return
    raise SigmaError(
        f"database schema is at revision {rev or 'none'}, this sigma needs {HEAD_REVISION}: "
        "run `sigma db upgrade`"
    )


def unavailable(engine: Engine, exc: Exception) -> Unavailable:
    orig = getattr(exc, "orig", exc)
    reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    where = redact_url(engine.url.render_as_string(hide_password=True))
    return Unavailable(f"database {where} is unreachable: {reason}")


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back on any error.

    `read_only=True` is for blocks that only read, in one statement or where each statement
    may see its own snapshot (a listing whose count comes with its page): the connection runs
    in autocommit, so there is no BEGIN and no COMMIT round trip. A block that writes must
    not use it: each statement would commit on its own."""
    session = factory()
    try:
        if read_only:
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise unavailable(session.get_bind().engine, exc) from None
    except SigmaError as exc:
        session.rollback()
        if exc.audit is not None:
            _record_refusal(factory, exc.audit)
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _record_refusal(factory: sessionmaker[Session], row: dict) -> None:
    """The audit row a refused attempt carries, in a transaction of its own."""
    from sigma.db.models.audit import AuditLog

    try:
        with factory() as session, session.begin():
            session.add(AuditLog(**row))
    except Exception:  # noqa: BLE001 - the refusal itself is what the caller must get
        log.exception("could not record the audit row of a refused request")
