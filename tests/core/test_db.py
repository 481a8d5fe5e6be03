"""`pinned_connection`: one pooled connection for a block of reads, without a transaction."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from core.db import close_db, conn, init_db, is_postgres, pinned_connection
from core.settings import Settings


async def _backend_pid() -> int:
    return int((await conn().execute_query_dict("SELECT pg_backend_pid() AS pid"))[0]["pid"])


async def _in_a_transaction() -> bool:
    # Outside a transaction each statement is its own, with its own transaction id.
    sql = "SELECT txid_current() AS xid"
    first, second = [(await conn().execute_query_dict(sql))[0]["xid"] for _ in range(2)]
    return bool(first == second)


async def test_a_pinned_block_uses_one_connection_and_no_transaction(db: None) -> None:
    if not is_postgres():
        pytest.skip("SQLite has one connection; pinning is a no-op there")
    async with pinned_connection():
        first = await _backend_pid()
        assert [await _backend_pid() for _ in range(5)] == [first] * 5
        assert not await _in_a_transaction()
    # The connection went back to the pool: queries after the block work as before.
    assert await _backend_pid() > 0


async def test_inside_a_transaction_pinning_keeps_the_transaction(db: None) -> None:
    if not is_postgres():
        pytest.skip("SQLite has one connection; pinning is a no-op there")
    async with in_transaction():
        outer = await _backend_pid()
        async with pinned_connection():
            assert await _backend_pid() == outer
            assert await _in_a_transaction()


async def test_pinning_on_the_embedded_database_still_runs_queries(db: None) -> None:
    async with pinned_connection():
        rows = await conn().execute_query_dict("SELECT 1 AS one")
    assert rows == [{"one": 1}]


async def test_many_first_uses_at_once_share_one_lazily_created_pool(
        db: None, settings: Settings) -> None:
    """A server's first requests arrive together: the pool must be created once, and every
    connection go back to the pool it came from."""
    await close_db()
    await init_db(settings)

    async def read() -> int:
        async with pinned_connection():
            rows = await conn().execute_query_dict("SELECT 1 AS one")
            await asyncio.sleep(0.01)
            return int(rows[0]["one"])

    assert await asyncio.gather(*(read() for _ in range(20))) == [1] * 20
    if is_postgres():  # one pool (at most 20 connections), not one pool per first request
        rows = await conn().execute_query_dict(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'")
        assert int(rows[0]["n"]) <= 20
