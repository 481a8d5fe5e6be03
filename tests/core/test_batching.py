"""Batcher: concurrent calls share one load, each caller gets its own value or the error."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

import pytest

from core.batching import Batcher

caller_state: contextvars.ContextVar[str] = contextvars.ContextVar("caller_state", default="")


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.seen_state: list[str] = []

    async def load(self, keys: Sequence[int]) -> list[str]:
        self.batches.append(list(keys))
        self.seen_state.append(caller_state.get())
        await self.release.wait()
        if 13 in keys:
            raise ValueError("unlucky batch")
        return [f"value-{k}" for k in keys]


async def test_calls_in_one_loop_turn_share_one_load_in_order() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.load, name="t")
    values = await asyncio.gather(*(batcher(k) for k in (3, 1, 3, 2)))
    assert values == ["value-3", "value-1", "value-3", "value-2"]
    assert recorder.batches == [[3, 1, 3, 2]]
    assert await batcher(9) == "value-9"  # a lone call is not held back
    assert recorder.batches[-1] == [9]


async def test_a_failed_load_fails_its_own_callers_only() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.load, name="t")
    results = await asyncio.gather(batcher(13), batcher(14), return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
    assert await batcher(15) == "value-15"


async def test_calls_gather_while_the_in_flight_limit_is_reached() -> None:
    recorder = Recorder()
    recorder.release.clear()
    batcher = Batcher(recorder.load, name="t", max_in_flight=1)
    first = asyncio.create_task(batcher(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.create_task(batcher(k)) for k in (2, 3, 4)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert recorder.batches == [[1]]  # 2, 3 and 4 wait for the batch in flight
    recorder.release.set()
    assert await first == "value-1"
    assert await asyncio.gather(*later) == ["value-2", "value-3", "value-4"]
    assert recorder.batches == [[1], [2, 3, 4]]


async def test_the_next_batch_is_loading_before_the_callers_of_the_last_one_resume() -> None:
    """Pipelining: while a batch's callers use their values (a page render), the database is
    already working on the calls that gathered meanwhile."""
    events: list[str] = []

    async def load(keys: Sequence[int]) -> list[int]:
        events.append(f"load {list(keys)}")
        await asyncio.sleep(0.01)
        return list(keys)

    batcher = Batcher(load, name="t", max_in_flight=1)

    async def call(key: int) -> None:
        await batcher(key)
        events.append(f"resumed {key}")

    first = asyncio.create_task(call(1))
    await asyncio.sleep(0.001)  # the first batch is out; these gather behind it
    later = [asyncio.create_task(call(k)) for k in (2, 3)]
    await asyncio.gather(first, *later)
    assert events == ["load [1]", "load [2, 3]", "resumed 1", "resumed 2", "resumed 3"]


async def test_batches_are_split_at_max_batch() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.load, name="t", max_batch=2, max_in_flight=4)
    assert await asyncio.gather(*(batcher(k) for k in range(5))) == [
        f"value-{k}" for k in range(5)]
    assert recorder.batches == [[0, 1], [2, 3], [4]]


async def test_a_cancelled_caller_leaves_the_others_their_values() -> None:
    recorder = Recorder()
    recorder.release.clear()
    batcher = Batcher(recorder.load, name="t")
    leaving = asyncio.create_task(batcher(1))
    staying = asyncio.create_task(batcher(2))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    leaving.cancel()
    recorder.release.set()
    assert await staying == "value-2"
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_the_load_does_not_see_a_callers_context() -> None:
    """A caller's transaction or pinned connection lives in context variables: a batch
    shared with other requests must not run inside it."""
    recorder = Recorder()
    batcher = Batcher(recorder.load, name="t")

    async def inside_a_transaction() -> str:
        caller_state.set("caller's transaction")
        return await batcher(1)

    assert await asyncio.create_task(inside_a_transaction()) == "value-1"
    assert recorder.seen_state == [""]


async def test_a_load_hands_out_quick_answers_before_the_slow_ones() -> None:
    """Keys answered from a quick source resume their callers while the rest still load; what
    the load returns for them later is not used, and a later failure does not reach them."""
    slow_part = asyncio.Event()

    async def load(keys: Sequence[int]) -> list[str]:
        for index, key in enumerate(keys):
            if key % 2 == 0:
                batcher.hand_out(index, f"quick-{key}")
        await slow_part.wait()
        if 13 in keys:
            raise ValueError("the slow part failed")
        return [f"slow-{k}" for k in keys]

    batcher: Batcher[int, str] = Batcher(load, name="t")
    calls = {k: asyncio.create_task(batcher(k)) for k in (2, 3, 4, 13)}
    await asyncio.wait(calls.values(), timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0)
    assert {k for k, task in calls.items() if task.done()} == {2, 4}
    assert calls[2].result() == "quick-2" and calls[4].result() == "quick-4"
    slow_part.set()
    results = await asyncio.gather(*calls.values(), return_exceptions=True)
    assert results[0] == "quick-2" and results[2] == "quick-4"
    assert isinstance(results[1], ValueError) and isinstance(results[3], ValueError)
