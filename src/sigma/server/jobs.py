"""The periodic jobs of `sigma serve`: one table of them (JOBS), and the scheduler that runs
each at its interval. Every run takes the job's lease first (sigma.db.leases), so however many
replicas and workers run, a job runs once per interval; state lives in the database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sigma.db.leases import lease
from sigma.settings import Settings

log = logging.getLogger("sigma.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval: Callable[[Settings], float]  # seconds between runs, from the settings
    run: Callable[[sessionmaker[Session], Settings], object]
    max_runtime: float = 600.0  # a lease held longer than this is given up (a crashed process)


def jobs() -> list[Job]:
    """Every periodic job, in the order they start."""
    from sigma.services import (
        agents,
        attention,
        billing,
        check_history,
        notices,
        notify,
        reach_alerts,
        sync,
        trash,
    )

    return [
        # an active VPS whose agent falls silent is recorded once, and once when it is back
        Job(
            "agent-offline",
            lambda s: max(5.0, min(60.0, s.offline_threshold / 3)),
            agents.offline_job,
        ),
        # a passed expiry of a VPS with auto_renew rolls forward, once per cycle
        Job(billing.JOB_NAME, lambda s: billing.JOB_INTERVAL, billing.job),
        # expiry notices, each (VPS, threshold, date, channel) at most once
        Job(notify.JOB_NAME, lambda s: float(s.notify_interval), notify.job),
        # attention items to the Apprise channels (notify_urls): each (channel, item,
        # fingerprint, event) once, failed sends retried with backoff, the daily digest
        Job(notices.JOB_NAME, lambda s: float(s.notify_interval), notices.job),
        # VPS in the trash for longer than trash_retention_days are deleted for good
        Job(trash.JOB_NAME, lambda s: 3600.0, trash.job),
        # latency and loss per carrier over the alert window: alerts fire and recover
        Job(reach_alerts.JOB_NAME, lambda s: reach_alerts.JOB_INTERVAL, reach_alerts.job),
        # raw IP checks, 5-minute and hourly sums older than their settings say are deleted
        Job(check_history.JOB_NAME, lambda s: 3600.0, check_history.job),
        # acknowledgements and snoozes of attention items that no longer hold are deleted
        Job(attention.JOB_NAME, lambda s: attention.JOB_INTERVAL, attention.job),
        # provider and DNS accounts whose next sync is due (each at its interval, put off
        # after failures; each account under a lease of its own as well)
        Job(sync.JOB_NAME, lambda s: sync.JOB_INTERVAL, sync.job, max_runtime=3600.0),
    ]


def run_once(job: Job, sessions: sessionmaker[Session], settings: Settings) -> bool:
    """Run `job` unless another process runs it or ran it less than an interval ago; True
    when it ran here."""
    interval = job.interval(settings)
    with lease(sessions, job.name, ttl=job.max_runtime, min_interval=interval * 0.9) as held:
        if not held:
            return False
        started = time.perf_counter()
        job.run(sessions, settings)
        log.info("job %s ran (%.0f ms)", job.name, (time.perf_counter() - started) * 1000)
        return True


async def scheduler(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Runs every job forever at its interval; one job's failure never stops the others."""

    async def loop(job: Job) -> None:
        while True:
            try:
                await asyncio.to_thread(run_once, job, sessions, settings)
            except Exception:  # noqa: BLE001 - logged, retried next interval
                log.exception("job %s failed", job.name)
            await asyncio.sleep(max(1.0, job.interval(settings)))

    await asyncio.gather(*(loop(job) for job in jobs()))
