"""For tests that drive real Redis connections: skip when no server answers, and see where a
task is suspended (to act at an exact moment of its I/O)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis


async def reachable_or_skip(client: aioredis.Redis) -> aioredis.Redis:
    """The client, once its server answered a PING; the test is skipped (client closed) if
    none does."""
    try:
        await client.ping()
    except (aioredis.ConnectionError, OSError):
        await client.aclose()
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


def suspended_in(task: asyncio.Task[Any], name: str) -> bool:
    """Whether `task` is suspended somewhere inside a coroutine function called `name`."""
    awaited: Any = task.get_coro()
    while awaited is not None:
        if getattr(getattr(awaited, "cr_code", None), "co_name", None) == name:
            return True
        awaited = getattr(awaited, "cr_await", None)
    return False


async def until_suspended_in(task: asyncio.Task[Any], name: str, *,
                             turns: int = 10_000) -> None:
    """Let the loop turn until `task` is suspended inside `name` (or `turns` pass)."""
    for _ in range(turns):
        await asyncio.sleep(0)
        if suspended_in(task, name):
            return
