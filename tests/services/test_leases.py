"""Job leases (sigma.db.leases) on both databases: one holder at a time, a crashed holder's
lease ends by itself, a job that just finished is not taken again within its interval, and of
many processes racing for a lease exactly one gets it."""

from __future__ import annotations

import threading
from datetime import timedelta

from sigma.db.leases import acquire, lease, release
from sigma.db.types import utcnow


def test_one_holder_then_released_then_interval(sessions):
    assert acquire(sessions, "job-a", ttl=60)
    assert not acquire(sessions, "job-a", ttl=60)  # held (by this process: a second run waits too)
    assert acquire(sessions, "job-b", ttl=60)  # another job, another lease
    release(sessions, "job-a")
    assert acquire(sessions, "job-a", ttl=60, min_interval=0)
    release(sessions, "job-a")
    assert not acquire(sessions, "job-a", ttl=60, min_interval=300)  # finished a moment ago
    later = utcnow() + timedelta(seconds=301)
    assert acquire(sessions, "job-a", ttl=60, min_interval=300, now=later)


def test_a_crashed_holders_lease_ends(sessions):
    assert acquire(sessions, "job-c", ttl=30)
    assert not acquire(sessions, "job-c", ttl=30, now=utcnow() + timedelta(seconds=29))
    assert acquire(sessions, "job-c", ttl=30, now=utcnow() + timedelta(seconds=31))


def test_a_failed_run_is_not_recorded_as_finished(sessions):
    try:
        with lease(sessions, "job-d", ttl=60, min_interval=300) as held:
            assert held
            raise RuntimeError("the job failed")
    except RuntimeError:
        pass
    with lease(sessions, "job-d", ttl=60, min_interval=300) as held:
        assert held  # not finished: retried at once


def test_racing_for_a_lease_one_wins(sessions):
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def race() -> None:
        barrier.wait()
        wins.append(acquire(sessions, "job-race", ttl=60))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
