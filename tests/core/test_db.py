"""`fetch_records`: the page's one statement as asyncpg Records, on the pool or on the caller's
transaction."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.transactions import in_transaction

from core.db import close_db, conn, fetch_records, init_db, is_postgres
from core.settings import Settings


@pytest.fixture(autouse=True)
def _postgres_only(db: None) -> None:
    if not is_postgres():
        pytest.skip("fetch_records is for PostgreSQL; SQLite pages use per-enterprise queries")


async def test_records_come_back_in_order_with_their_parameters(db: None) -> None:
    rows = await fetch_records(
        "SELECT q.v, q.n FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS q(v, n, o) "
        "ORDER BY q.o", [["b", "a"], [2, 1]])
    assert [tuple(row) for row in rows] == [("b", 2), ("a", 1)]


async def test_inside_a_transaction_it_reads_what_the_transaction_wrote(db: None) -> None:
    async with in_transaction():
        await conn().execute_query("CREATE TEMP TABLE scratch (n int) ON COMMIT DROP")
        await conn().execute_query("INSERT INTO scratch VALUES (7)")
        assert [tuple(r) for r in await fetch_records("SELECT n FROM scratch", [])] == [(7,)]


async def test_many_first_uses_at_once_share_one_lazily_created_pool(
        db: None, settings: Settings) -> None:
    """A server's first requests arrive together: the pool must be created once, and every
    connection go back to the pool it came from."""
    await close_db()
    await init_db(settings)

    async def read() -> int:
        rows = await fetch_records("SELECT 1 AS one, pg_sleep(0.01)", [])
        return int(rows[0]["one"])

    assert await asyncio.gather(*(read() for _ in range(20))) == [1] * 20
    rows = await conn().execute_query_dict(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend'")
    assert int(rows[0]["n"]) <= 20
