"""The database itself, for `sigma db` and `sigma serve`: its schema revision, the
migrations, and a new server's first admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from sigma.db import engine as db
from sigma.schemas.identity import User
from sigma.settings import Settings

T = TypeVar("T")


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the configured database for one task; an unreachable database is
    Unavailable (exit 5, HTTP 503) with the URL, password hidden."""
    eng = db.make_engine(settings.effective_database_url, pooler=settings.database_pooler)
    try:
        yield eng
    except OperationalError as exc:
        raise db.unavailable(eng, exc) from None
    finally:
        eng.dispose()


def _on_engine(settings: Settings, fn: Callable[[Engine], T]) -> T:
    with _engine(settings) as eng:
        return fn(eng)


def current_revision(settings: Settings) -> str | None:
    """The schema revision of the database (None: empty)."""
    return _on_engine(settings, db.current_revision)


def upgrade(settings: Settings) -> tuple[str | None, str | None]:
    """Apply the migrations shipped with this sigma: (revision before, revision after)."""

    def go(eng: Engine) -> tuple[str | None, str | None]:
        before = db.current_revision(eng)
        db.upgrade(eng)
        return before, db.current_revision(eng)

    return _on_engine(settings, go)


def prepare_server(settings: Settings) -> tuple[User, str | None] | None:
    """What `sigma serve` does before it listens: migrate the schema, and on a server without
    users create the first admin. Returns (the admin, its one-time password or None) when
    it created one."""
    from sigma.services.users import bootstrap_admin

    def go(eng: Engine) -> tuple[User, str | None] | None:
        db.upgrade(eng)
        with db.unit_of_work(db.session_factory(eng)) as session:
            return bootstrap_admin(session, settings.admin_email, settings.admin_password)

    return _on_engine(settings, go)
