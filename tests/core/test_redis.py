"""core.redis: commands packed in C are byte for byte what redis-py would send."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError

from core.redis import PackedInC, make_redis
from core.settings import Settings

COMMANDS: list[tuple[Any, ...]] = [
    ("MGET", *(f"page:9144011{i:07d}X" for i in range(130)), "pv:g"),
    ("EVALSHA", "a" * 40, 2, "page:1", "page:2", b"1|2|2026-11-22|\"e\"|{}", b"\xff\x00", 3600,
     86400),
    ("SET", "role:7:914401153NBJ0JM21C", "staff", "EX", 600),
    ("PUBLISH", "entpage:page-cache", "e:914401153NBJ0JM21C 企业名称"),
    ("GET", ""),
]


def _packed(connection: aioredis.Connection, args: tuple[Any, ...]) -> bytes:
    return b"".join(connection.pack_command(*args))


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: str(a[0]))
def test_commands_are_packed_as_redis_py_packs_them(args: tuple[Any, ...]) -> None:
    assert _packed(PackedInC(), args) == _packed(aioredis.Connection(), args)


@pytest.mark.parametrize("args", [("SET", "k", 1.1), ("CONFIG GET", "maxmemory"),
                                  ("SET", "k", memoryview(b"v"))], ids=str)
def test_what_redis_py_spells_its_own_way_keeps_its_packing(args: tuple[Any, ...]) -> None:
    assert _packed(PackedInC(), args) == _packed(aioredis.Connection(), args)


def test_a_bool_is_refused_as_redis_py_refuses_it() -> None:
    with pytest.raises(DataError):
        PackedInC().pack_command("SET", "k", True)


@pytest.mark.skipif(not os.environ.get("ENTPAGE_TEST_REDIS_URL"),
                    reason="needs a real Redis (set ENTPAGE_TEST_REDIS_URL)")
async def test_a_real_redis_answers_commands_packed_in_c(settings: Settings) -> None:
    client = make_redis(settings)
    try:
        assert client.connection_pool.connection_class is PackedInC
        await client.set("entpage:test:packed", "企业专属网页".encode(), ex=60)
        values = await client.mget(["entpage:test:packed", "entpage:test:absent"])
        assert values == ["企业专属网页".encode(), None]
        assert await client.eval("return #KEYS + #ARGV", 1, "k", "a", 2) == 3
    finally:
        await client.delete("entpage:test:packed")
        await client.aclose()
