"""The re-match repair sweep runs once per interval across all workers: a shared "done until"
mark and a lease in the database decide which worker sweeps; a failed sweep leaves the mark
for the next one, and a crashed holder blocks the sweep only until its lease runs out."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

import httpx
import pytest
from tortoise.transactions import in_transaction

from core import clock
from notices.models import PolicyMatch
from profiles import repository as profiles_repository
from profiles.schemas import parse_enterprise
from push import repository, sweeps
from push.worker import run_worker
from tests import factories as f
from tests.api.test_notices_policies import create_policy, publish_policy
from tests.notices.helpers import World, make_world
from tests.push.helpers import wait_for

START = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
NAME = sweeps.REMATCH_SWEEP.name


def at(**delta: float) -> dt.datetime:
    moment = START + dt.timedelta(**delta)
    clock.freeze(moment)
    return moment


async def becomes_high_tech_unnoticed(w: World, label: str) -> None:
    """A profile change that committed while its re-match listener never ran (the process
    died in between): the repository write alone, without the service's notification."""
    uscc = w.enterprises.get(label) or await w.enterprise(label, zone="nansha", tags=[])
    changed = parse_enterprise(uscc, f.enterprise_body(
        name=f"{label}有限公司", zone="nansha", industry_code="F5191", tags=["高新技术企业"]),
        allow_legacy=False)
    async with in_transaction():
        await profiles_repository.upsert_enterprises([changed], source_system="test")


async def repaired(policy_id: int) -> int:
    return await PolicyMatch.filter(policy_id=policy_id, matched_via="rematch").count()


async def world_with_policy(client: httpx.AsyncClient) -> tuple[World, int]:
    w = await make_world(client)
    at()
    policy = await publish_policy(w, (await create_policy(w))["id"])  # high-tech in Nansha
    return w, int(policy["id"])


async def test_one_sweep_per_interval_whichever_worker_checks(
        client: httpx.AsyncClient) -> None:
    w, policy = await world_with_policy(client)
    at(minutes=5)
    await becomes_high_tech_unnoticed(w, "南沙乙")

    # Several workers check in the same interval: exactly one sweeps.
    now = at(minutes=6)
    runs = await asyncio.gather(*(sweeps.rematch_sweep(holder=f"worker-{i}") for i in range(4)))
    done = [r for r in runs if r is not None]
    assert len(done) == 1 and done[0].result == 1
    assert done[0].since == now - sweeps.REMATCH_SWEEP.first_lookback  # the very first sweep
    assert await repaired(policy) == 1
    first = await repository.mark(NAME)
    assert first is not None and first.done_until == now and first.claimed_by is None
    sweeper = first.done_by

    # Later in the same interval nobody sweeps again, even with new work waiting.
    at(minutes=6, seconds=20)
    await becomes_high_tech_unnoticed(w, "南沙丁")
    at(minutes=6, seconds=59)
    assert await sweeps.rematch_sweep(holder="worker-late") is None
    assert await repaired(policy) == 1

    # The next interval is swept again, by whoever checks, from where the last sweep ended.
    later = at(minutes=7)
    run = await sweeps.rematch_sweep(holder="worker-late")
    assert run is not None and run.since == now and run.result == 1
    assert await repaired(policy) == 2
    second = await repository.mark(NAME)
    assert second is not None and (second.done_until, second.done_by) == (later, "worker-late")
    assert sweeper != "worker-late"


async def test_a_failed_sweep_leaves_the_mark_and_the_next_one_redoes_it(
        client: httpx.AsyncClient) -> None:
    w, policy = await world_with_policy(client)
    swept = at(minutes=1)
    assert await sweeps.rematch_sweep(holder="worker-a") is not None
    at(minutes=1, seconds=30)
    await becomes_high_tech_unnoticed(w, "南沙乙")

    async def broken(since: dt.datetime) -> int:
        raise ConnectionResetError("the database connection dropped mid-sweep")

    at(minutes=2, seconds=1)
    with pytest.raises(ConnectionResetError):
        await sweeps.run_shared(sweeps.REMATCH_SWEEP, broken, holder="worker-a")
    mark = await repository.mark(NAME)
    assert mark is not None and (mark.done_until, mark.done_by) == (swept, "worker-a")
    assert mark.claimed_by is None and await repaired(policy) == 0
    # The failed interval is retried once an interval has passed, by any worker, in full.
    at(minutes=2, seconds=30)
    assert await sweeps.rematch_sweep(holder="worker-b") is None
    at(minutes=3, seconds=1)
    run = await sweeps.rematch_sweep(holder="worker-b")
    assert run is not None and run.since == swept and run.result == 1
    assert await repaired(policy) == 1


