"""Bulk loading: COPY on PostgreSQL, executemany on SQLite. For seeding and imports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.db import conn, is_postgres, sqlite_value


async def copy_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    client = conn()
    if is_postgres():
        async with client.acquire_connection() as connection:
            await connection.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    placeholders = ", ".join("?" for _ in columns)
    await client.execute_many(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        [[sqlite_value(v) for v in row] for row in rows],
    )


async def reset_sequence(table: str) -> None:
    """After COPY with explicit ids, move the id sequence past them (PostgreSQL only)."""
    if is_postgres():
        await conn().execute_query(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )
