"""Guards the schema: the Alembic chain must produce exactly what the Tortoise models expect.

A model change without a migration (or a migration that drifts from the models) fails here:
tables, columns, types, nullability, indexes, unique constraints and foreign keys are compared
between a database built by `alembic upgrade head` and one built by Tortoise's generate_schemas.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from tortoise.context import TortoiseContext

from core import migrate
from core.db import tortoise_config
from core.migration_types import sqlalchemy_url
from core.settings import Settings
from tests.conftest import TEST_DATABASE_URL, _create_pg_database, _drop_pg_database

_IGNORED_TABLES = {"alembic_version", "sqlite_sequence"}


def _type_name(column_type: Any, dialect: str) -> str:
    name = type(column_type).__name__.upper()
    length = getattr(column_type, "length", None)
    if name in {"INT", "INTEGER", "BOOLEAN"} and dialect == "sqlite":
        name = "INTEGER"  # Tortoise writes INT for booleans; both have integer affinity
    if name in {"DATETIME", "TIMESTAMP"}:
        name = "TIMESTAMP" + ("TZ" if getattr(column_type, "timezone", False) else "")
    if name in {"NUMERIC", "DECIMAL"}:
        return f"NUMERIC({column_type.precision},{column_type.scale})"
    return f"{name}({length})" if length else name


def _snapshot(connection: sa.Connection) -> dict[str, Any]:
    inspector = sa.inspect(connection)
    dialect = connection.dialect.name
    schema: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - _IGNORED_TABLES):
        columns = {
            c["name"]: (_type_name(c["type"], dialect), bool(c["nullable"]))
            for c in inspector.get_columns(table)
        }
        pk = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        indexes = set()
        for index in inspector.get_indexes(table):
            cols = tuple(index["column_names"])
            if index.get("unique"):
                uniques.add(cols)
            else:
                indexes.add(cols)
        fks = {
            (tuple(fk["constrained_columns"]), fk["referred_table"],
             tuple(fk["referred_columns"]), (fk.get("options") or {}).get("ondelete", "").upper())
            for fk in inspector.get_foreign_keys(table)
        }
        if dialect == "sqlite":
            # SQLite's reflection drops the primary key from NOT NULL for rowid aliases, and
            # misses inline UNIQUE and ON DELETE clauses: ask SQLite itself.
            columns = {n: (t, False if n in pk else null) for n, (t, null) in columns.items()}
            uniques, fks = _sqlite_uniques_and_fks(connection, table)
        schema[table] = {"columns": columns, "pk": pk, "uniques": uniques, "indexes": indexes,
                         "fks": fks}
    return schema


def _sqlite_uniques_and_fks(
    connection: sa.Connection, table: str
) -> tuple[set[tuple[str, ...]], set[tuple[Any, ...]]]:
    uniques = set()
    for index in connection.exec_driver_sql(f'PRAGMA index_list("{table}")').mappings():
        if index["unique"] and index["origin"] != "pk":
            cols = connection.exec_driver_sql(f'PRAGMA index_info("{index["name"]}")').mappings()
            uniques.add(tuple(c["name"] for c in sorted(cols, key=lambda c: c["seqno"])))
    fks = {
        ((fk["from"],), fk["table"], (fk["to"],), fk["on_delete"].upper().replace("NO ACTION", ""))
        for fk in connection.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")').mappings()
    }
    return uniques, fks


async def _inspect(database_url: str) -> dict[str, Any]:
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_snapshot)
    finally:
        await engine.dispose()


async def _tortoise_schema(database_url: str, settings: Settings) -> None:
    config = tortoise_config(settings)
    if database_url.startswith("sqlite"):
        config["connections"] = {"default": database_url}
    else:  # the configured server, another database on it
        config["connections"]["default"]["credentials"]["database"] = \
            database_url.rsplit("/", 1)[1]
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        await ctx.generate_schemas(safe=False)


@pytest.fixture
async def two_databases(settings: Settings, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    if TEST_DATABASE_URL:
        names = [f"entpage_schema_{kind}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
                 for kind in ("alembic", "tortoise")]
        urls = [await _create_pg_database(TEST_DATABASE_URL, n) for n in names]
        yield urls[0], urls[1]
        for name in names:
            await _drop_pg_database(TEST_DATABASE_URL, name)
    else:
        yield f"sqlite://{tmp_path / 'alembic.sqlite3'}", f"sqlite://{tmp_path / 'tortoise.sqlite3'}"


def _describe(diff: dict[str, Any]) -> str:
    return "\n".join(f"  {k}: {v}" for k, v in diff.items())


async def test_alembic_schema_matches_tortoise_models(
    two_databases: tuple[str, str], settings: Settings
) -> None:
    alembic_url, tortoise_url = two_databases
    await asyncio.to_thread(migrate.upgrade, alembic_url, quiet=True)
    await _tortoise_schema(tortoise_url, settings)
    migrated, modelled = await _inspect(alembic_url), await _inspect(tortoise_url)

    assert set(migrated) == set(modelled), (
        f"tables only in migrations: {set(migrated) - set(modelled)}; "
        f"only in models: {set(modelled) - set(migrated)}"
    )
    problems: dict[str, Any] = {}
    for table in migrated:
        for aspect in ("columns", "pk", "uniques", "indexes", "fks"):
            if migrated[table][aspect] != modelled[table][aspect]:
                problems[f"{table}.{aspect}"] = {
                    "migrations": migrated[table][aspect], "models": modelled[table][aspect]
                }
    assert not problems, "schema drift between Alembic and Tortoise:\n" + _describe(problems)


async def test_migrations_downgrade_to_base_and_upgrade_again(
    two_databases: tuple[str, str],
) -> None:
    url, _ = two_databases
    await asyncio.to_thread(migrate.upgrade, url, quiet=True)
    await asyncio.to_thread(migrate.downgrade, url, "base", quiet=True)
    assert set(await _inspect(url)) == set()
    await asyncio.to_thread(migrate.upgrade, url, quiet=True)
    assert "enterprises" in await _inspect(url)
