"""Scheduler jobs that one worker runs for all: each works through the time since its mark
("done until"), and the mark lives in `push_scheduler_marks`, so with any number of workers
each interval is worked through once.

Every worker running the scheduler checks a job often (`REMATCH_SWEEP_CHECK_S`); one
conditional UPDATE on the job's row decides who runs (`repository.claim_mark`):
- due: the mark is at least `every` old, so the work of one interval is done once, by
  whichever worker checks first;
- held: the run in progress holds a lease, extended while it runs; a crashed holder's lease
  expires and the next check takes over, and a run that hangs while its process lives is
  abandoned after `max_run` (its lease would otherwise be extended for ever);
- done: the mark moves to the instant the run started; a failed run leaves the mark where it
  was (the next run redoes all of it) and frees the job one interval later.

Why the database and not a Redis lock: the other scheduler jobs coordinate there too
(`publish_due` claims each notice with a conditional UPDATE, reminders insert with ON CONFLICT
DO NOTHING), the mark must survive a Redis flush, and a lease row behaves the same on SQLite.
No session-level advisory lock: pool connections are not reset on release (ADR 0010).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core import clock
from push import repository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SharedJob:
    name: str
    every: dt.timedelta  # how old the mark must be before the next run
    lease: dt.timedelta  # how long a silent holder keeps the job
    first_lookback: dt.timedelta  # where the very first run starts, before now
    max_run: dt.timedelta  # a run still going after this is cancelled, released as failed


@dataclass(frozen=True, slots=True)
class Run:
    since: dt.datetime  # the mark this run started from
    until: dt.datetime  # the mark it left
    result: int


async def run_shared(job: SharedJob, work: Callable[[dt.datetime], Awaitable[int]], *,
                     holder: str) -> Run | None:
    """Run `work(mark)` if this job is due and no one else runs it; None otherwise. An error
    in `work`, or its running past `job.max_run` (TimeoutError), propagates after the job is
    released with its mark unchanged."""
    now = clock.now()
    token = f"{holder[:80]}/{secrets.token_hex(6)}"  # this run, not the worker: a stale holder
    since = await repository.claim_mark(job.name, token=token, now=now,
                                        due_before=now - job.every,
                                        lease_until=now + job.lease,
                                        first_since=now - job.first_lookback)
    if since is None:
        return None
    stop = asyncio.Event()
    heartbeat = asyncio.create_task(_hold(job, token, stop))
    limit = asyncio.timeout(job.max_run.total_seconds())
    try:
        try:
            async with limit:
                result = await work(since)
        finally:
            stop.set()  # ended by the event, never cancelled mid-query
            await heartbeat
    except Exception:
        if limit.expired():
            log.error("push.sweeps.run_abandoned", extra={
                "job": job.name, "holder": holder, "max_run_s": job.max_run.total_seconds()})
        try:
            await repository.release_mark(job.name, token=token, now=clock.now(),
                                          retry_at=clock.now() + job.every)
        except Exception:  # the lease expires by itself
            log.exception("push.sweeps.release_failed", extra={"job": job.name})
        raise
    if not await repository.complete_mark(job.name, token=token, until=now, by=holder,
                                          now=clock.now()):
        # The lease ran out and another worker took over: harmless for idempotent work.
        log.warning("push.sweeps.lease_lost", extra={"job": job.name, "holder": holder})
    return Run(since, now, result)


async def _hold(job: SharedJob, token: str, stop: asyncio.Event) -> None:
    interval = job.lease.total_seconds() / 3
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
            return
        except TimeoutError:
            pass
        try:
            if not await repository.extend_mark(job.name, token=token,
                                                lease_until=clock.now() + job.lease):
                return
        except Exception:
            log.exception("push.sweeps.extend_failed", extra={"job": job.name})


# ----------------------------------------------------------------------- re-match sweep

# Enterprises written since the mark are matched again (repairing a profile-change listener
# that failed or never ran); the overlap covers transactions that committed late and clocks
# that differ between workers. The very first run looks back an hour.
# A sweep is a few set-based statements: one still running after 15 minutes (three leases)
# is stuck, not slow.
REMATCH_SWEEP = SharedJob("rematch_sweep", every=dt.timedelta(seconds=60),
                          lease=dt.timedelta(minutes=5), first_lookback=dt.timedelta(hours=1),
                          max_run=dt.timedelta(minutes=15))
REMATCH_SWEEP_CHECK_S = 10.0
REMATCH_SWEEP_OVERLAP = dt.timedelta(minutes=2)


async def rematch_sweep(*, holder: str) -> Run | None:
    """One worker's check of the re-match repair sweep; returns the run if it did the work.
    `result` is the number of recipients and matches added."""
    from notices.page_sections import rematch_changed_since

    async def work(since: dt.datetime) -> int:
        return await rematch_changed_since(since - REMATCH_SWEEP_OVERLAP)

    run = await run_shared(REMATCH_SWEEP, work, holder=holder)
    if run is None:
        return None
    log.debug("push.worker.rematch_swept", extra={
        "worker": holder, "since": run.since.isoformat(), "until": run.until.isoformat()})
    if run.result:
        log.warning("push.worker.rematch_repaired", extra={"added": run.result,
                                                           "worker": holder})
    return run
