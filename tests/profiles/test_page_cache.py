"""The two cache layers: a process sees its own writes at once, another process's writes within
the pub/sub delivery time, and never trusts its local layer without a live subscription."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from profiles.page_cache import PageCache, ToKeep
from tests.redis_helpers import until_suspended_in

DAY = "2026-11-21"


async def _cached(cache: PageCache, uscc: str, body: bytes) -> None:
    lookup = await cache.lookup(uscc, day=DAY, person_id=None)
    await cache.store(uscc, lookup=lookup, day=DAY, body=body)


async def _eventually(check: object, within_s: float = 2.0) -> bool:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.005)
    return False


async def test_local_layer_serves_until_any_process_invalidates(
    redis_client: aioredis.Redis,
) -> None:
    a, b = PageCache(redis_client, ttl_s=60), PageCache(redis_client, ttl_s=60)
    await a.start_listener()
    await b.start_listener()
    try:
        await _cached(a, "U1", b"v1")
        await _cached(b, "U1", b"v1")
        assert a.local_lookup("U1", day=DAY, person_id=None).page.body == b"v1"  # type: ignore[union-attr]
        await a.invalidate("U1")
        # The writing process drops its copy before the call returns …
        assert a.local_lookup("U1", day=DAY, person_id=None) is None
        assert (await a.lookup("U1", day=DAY, person_id=None)).page is None
        # … and the other process within the delivery time.
        assert await _eventually(lambda: b.local_lookup("U1", day=DAY, person_id=None) is None)
        await _cached(a, "U2", b"x")
        await b.invalidate_all()
        assert await _eventually(lambda: a.local_lookup("U2", day=DAY, person_id=None) is None)
    finally:
        await a.stop_listener()
        await b.stop_listener()


async def test_no_local_layer_without_a_live_subscription(redis_client: aioredis.Redis) -> None:
    cache = PageCache(redis_client, ttl_s=60)
    await _cached(cache, "U1", b"v1")
    assert cache.local_lookup("U1", day=DAY, person_id=None) is None  # never subscribed
    assert (await cache.lookup("U1", day=DAY, person_id=None)).page is not None  # Redis layer
    await cache.start_listener()
    await _cached(cache, "U1", b"v1")
    assert cache.local_lookup("U1", day=DAY, person_id=None) is not None
    await cache.stop_listener()
    assert cache.local_lookup("U1", day=DAY, person_id=None) is None


async def test_a_render_that_raced_an_invalidation_is_not_kept_locally(
    redis_client: aioredis.Redis,
) -> None:
    cache = PageCache(redis_client, ttl_s=60)
    await cache.start_listener()
    try:
        lookup = await cache.lookup("U1", day=DAY, person_id=None)  # render starts …
        await cache.invalidate("U1")  # … a write lands meanwhile …
        await cache.store("U1", lookup=lookup, day=DAY, body=b"old")  # … render finishes
        assert cache.local_lookup("U1", day=DAY, person_id=None) is None
        assert (await cache.lookup("U1", day=DAY, person_id=None)).page is None  # stamps differ
    finally:
        await cache.stop_listener()


async def test_membership_answers_are_dropped_everywhere(redis_client: aioredis.Redis) -> None:
    a, b = PageCache(redis_client, ttl_s=60), PageCache(redis_client, ttl_s=60)
    await a.start_listener()
    await b.start_listener()
    try:
        await _cached(b, "U1", b"v1")
        await b.remember_role(7, "U1", "staff", started_at=b.local.sequence)
        assert b.local_lookup("U1", day=DAY, person_id=7).role == "staff"  # type: ignore[union-attr]
        await a.forget_role(7, "U1")
        assert await _eventually(lambda: b.local_lookup("U1", day=DAY, person_id=7) is None)
        assert not (await b.lookup("U1", day=DAY, person_id=7)).role_known
    finally:
        await a.stop_listener()
        await b.stop_listener()


# ------------------------------------------------------------- stopping, whatever Redis does


async def test_stop_ends_the_listener_even_when_its_cancel_is_lost(
    production_redis: aioredis.Redis,
) -> None:
    """redis-py sends every command through asyncio.wait_for, which on Python 3.11 drops a
    cancel that lands just as the send completes. A listener that ended on cancellation alone
    then ran on, and stop_listener awaited it forever (CI hung in the `client` fixture's
    teardown). Stop it exactly there, during its SUBSCRIBE, a few times."""
    for _ in range(3):
        cache = PageCache(production_redis, ttl_s=60)
        starting = asyncio.create_task(cache.start_listener())
        await asyncio.sleep(0)  # start_listener creates the listener task
        listener = cache._listener
        assert listener is not None
        await until_suspended_in(listener, "wait_for")  # its first send is in flight
        began = time.monotonic()
        try:
            # Called inline: asyncio.wait_for would start stop_listener a loop turn late and
            # miss the window. Bounded, so a regression fails here instead of hanging.
            async with asyncio.timeout(10):
                await cache.stop_listener()
            took = time.monotonic() - began
            assert listener.done(), "the listener outlived stop_listener"
            assert took < 3.0, f"stop_listener took {took:.1f} s"
            assert not cache.local.live
        finally:
            listener.cancel()  # a second cancel: never leave a listener running
            await starting


async def test_a_silent_connection_is_given_up_and_stop_stays_prompt(
    production_redis: aioredis.Redis,
) -> None:
    """A connection that stops answering (CLIENT PAUSE here; a half-open socket in life) never
    raises: the listener must notice by its own pings, drop layer 1, resubscribe when Redis
    answers again, and stop at once even while Redis is silent."""
    cache = PageCache(production_redis, ttl_s=60)
    cache.PING_IDLE_S, cache.DEAD_AFTER_S = 0.2, 1.0
    await cache.start_listener()
    try:
        assert cache.local.live
        await production_redis.execute_command("CLIENT", "PAUSE", "3000", "ALL")
        assert await _eventually(lambda: not cache.local.live, within_s=2.9)
        # Resubscribed, and live again only once Redis answers (confirms) again.
        assert await _eventually(lambda: cache.local.live, within_s=10.0)
        await production_redis.execute_command("CLIENT", "PAUSE", "3000", "ALL")
        await asyncio.sleep(0.3)  # the listener is now waiting on a silent server
        began = time.monotonic()
        await asyncio.wait_for(cache.stop_listener(), timeout=10)
        assert time.monotonic() - began < 3.0
        assert not cache.local.live
    finally:
        await production_redis.execute_command("CLIENT", "UNPAUSE")
        await cache.stop_listener()


async def test_concurrent_stores_each_keep_their_page_with_its_expiry(
    redis_client: aioredis.Redis,
) -> None:
    """Stores of one loop turn leave together (one script call on Redis, a pipeline on the
    embedded store): every page lands under its own key, with the cache's time to live."""
    writer, reader = PageCache(redis_client, ttl_s=90), PageCache(redis_client, ttl_s=90)
    bodies = {f"U{i}": f'{{"n":{i}}}'.encode() for i in range(40)}
    lookups = await asyncio.gather(*(writer.lookup(u, day=DAY, person_id=None) for u in bodies))
    await asyncio.gather(*(writer.store(u, lookup=lookup, day=DAY, body=body)
                           for (u, body), lookup in zip(bodies.items(), lookups, strict=True)))
    for uscc, body in bodies.items():
        found = await reader.lookup(uscc, day=DAY, person_id=None)
        assert found.page is not None and found.page.body == body
        assert 0 < await redis_client.ttl(f"page:{uscc}") <= 90


async def test_kept_pages_serve_here_at_once_and_reach_other_processes_behind(
    redis_client: aioredis.Redis,
) -> None:
    """First views are answered before their Redis write lands: this process serves them from
    its own layer at once, another process finds them in Redis once the write is done."""
    here, elsewhere = PageCache(redis_client, ttl_s=60), PageCache(redis_client, ttl_s=60)
    await here.start_listener()
    try:
        lookups = [await here.lookup(u, day=DAY, person_id=None) for u in ("K1", "K2")]
        kept = here.keep_many([ToKeep(u, lookup, DAY, body, (5, "staff"))
                               for u, lookup, body in zip(("K1", "K2"), lookups,
                                                          (b"one", b"two"), strict=True)])
        assert [page.body for page in kept] == [b"one", b"two"]
        local = here.local_lookup("K2", day=DAY, person_id=5)
        assert local is not None and local.page == kept[1] and local.role == "staff"
        await here.written()
        found = await elsewhere.lookup("K1", day=DAY, person_id=None)
        assert found.page == kept[0]
    finally:
        await here.stop_listener()
