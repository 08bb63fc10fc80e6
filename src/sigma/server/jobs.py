"""Background jobs inside `sigma serve` (expiry notices, offline detection, check purge...).

Several replicas or workers may run: each run of a job takes a cluster-wide lock first
(a PostgreSQL advisory lock, or an flock beside the SQLite file), so a job runs once per
cluster per interval. State lives in the database, never in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from sigma.settings import Settings

log = logging.getLogger("sigma.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval: Callable[[Settings], float]  # seconds between runs, from the settings
    run: Callable[[sessionmaker[Session], Settings], object]


# issues register their jobs here (append at import of their service module)
JOBS: list[Job] = []


def register(job: Job) -> Job:
    JOBS.append(job)
    return job


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"sigma-job:{name}".encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def cluster_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Yields True when this process holds the job's lock (and releases it after)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(name)}).scalar()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(name)})
                    conn.commit()
        return
    import fcntl

    db_path = engine.url.database or ":memory:"
    lock_path = Path(f"{db_path}.{name}.lock") if db_path != ":memory:" else None
    if lock_path is None:
        yield True
        return
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_once(job: Job, sessions: sessionmaker[Session], settings: Settings) -> bool:
    """Run `job` if no other process is running it; True when it ran."""
    engine = sessions.kw["bind"]
    with cluster_lock(engine, job.name) as held:
        if not held:
            return False
        job.run(sessions, settings)
        return True


async def scheduler(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Runs every registered job forever at its interval; one job's failure never stops others."""
    async def loop(job: Job) -> None:
        while True:
            try:
                await asyncio.to_thread(run_once, job, sessions, settings)
            except Exception:  # noqa: BLE001 - logged, retried next interval
                log.exception("job %s failed", job.name)
            await asyncio.sleep(max(1.0, job.interval(settings)))

    if not JOBS:
        return
    await asyncio.gather(*(loop(job) for job in JOBS))


# ---- agents (issue 5): an active VPS whose agent falls silent is recorded once
def _agent_offline(sessions: sessionmaker[Session], settings: Settings) -> None:
    from sigma.services.agents import offline_job

    offline_job(sessions, settings)


register(Job("agent-offline", lambda s: max(5.0, min(60.0, s.offline_threshold / 3)), _agent_offline))
