"""Registers the expiry-notification job with the scheduler of `sigma serve`."""

from __future__ import annotations

from sigma.server.jobs import JOBS, Job, register
from sigma.services import notify

if not any(j.name == notify.JOB_NAME for j in JOBS):
    register(Job(name=notify.JOB_NAME, interval=lambda s: s.notify_interval, run=notify.job))
