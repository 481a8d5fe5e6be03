"""The two cache layers: a process sees its own writes at once, another process's writes within
the pub/sub delivery time, and never trusts its local layer without a live subscription."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from profiles.page_cache import PageCache

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
