"""Rendered pages in Redis, validated by version stamps in one round trip.

An entry remembers the per-enterprise and global version stamps it was rendered from. Writers
bump a stamp after their transaction commits, so the next read re-renders: never a stale page
after an update, and publishing to 199,000 enterprises costs one SET, not 199,000 DELs. Stamps
are unique values, not counters, so a stamp evicted and recreated can never match an old entry.
The membership check of the caller rides in the same MGET.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

GLOBAL_STAMP = "pv:*"
_NO_ROLE = b"-"
ROLE_TTL_S = 300


def _stamp() -> bytes:
    return str(time.time_ns()).encode()


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True, slots=True)
class CachedPage:
    etag: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Lookup:
    page: CachedPage | None
    enterprise_stamp: bytes
    global_stamp: bytes
    role: str | None  # the caller's membership role if cached; "" when cached as none
    role_known: bool


class PageCache:
    def __init__(self, redis: aioredis.Redis, *, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def lookup(self, uscc: str, *, day: str, person_id: int | None) -> Lookup:
        keys = [f"page:{uscc}", f"pv:{uscc}", GLOBAL_STAMP]
        if person_id is not None:
            keys.append(f"role:{person_id}:{uscc}")
        # decode_responses is off on our clients: values are bytes or None.
        values: list[bytes | None] = await self.redis.mget(keys)  # type: ignore[assignment]
        entry, ent_stamp, glob_stamp = values[0], values[1] or b"0", values[2] or b"0"
        role_raw = values[3] if person_id is not None else None
        page = None
        if entry is not None:
            e_stamp, g_stamp, e_day, etag, body = entry.split(b"|", 4)
            if e_stamp == ent_stamp and g_stamp == glob_stamp and e_day.decode() == day:
                page = CachedPage(etag.decode(), body)
        role = None if role_raw is None or role_raw == _NO_ROLE else role_raw.decode()
        return Lookup(page, ent_stamp, glob_stamp, role, role_raw is not None)

    async def store(self, uscc: str, *, lookup: Lookup, day: str, body: bytes) -> CachedPage:
        etag = etag_for(body)
        header = b"|".join([lookup.enterprise_stamp, lookup.global_stamp, day.encode(),
                            etag.encode()])
        await self.redis.set(f"page:{uscc}", header + b"|" + body, ex=self.ttl_s)
        return CachedPage(etag, body)

    async def remember_role(self, person_id: int, uscc: str, role: str | None) -> None:
        await self.redis.set(f"role:{person_id}:{uscc}", role.encode() if role else _NO_ROLE,
                             ex=ROLE_TTL_S)

    async def forget_role(self, person_id: int, uscc: str) -> None:
        await self.redis.delete(f"role:{person_id}:{uscc}")

    async def invalidate(self, *usccs: str) -> None:
        if not usccs:
            return
        stamp = _stamp()
        async with self.redis.pipeline(transaction=False) as pipe:
            for uscc in usccs:
                # No expiry: a stamp that vanished while an entry lived could match it again.
                pipe.set(f"pv:{uscc}", stamp)
            await pipe.execute()

    async def invalidate_all(self) -> None:
        await self.redis.set(GLOBAL_STAMP, _stamp())


_cache: PageCache | None = None


def init_page_cache(redis: aioredis.Redis, *, ttl_s: int) -> PageCache:
    global _cache
    _cache = PageCache(redis, ttl_s=ttl_s)
    return _cache


def get_page_cache() -> PageCache:
    if _cache is None:
        raise RuntimeError("page cache not initialised")
    return _cache
