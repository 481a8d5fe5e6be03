"""Rendered pages, validated by version stamps, in two layers.

Layer 2 (Redis, shared): an entry remembers the per-enterprise and global version stamps it was
rendered from. Writers bump a stamp after their transaction commits, so the next read re-renders:
never a stale page after an update, and publishing to 199,000 enterprises costs one SET, not
199,000 DELs. Stamps are unique values, not counters, so a stamp evicted and recreated can never
match an old entry. The caller's membership check rides in the same MGET.

Layer 1 (this process): recently served pages and membership answers, dropped by invalidation
messages on the Redis channel `entpage:page-invalidation` that every writer publishes with its
stamp bump (and applies to its own process at once). Layer 1 is trusted only while this process's
subscription is live: on any disconnect it is emptied and not used until resubscribed, because
pub/sub may lose messages while disconnected. A render that races an invalidation is not stored
(sequence check), so layer 1 can be behind another process's write only for the pub/sub delivery
time (sub-millisecond on one host), never indefinitely. See docs/adr/0003.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from core.batching import Batcher
from core.redis import close_pubsub, end_if_cancel_lost

log = logging.getLogger(__name__)

GLOBAL_STAMP = "pv:*"
CHANNEL = "entpage:page-invalidation"
_NO_ROLE = b"-"
ROLE_TTL_S = 300
SetEntry = tuple[str, bytes, int]  # key, value, seconds to live
# SET key value EX ttl for every key: values first, then the ttls, in KEYS order.
_SET_MANY_LUA = """
local n = #KEYS
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[i], 'EX', ARGV[n + i])
end
return n
"""


def _member(person_id: int, uscc: str) -> str:
    """A membership answer's key, `person:uscc`: in layer 1, in Redis (after `role:`) and in
    invalidation messages (after `r:`)."""
    return f"{person_id}:{uscc}"


def _lookup_keys(uscc: str, person_id: int | None) -> list[str]:
    """What a lookup reads in one MGET: the page, the stamps it must match, and the asker's
    membership answer when there is an asker."""
    keys = [f"page:{uscc}", f"pv:{uscc}", GLOBAL_STAMP]
    if person_id is not None:
        keys.append(f"role:{_member(person_id, uscc)}")
    return keys


def _stamp() -> bytes:
    return str(time.time_ns()).encode()


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


ETAG_LENGTH = 26  # '"' + 24 hex digits + '"'
_DAY_LENGTH = 10  # YYYY-MM-DD
_PAGE_START = _DAY_LENGTH + ETAG_LENGTH


@dataclass(frozen=True, slots=True)
class CachedPage:
    etag: str
    body: bytes


@dataclass(frozen=True, slots=True)
class ToKeep:
    uscc: str
    lookup: Lookup
    day: str
    body: bytes
    role: tuple[int, str | None] | None = None  # person id and role learned on the way


@dataclass(frozen=True, slots=True)
class Lookup:
    page: CachedPage | None
    enterprise_stamp: bytes
    global_stamp: bytes
    role: str | None  # the caller's membership role if known; None when cached as "no role"
    role_known: bool
    sequence: int = 0  # layer-1 invalidation sequence when the lookup started


class LocalLayer:
    """Per-process pages and roles; every method is synchronous (no awaits, no races).

    Entries are strings and bytes only, which the collector never tracks: a `CachedPage` (and
    a tuple) per entry filled its young passes, 20–37 ms each, stalling every request in
    flight. A page is kept as one bytes value: the day (10 bytes), the ETag (ETAG_LENGTH bytes),
    then the body."""

    def __init__(self, *, max_pages: int, max_roles: int) -> None:
        self.max_pages = max_pages
        self.max_roles = max_roles
        self.pages: OrderedDict[str, bytes] = OrderedDict()  # day + etag + body
        self.roles: OrderedDict[str, str | None] = OrderedDict()  # "person:uscc" → role
        self.live = False  # subscription confirmed and not lost since
        self.sequence = 0
        self.invalidated_at: dict[str, int] = {}
        self.global_invalidated_at = 0

    def clear(self) -> None:
        self.pages.clear()
        self.roles.clear()

    def page(self, uscc: str, day: str) -> CachedPage | None:
        if not self.live:
            return None
        found = self.pages.get(uscc)
        if found is None or found[:_DAY_LENGTH] != day.encode():
            return None
        self.pages.move_to_end(uscc)
        return CachedPage(found[_DAY_LENGTH:_PAGE_START].decode(), found[_PAGE_START:])

    def store_page(self, uscc: str, day: str, page: CachedPage, *, started_at: int) -> None:
        if not self.live or self.global_invalidated_at > started_at \
                or self.invalidated_at.get(uscc, 0) > started_at:
            return  # an invalidation arrived while this page was rendering
        self.pages[uscc] = (day + page.etag).encode() + page.body
        if len(self.pages) > self.max_pages:
            self.pages.popitem(last=False)

    def role(self, person_id: int, uscc: str) -> tuple[bool, str | None]:
        key = _member(person_id, uscc)
        if not self.live or key not in self.roles:
            return False, None
        return True, self.roles[key]

    def store_role(self, person_id: int, uscc: str, role: str | None, *, started_at: int) -> None:
        key = _member(person_id, uscc)
        if not self.live or self.invalidated_at.get(f"r:{key}", 0) > started_at:
            return
        self.roles[key] = role
        if len(self.roles) > self.max_roles:
            self.roles.popitem(last=False)

    def apply(self, message: str) -> None:
        self.sequence += 1
        kind, _, rest = message.partition(":")
        if kind == "g":
            self.global_invalidated_at = self.sequence
            self.pages.clear()
        elif kind == "e":
            self.invalidated_at[rest] = self.sequence
            self.pages.pop(rest, None)
        elif kind == "r":
            self.invalidated_at[f"r:{rest}"] = self.sequence
            self.roles.pop(rest, None)
        if len(self.invalidated_at) > 200_000:
            # Forget old marks; anything started before the cut-off is treated as raced.
            self.global_invalidated_at = self.sequence
            self.invalidated_at.clear()


class PageCache:
    def __init__(self, redis: aioredis.Redis, *, ttl_s: int, local_pages: int = 20_000,
                 local_roles: int = 100_000) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.local = LocalLayer(max_pages=local_pages, max_roles=local_roles)
        self._listener: asyncio.Task[None] | None = None
        # Concurrent cold pages share their Redis round trips (core.batching): all lookups of a
        # loop turn in one MGET, all stores in one write (`_set_many`).
        self._mget: Batcher[list[str], list[bytes | None]] = Batcher(
            self._mget_many, name="page_cache.lookup")
        self._set: Batcher[SetEntry, None] = Batcher(self._set_many, name="page_cache.store")
        self._writes: set[asyncio.Task[list[None]]] = set()  # keep_many's, until done
        # The embedded store (fakeredis without a Lua runtime) takes the pipeline instead.
        self._set_script = (None if type(redis).__module__.startswith("fakeredis")
                            else redis.register_script(_SET_MANY_LUA))

    async def _mget_many(self, key_lists: Sequence[list[str]]) -> list[list[bytes | None]]:
        # decode_responses is off on our clients: values are bytes or None.
        flat: list[bytes | None] = await self.redis.mget(  # type: ignore[assignment]
            [key for keys in key_lists for key in keys])
        result, start = [], 0
        for keys in key_lists:
            result.append(flat[start:start + len(keys)])
            start += len(keys)
        return result

    async def _set_many(self, entries: Sequence[SetEntry]) -> list[None]:
        if self._set_script is not None:
            # One command for the batch: redis-py parses every reply of a pipeline in Python
            # (≈ 25 µs a SET against ≈ 7 µs inside one script call for 32 pages; BENCHMARKS.md).
            await self._set_script(keys=[key for key, _, _ in entries],
                                   args=[*(value for _, value, _ in entries),
                                         *(ttl_s for _, _, ttl_s in entries)])
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, value, ttl_s in entries:
                    pipe.set(key, value, ex=ttl_s)
                await pipe.execute()
        return [None] * len(entries)

    # -- reads -------------------------------------------------------------------------------

    def local_lookup(self, uscc: str, *, day: str, person_id: int | None) -> Lookup | None:
        """A complete answer from this process alone, or None (then ask Redis)."""
        page = self.local.page(uscc, day)
        if page is None:
            return None
        if person_id is None:
            return Lookup(page, b"", b"", None, False, self.local.sequence)
        known, role = self.local.role(person_id, uscc)
        if not known:
            return None
        return Lookup(page, b"", b"", role, True, self.local.sequence)

    async def lookup(self, uscc: str, *, day: str, person_id: int | None) -> Lookup:
        """Layer 2 for one page; the lookups of a loop turn share one MGET."""
        started_at = self.local.sequence
        values = await self._mget(_lookup_keys(uscc, person_id))
        return self._found(uscc, day, person_id, values, started_at)

    async def lookup_many(self, asked: Sequence[tuple[str, str, int | None]]) -> list[Lookup]:
        """Layer 2 for a batch of (uscc, day, person id) in one MGET, for a caller that is a
        batch itself (first views: their lookup and render are one batch step)."""
        started_at = self.local.sequence
        values = await self._mget_many([_lookup_keys(uscc, person_id)
                                         for uscc, _, person_id in asked])
        return [self._found(uscc, day, person_id, found, started_at)
                for (uscc, day, person_id), found in zip(asked, values, strict=True)]

    def _found(self, uscc: str, day: str, person_id: int | None,
               values: Sequence[bytes | None], started_at: int) -> Lookup:
        """A lookup's answer from its MGET values (in `_lookup_keys` order); what it found is
        kept in layer 1 too."""
        entry, ent_stamp, glob_stamp = values[0], values[1] or b"0", values[2] or b"0"
        role_raw = values[3] if person_id is not None else None
        page = None
        if entry is not None:
            e_stamp, g_stamp, e_day, etag, body = entry.split(b"|", 4)
            if e_stamp == ent_stamp and g_stamp == glob_stamp and e_day.decode() == day:
                page = CachedPage(etag.decode(), body)
                self.local.store_page(uscc, day, page, started_at=started_at)
        role = None if role_raw is None or role_raw == _NO_ROLE else role_raw.decode()
        if person_id is not None and role_raw is not None:
            self.local.store_role(person_id, uscc, role, started_at=started_at)
        return Lookup(page, ent_stamp, glob_stamp, role, role_raw is not None, started_at)

    # -- writes after a render or a membership check -----------------------------------------

    async def store(self, uscc: str, *, lookup: Lookup, day: str, body: bytes,
                    role: tuple[int, str | None] | None = None) -> CachedPage:
        """Keep a rendered page, and in this process the membership answer learned on the way
        (`role`: person id and role). That answer is not written to Redis: it came free with
        the render, and another process that needs it asks the database once (a SET per cold
        page cost more than those rare queries)."""
        page, entry = self._keep_locally(ToKeep(uscc, lookup, day, body, role))
        await self._set(entry)
        return page

    def keep_many(self, pages: Sequence[ToKeep]) -> list[CachedPage]:
        """Keep a batch of rendered pages: in this process at once, and in Redis by one write
        that nobody waits for (`written` awaits it). Until it lands, another process renders
        the page itself; a write that fails is logged and costs the same."""
        kept, entries = [], []
        for item in pages:
            page, entry = self._keep_locally(item)
            kept.append(page)
            entries.append(entry)
        if entries:
            write = asyncio.get_running_loop().create_task(
                self._set_many(entries), name="page_cache.write_behind")
            self._writes.add(write)
            write.add_done_callback(self._written)
        return kept

    def _written(self, write: asyncio.Task[list[None]]) -> None:
        self._writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            log.warning("profiles.page_cache.write_failed", exc_info=write.exception())

    async def written(self) -> None:
        """Wait for the writes `keep_many` started (tests, shutdown)."""
        if self._writes:
            await asyncio.wait(set(self._writes), timeout=self.WRITES_STOP_S)

    def _keep_locally(self, item: ToKeep) -> tuple[CachedPage, SetEntry]:
        etag = etag_for(item.body)
        lookup = item.lookup
        header = b"|".join([lookup.enterprise_stamp, lookup.global_stamp, item.day.encode(),
                            etag.encode()])
        page = CachedPage(etag, item.body)
        self.local.store_page(item.uscc, item.day, page, started_at=lookup.sequence)
        if item.role is not None:
            self.local.store_role(item.role[0], item.uscc, item.role[1],
                                  started_at=lookup.sequence)
        return page, (f"page:{item.uscc}", header + b"|" + item.body, self.ttl_s)

    async def remember_role(self, person_id: int, uscc: str, role: str | None, *,
                            started_at: int) -> None:
        await self._set((*self._role_entry(person_id, uscc, role), ROLE_TTL_S))
        self.local.store_role(person_id, uscc, role, started_at=started_at)

    @staticmethod
    def _role_entry(person_id: int, uscc: str, role: str | None) -> tuple[str, bytes]:
        return f"role:{_member(person_id, uscc)}", role.encode() if role else _NO_ROLE

    # -- invalidation --------------------------------------------------------------------------

    async def _announce(self, messages: list[str], stamps: dict[str, bytes]) -> None:
        for message in messages:
            self.local.apply(message)  # this process sees its own write at once
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, stamp in stamps.items():
                # No expiry: a stamp that vanished while an entry lived could match it again.
                pipe.set(key, stamp)
            for message in messages:
                pipe.publish(CHANNEL, message)
            await pipe.execute()

    async def forget_role(self, person_id: int, uscc: str) -> None:
        await self.redis.delete(f"role:{_member(person_id, uscc)}")
        await self._announce([f"r:{_member(person_id, uscc)}"], {})

    async def invalidate(self, *usccs: str) -> None:
        if not usccs:
            return
        stamp = _stamp()
        await self._announce([f"e:{u}" for u in usccs], {f"pv:{u}": stamp for u in usccs})

    async def invalidate_all(self) -> None:
        await self._announce(["g:"], {GLOBAL_STAMP: _stamp()})

    # -- the subscription that keeps layer 1 honest -------------------------------------------

    # The listener ends on its stop event as well as on cancellation: redis-py sends through
    # asyncio.wait_for, which on Python 3.11 drops a cancel that lands just as a send completes
    # (cpython gh-86296), and a stop that awaited such a listener hung CI for good.
    LISTENER_STOP_S = 5.0  # how long stop_listener waits before it logs and moves on
    WRITES_STOP_S = 5.0  # how long `written` waits for the writes behind first views
    PING_IDLE_S = 5.0  # ping after this long without a message …
    DEAD_AFTER_S = 15.0  # … and give the connection up after this long without any answer
    _listener_stop: asyncio.Event | None = None

    async def start_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener_stop = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self._listener_stop),
                                                 name="page-cache-listener")
            for _ in range(50):  # wait briefly so the first requests can use layer 1
                if self.local.live:
                    break
                await asyncio.sleep(0.02)

    async def stop_listener(self) -> None:
        task, stop = self._listener, self._listener_stop
        self._listener = self._listener_stop = None
        self.local.live = False  # at once: nothing may be served from layer 1 from here on
        if stop is not None:
            stop.set()
        if task is not None:
            task.cancel()
            # Bounded, and the caller's own cancellation is not swallowed: a listener stuck in
            # Redis I/O is logged and left to end at its next stop check, never awaited forever.
            done, _ = await asyncio.wait({task}, timeout=self.LISTENER_STOP_S)
            if not done:
                log.error("profiles.page_cache.listener.stop_timeout",
                          extra={"waited_s": self.LISTENER_STOP_S})
            elif not task.cancelled() and task.exception() is not None:
                log.error("profiles.page_cache.listener.failed", exc_info=task.exception())
        self.local.live = False
        self.local.clear()

    async def _listen(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.1
        while not stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                end_if_cancel_lost()
                await pubsub.subscribe(CHANNEL)
                # Live only once Redis confirms the subscription: a message published before
                # that would not reach us. A server that does not confirm is given up.
                confirm_by = loop.time() + self.DEAD_AFTER_S
                while True:
                    if stop.is_set():
                        return  # stopped while subscribing: never go live again
                    end_if_cancel_lost()
                    reply = await pubsub.get_message(timeout=1.0)
                    if reply is not None and reply["type"] == "subscribe":
                        break
                    if loop.time() > confirm_by:
                        raise ConnectionError("SUBSCRIBE was not confirmed")
                # Anything cached before this subscription may have missed messages.
                self.local.clear()
                self.local.live = True
                backoff = 0.1
                log.info("profiles.page_cache.subscribed")
                heard = pinged = loop.time()
                while not stop.is_set():
                    end_if_cancel_lost()
                    # A short timeout, so the stop checks above run at least once a second.
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    now = loop.time()
                    if message is not None:
                        heard = now  # anything counts as alive, our pongs included
                        if message["type"] == "message":
                            data = message["data"]
                            self.local.apply(data.decode() if isinstance(data, bytes)
                                             else str(data))
                    elif now - heard > self.DEAD_AFTER_S:
                        # A half-open connection never errors; messages may be lost on it.
                        raise ConnectionError(f"no answer to PING for {self.DEAD_AFTER_S:.0f} s")
                    elif now - heard >= self.PING_IDLE_S and now - pinged >= self.PING_IDLE_S:
                        await pubsub.ping()  # its pong is read (and counted) as a message
                        pinged = now
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("profiles.page_cache.subscription_lost", exc_info=True)
            finally:
                self.local.live = False
                self.local.clear()
                await close_pubsub(pubsub, event="profiles.page_cache.listener.close_failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await stop.wait()
            backoff = min(backoff * 2, 5.0)


_cache: PageCache | None = None


def init_page_cache(redis: aioredis.Redis, *, ttl_s: int) -> PageCache:
    global _cache
    _cache = PageCache(redis, ttl_s=ttl_s)
    return _cache


def get_page_cache() -> PageCache:
    if _cache is None:
        raise RuntimeError("page cache not initialised")
    return _cache
