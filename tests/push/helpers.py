"""Builders for push tests: devices through the API, workers run until the work is done, and
counts read straight from the delivery record."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from core.db import conn, new_sql
from push.worker import WorkerStats, run_worker
from tests import factories as f

_tokens = iter(range(10**9))


def fcm_token(prefix: str = "tok") -> str:
    """A syntactically valid FCM registration token (the fake decides fates by prefix)."""
    return f"{prefix}-{next(_tokens):012d}-{'x' * 140}"


async def register(
    client: httpx.AsyncClient, person_token: str, token: str | None = None, **fields: Any
) -> httpx.Response:
    body = {
        "token": token or fcm_token(),
        "platform": "android",
        "app_version": "3.2.1",
        "locale": "zh-Hans",
        **fields,
    }
    return await client.post("/v1/me/devices", json=body, headers=f.bearer(person_token))


async def statuses(source: str = "notice", source_id: int | None = None) -> Counter[str]:
    sql = new_sql()
    where = f"WHERE source = {sql.p(source)}"
    if source_id is not None:
        where += f" AND source_id = {sql.p(source_id)}"
    rows = await conn().execute_query_dict(
        f"SELECT status, COUNT(*) AS n FROM deliveries {where} GROUP BY status", sql.params
    )
    return Counter({str(r["status"]): int(r["n"]) for r in rows})


async def deliveries(**filters: Any) -> list[dict[str, Any]]:
    sql = new_sql()
    where = " AND ".join(f"{k} = {sql.p(v)}" for k, v in filters.items()) or "TRUE"
    return await conn().execute_query_dict(f"SELECT * FROM deliveries WHERE {where} ORDER BY id", sql.params)


async def unfinished() -> int:
    rows = await conn().execute_query_dict(
        "SELECT COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'sending', 'failed')"
    )
    return int(rows[0]["n"])


async def wait_for(
    predicate: Callable[[], Awaitable[bool]],
    *,
    within_s: float,
    interval: float = 0.05,
    what: str = "condition",
) -> None:
    deadline = time.monotonic() + within_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s}s waiting for {what}")
        await asyncio.sleep(interval)


async def drain(
    *, within_s: float = 30.0, until: Callable[[], Awaitable[bool]] | None = None, **options: Any
) -> WorkerStats:
    """Run one worker until nothing is pending, sending or failed (or `until` holds)."""
    stop = asyncio.Event()
    options.setdefault("worker_id", "test-worker")
    options.setdefault("poll_interval_s", 0.05)
    options.setdefault("run_scheduler", False)
    options.setdefault("relay_interval_s", 0.05)
    task = asyncio.create_task(run_worker(stop=stop, **options))

    async def done() -> bool:
        if task.done():
            task.result()  # surface a crashed worker
        return await (until() if until is not None else _idle())

    try:
        await wait_for(done, within_s=within_s, what="the worker to finish")
    finally:
        stop.set()
        stats = await task
    return stats


async def _idle() -> bool:
    return await unfinished() == 0


async def bulk_staff(uscc: str, *, people: int, tag: str,
                     devices_per_person: int = 1) -> list[str]:
    """`people` staff of one enterprise with FCM devices, bulk-loaded with the project's loader
    (COPY on PostgreSQL) because building 100,000 accounts through the API would take hours of
    password hashing. Returns the device tokens."""
    from core import clock
    from core.bulk import copy_rows
    from core.passwords import hash_password
    from profiles.repository import enterprise_id_by_uscc

    enterprise_id = await enterprise_id_by_uscc(uscc)
    assert enterprise_id is not None
    now = clock.now()
    password_hash = await hash_password(f.PASSWORD)
    phones = [f"19{tag}{i:07d}" for i in range(people)]
    await copy_rows("people", ("phone", "name", "password_hash", "locale", "active",
                               "created_at"),
                    [(phone, f"员工{i}", password_hash, "zh-Hans", True, now)
                     for i, phone in enumerate(phones)])
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT id FROM people WHERE phone >= {sql.p(phones[0])} "
        f"AND phone <= {sql.p(phones[-1])} ORDER BY phone", sql.params)
    person_ids = [int(r["id"]) for r in rows]
    assert len(person_ids) == people
    await copy_rows("memberships", ("person_id", "enterprise_id", "role", "created_at"),
                    [(pid, enterprise_id, "staff", now) for pid in person_ids])
    tokens = [fcm_token(f"bulk{tag}") for _ in range(people * devices_per_person)]
    await copy_rows("devices", (
        "person_id", "channel", "token", "platform", "locale", "active", "last_seen_at",
        "created_at", "updated_at"), [
        (person_ids[i // devices_per_person], "fcm", token, "android", "zh-Hans", True, now,
         now, now) for i, token in enumerate(tokens)])
    return tokens