async def test_a_crashed_holder_blocks_the_sweep_only_until_its_lease_expires(
        client: httpx.AsyncClient) -> None:
    w, policy = await world_with_policy(client)
    swept = at(minutes=1)
    assert await sweeps.rematch_sweep(holder="worker-a") is not None
    at(minutes=1, seconds=30)
    await becomes_high_tech_unnoticed(w, "南沙乙")
    # worker-a takes the next interval and dies before finishing it (its lease stays).
    crashed = at(minutes=2, seconds=1)
    job = sweeps.REMATCH_SWEEP
    assert await repository.claim_mark(NAME, token="worker-a/dead", now=crashed,
                                       due_before=crashed - job.every,
                                       lease_until=crashed + job.lease,
                                       first_since=crashed) == swept
    at(minutes=4)
    assert await sweeps.rematch_sweep(holder="worker-b") is None
    at(minutes=2, seconds=1 + job.lease.total_seconds())
    run = await sweeps.rematch_sweep(holder="worker-b")
    assert run is not None and run.since == swept and run.result == 1
    assert await repaired(policy) == 1


async def test_two_running_workers_share_the_sweep(client: httpx.AsyncClient,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Two real workers with the scheduler on, started together: one sweep between them."""
    caplog.set_level(logging.DEBUG, logger="push.sweeps")
    w, policy = await world_with_policy(client)
    at(minutes=5)
    await becomes_high_tech_unnoticed(w, "南沙乙")
    at(minutes=6)
    stop = asyncio.Event()
    workers = [asyncio.create_task(run_worker(
        stop=stop, worker_id=f"sched-{i}", channels=[], poll_interval_s=0.05,
        scheduler_interval_s=0.05, reminder_interval_s=3600, relay_interval_s=0.05))
        for i in range(2)]

    async def swept() -> bool:
        mark = await repository.mark(NAME)
        return mark is not None and mark.done_by is not None

    try:
        await wait_for(swept, within_s=20, what="a worker's sweep")
    finally:
        stop.set()
        await asyncio.gather(*workers)  # each finishes its housekeeping round, sweep included
    sweeps_run = [r for r in caplog.records if r.getMessage() == "push.worker.rematch_swept"]
    assert [r.__dict__["worker"] for r in sweeps_run] in (["sched-0"], ["sched-1"])
    assert await repaired(policy) == 1


async def test_a_sweep_that_hangs_is_abandoned_and_the_next_one_redoes_it(
        client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    """A run whose process lives but whose work never ends (a stuck query) would extend its
    lease for ever; after `max_run` it is cancelled and released like a failed run."""
    w, policy = await world_with_policy(client)
    swept = at(minutes=1)
    assert await sweeps.rematch_sweep(holder="worker-a") is not None
    at(minutes=1, seconds=30)
    await becomes_high_tech_unnoticed(w, "南沙乙")
    cancelled = asyncio.Event()

    async def stuck(since: dt.datetime) -> int:
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    impatient = dataclasses.replace(sweeps.REMATCH_SWEEP, max_run=dt.timedelta(seconds=0.2))
    at(minutes=2, seconds=1)
    with caplog.at_level(logging.ERROR, logger="push.sweeps"), pytest.raises(TimeoutError):
        await sweeps.run_shared(impatient, stuck, holder="worker-a")
    assert cancelled.is_set()
    assert [r.message for r in caplog.records if r.name == "push.sweeps"] == [
        "push.sweeps.run_abandoned"]
    mark = await repository.mark(NAME)
    assert mark is not None and (mark.done_until, mark.claimed_by) == (swept, None)
    # As after a failure: due again an interval later, and that sweep does the work.
    at(minutes=3, seconds=1)
    run = await sweeps.rematch_sweep(holder="worker-b")
    assert run is not None and run.since == swept and run.result == 1
    assert await repaired(policy) == 1
