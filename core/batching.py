"""Coalescing concurrent calls into one batch per event-loop turn (the DataLoader pattern).

Under load, many requests reach the same network call within one turn of the loop: the cold
page's Redis lookup, its database render, its Redis store. Each round trip costs a fixed
client-side price (redis-py ≈ 80 µs, asyncpg + Tortoise ≈ 50 µs, plus the server's
per-statement cost), so 20 requests sharing one MGET or one statement pay that price once. At
low load a batch holds one call and nothing is delayed: the batch runs at the end of the turn in
which its first call arrived. While `max_in_flight` batches are out, new calls wait and leave
together when one returns. One in flight (the default) measured better than two: steadier,
larger batches, a lower tail (BENCHMARKS.md, session 4). See docs/adr/0012-batching-cold-pages.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """`await batcher(key)` → the value `load` returned for that key, loaded together with
    every other key asked for in the same loop turn (at most `max_batch` per call to `load`).

    `load` gets the keys in arrival order (duplicates included) and returns one value per key
    in the same order; if it raises, every caller in that batch gets the exception. It runs in
    a fresh context: a caller's transaction or pinned connection (context variables) must not
    leak into a batch shared with other requests.
    """

    def __init__(self, load: Callable[[Sequence[K]], Awaitable[Sequence[V]]], *, name: str,
                 max_batch: int = 64, max_in_flight: int = 1) -> None:
        self._load = load
        self.name = name
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._flush_scheduled = False
        self._running: set[asyncio.Task[None]] = set()  # strong references until done
        # The callers' futures of the batch a load runs for (each batch has its own context).
        self._futures: contextvars.ContextVar[list[asyncio.Future[V]]] = \
            contextvars.ContextVar(f"batch:{name}")

    async def __call__(self, key: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        self._schedule()
        return await future

    def hand_out(self, index: int, value: V) -> None:
        """Inside `load` only: the caller of `keys[index]` gets `value` now, before the rest of
        the batch is loaded (whatever `load` returns for that key later is not used). For a
        load whose keys split into quick answers and slow ones: the quick ones need not wait."""
        future = self._futures.get()[index]
        if not future.done():
            future.set_result(value)

    def _schedule(self) -> None:
        """Flush at the end of this loop turn, unless `max_in_flight` batches are running:
        then keys gather until one ends (group commit), so batches grow with the load
        instead of the number of round trips."""
        if self._flush_scheduled or not self._pending:
            return
        if len(self._running) >= self.max_in_flight:
            return  # _done schedules the next flush
        self._flush_scheduled = True
        asyncio.get_running_loop().call_soon(self._flush, context=contextvars.Context())

    def _flush(self) -> None:
        self._flush_scheduled = False
        while self._pending and len(self._running) < self.max_in_flight:
            batch, self._pending = (self._pending[:self.max_batch],
                                    self._pending[self.max_batch:])
            task = asyncio.get_running_loop().create_task(
                self._run(batch), name=f"batch:{self.name}", context=contextvars.Context())
            self._running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)  # already gone unless the batch was cancelled
        self._schedule()

    def _next(self) -> None:
        """This batch's load is over: the next batch leaves now, before this one's callers
        resume, so the loaded resource (the database, Redis, the signature helper) works on
        it while they use their values in this loop turn."""
        task = asyncio.current_task()
        if task is not None:
            self._running.discard(task)  # type: ignore[arg-type]
        self._flush()

    async def _run(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        self._futures.set([future for _, future in batch])
        try:
            values = await self._load([key for key, _ in batch])
            if len(values) != len(batch):
                raise RuntimeError(f"batch {self.name}: {len(values)} values for "
                                   f"{len(batch)} keys")
        except asyncio.CancelledError:  # shutting down: so are its callers
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every waiting caller gets it
            self._next()
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._next()
        for (_, future), value in zip(batch, values, strict=True):
            if not future.done():  # a caller that was cancelled no longer waits
                future.set_result(value)
