"""Run once across every process: the lease of a job (expiry notices, offline detection,
renewals...) in a row of its own, taken and given back by single-row UPDATEs, each in a short
transaction of its own.

Why not an advisory lock: PostgreSQL's session-level advisory locks belong to a server
connection, and behind PgBouncer in transaction mode (the production setup of CloudNativePG's
pooler) a client's session is spread over server connections: the lock leaks to whoever gets
that connection next, or is released by someone else. A row works through any pooler, on
SQLite as on PostgreSQL, across replicas, workers and cron.

- A lease ends by itself at `lease_until`: a process that dies holding one blocks the job at
  most `ttl` seconds.
- With `min_interval`, a job that finished less than that long ago is not taken again: the
  schedulers of several replicas wake at different moments, and the job still runs once per
  interval, not once per replica.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Insert, or_, update
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col

from sigma.db.models.jobs import JobLease
from sigma.db.types import utcnow

# who this process is, in the rows it holds
HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _ensure_row(session: Session, name: str) -> None:
    if session.get(JobLease, name) is None:
        dialect = session.get_bind().dialect.name
        stmt: Insert
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(JobLease).values(name=name).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(JobLease).values(name=name).on_conflict_do_nothing()
        session.execute(stmt)


def acquire(
    sessions: sessionmaker[Session],
    name: str,
    *,
    ttl: float,
    min_interval: float = 0.0,
    now: datetime | None = None,
) -> bool:
    """Take the lease of job `name` for `ttl` seconds; False when another process holds it,
    or the job finished less than `min_interval` seconds ago."""
    now = now or utcnow()
    with sessions() as session, session.begin():
        _ensure_row(session, name)
        conditions: list[ColumnElement[bool]] = [
            col(JobLease.name) == name,
            or_(col(JobLease.lease_until).is_(None), col(JobLease.lease_until) < now),
        ]
        if min_interval > 0:
            cutoff = now - timedelta(seconds=min_interval)
            conditions.append(
                or_(
                    col(JobLease.last_finished).is_(None),
                    col(JobLease.last_finished) <= cutoff,
                )
            )
        # a Core UPDATE returns a CursorResult, which Session.execute's type does not promise
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(JobLease)
                .where(*conditions)
                .values(holder=HOLDER, lease_until=now + timedelta(seconds=ttl), last_started=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
    return bool(taken)


def release(sessions: sessionmaker[Session], name: str, *, finished: bool = True) -> None:
    """Give the lease back; `finished` records the run as done (for min_interval)."""
    values: dict[str, object] = {"holder": None, "lease_until": None}
    if finished:
        values["last_finished"] = utcnow()
    with sessions() as session, session.begin():
        session.execute(
            update(JobLease)
            .where(col(JobLease.name) == name, col(JobLease.holder) == HOLDER)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


@contextmanager
def lease(
    sessions: sessionmaker[Session], name: str, *, ttl: float, min_interval: float = 0.0
) -> Iterator[bool]:
    """`with lease(...) as held:` run the job when `held`; the lease is given back after,
    as finished when the block completed."""
    held = acquire(sessions, name, ttl=ttl, min_interval=min_interval)
    ok = False
    try:
        yield held
        ok = True
    finally:
        if held:
            release(sessions, name, finished=ok)
