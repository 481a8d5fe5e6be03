"""Events for other processes, published to Redis only after the transaction that caused them
commits (a transactional outbox).

Publishing hooks run inside the publisher's transaction, so they cannot talk to Redis directly:
a subscriber would hear of a notice that is not visible yet, or of one that was rolled back.
They write `push_outbox` rows instead; a relay (every worker tick, and a short burst right after
a publish in the publishing process) moves committed rows to Redis pub/sub and deletes them. If
Redis is down the rows wait; nothing is lost and nothing is announced early.

Redis contract (channel → JSON message):
- `entpage:events` → `{"type": "notice.published", "notice_id": 12, "matched_via":
  "publish" | "rematch", "batch": "<match_batch>", "recipients": 199000, "deliveries": 612345}`
  (the live stream fans this out; `batch` selects exactly the new `notice_recipients` rows),
  and `{"type": "policy.matched", "policy_id": …, "matched_via": …, "batch": …, …}`.
- `entpage:push:wake` → `{"source": "notice", "id": 12}`: new deliveries, workers claim now
  instead of at their next poll. Only a hint: workers poll PostgreSQL anyway.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis
from tortoise.transactions import in_transaction

from core import clock
from core.redis import get_redis
from push import repository

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "entpage:events"
WAKE_CHANNEL = "entpage:push:wake"
_KICK_DELAYS_S = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
_kicks: set[asyncio.Task[None]] = set()


async def enqueue(topic: str, payload: Mapping[str, Any]) -> None:
    """Write an event in the caller's transaction; it is published after the commit."""
    await repository.enqueue_event(topic, payload, clock.now())


async def relay(redis: aioredis.Redis | None = None, *, limit: int = 200) -> int:
    """Publish committed outbox events, oldest first; returns how many. Several relays may run
    at once (SKIP LOCKED on PostgreSQL): each event is published by one of them."""
    client = redis or get_redis()
    async with in_transaction():
        events = await repository.take_events(limit)
        for _, topic, payload in events:
            await client.publish(topic, orjson.dumps(payload))
        await repository.delete_events(event_id for event_id, _, _ in events)
    if events:
        log.debug("push.events.relayed", extra={"events": len(events)})
    return len(events)


def kick() -> None:
    """After a publish in this process: relay within milliseconds of the commit instead of at
    the next worker tick. Best effort; the worker's relay is the guarantee."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    # A fresh context: a copy would carry the publisher's still-open transaction connection
    # into the task (Tortoise keeps it in a ContextVar); a fresh one sees the pool.
    task = loop.create_task(_kick(), context=contextvars.Context())
    _kicks.add(task)
    task.add_done_callback(_kicks.discard)


async def _kick() -> None:
    for delay in _KICK_DELAYS_S:
        await asyncio.sleep(delay)
        try:
            if await relay():
                return
        except Exception as error:  # the worker relay retries; never fail the caller
            log.debug("push.events.kick_failed", extra={"error": repr(error)})
            return
