"""Tortoise ORM wiring: one config for the API, the worker, the CLI and the tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url

from core.settings import Settings

MODEL_MODULES = ["profiles.models", "notices.models", "push.models", "profiles.kiosk_models"]


def tortoise_db_url(database_url: str) -> str:
    """Accept the URL forms operators write (postgresql://, postgres://) and add pool sizes."""
    parts = urlsplit(database_url)
    scheme = parts.scheme
    if scheme in {"postgresql", "postgres", "postgresql+asyncpg"}:
        scheme = "asyncpg"
    if scheme == "asyncpg":
        query = dict(parse_qsl(parts.query))
        query.setdefault("minsize", "2")
        query.setdefault("maxsize", "20")
        return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
    return urlunsplit((scheme, parts.netloc, parts.path, parts.query, parts.fragment))


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """asyncpg sends a reset query (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET
    ALL`) every time a connection goes back to the pool: one more round trip per request. This
    code never leaves session state behind (no session-level SET, LISTEN, advisory locks or
    held cursors; only SET LOCAL inside transactions), so there is nothing to reset. A
    connection released inside a transaction is still rolled back: asyncpg's `reset()` adds the
    ROLLBACK itself."""

    def get_reset_query(self) -> str:
        return ""


def tortoise_connection(database_url: str) -> str | dict[str, Any]:
    url = tortoise_db_url(database_url)
    if not url.startswith("asyncpg://"):
        return url
    config: dict[str, Any] = expand_db_url(url)
    config["credentials"]["connection_class"] = PooledConnection
    # Short statements only: JIT compiling costs more than it saves, and it turned asyncpg's
    # one-off type introspection on each new connection into ≈ 0.7 s stalls (docs/adr/0012).
    config["credentials"].setdefault("server_settings", {})["jit"] = "off"
    return config


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": tortoise_connection(settings.database_url)},
        "apps": {"entpage": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(settings: Settings) -> None:
    if settings.is_sqlite:
        Path(sqlite_path(settings.database_url)).parent.mkdir(parents=True, exist_ok=True)
    # The global fallback lets request tasks see the context the lifespan task created.
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


def sqlite_path(database_url: str) -> str:
    return database_url.split("://", 1)[1].split("?", 1)[0]


def conn() -> BaseDBAsyncClient:
    client: BaseDBAsyncClient = connections.get("default")
    return client


def table_names() -> list[str]:
    apps = Tortoise.apps
    if apps is None:
        return []
    return [model._meta.db_table for model in apps["entpage"].values()]


async def truncate_all() -> None:
    """Empty every table (tests, and `entpage seed --reset`)."""
    tables = table_names()
    if not tables:
        return
    if is_postgres():
        quoted = ", ".join(f'"{t}"' for t in tables)
        await conn().execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        statements = "".join(f'DELETE FROM "{t}";' for t in tables)
        await conn().execute_script(
            f"PRAGMA foreign_keys=OFF;{statements}DELETE FROM sqlite_sequence "
            "WHERE 1=1;PRAGMA foreign_keys=ON;"
            if await _has_sqlite_sequence()
            else f"PRAGMA foreign_keys=OFF;{statements}PRAGMA foreign_keys=ON;"
        )


async def _has_sqlite_sequence() -> bool:
    rows = await conn().execute_query_dict(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='sqlite_sequence'"
    )
    return bool(rows)


def is_postgres() -> bool:
    return conn().capabilities.dialect == "postgres"


def sqlite_value(value: Any) -> Any:
    """Store values on SQLite exactly as Tortoise does, so the ORM reads them back."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def new_sql() -> Sql:
    return Sql(postgres=is_postgres())


class Sql:
    """Builds parameterised SQL for either dialect: `$1` for asyncpg, `?` for SQLite.

    Raw SQL lives in repositories for set-based work (INSERT … SELECT, upserts); everything
    goes through this so no value is ever formatted into the text.
    """

    def __init__(self, *, postgres: bool) -> None:
        self.postgres = postgres
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value if self.postgres else sqlite_value(value))
        return f"${len(self.params)}" if self.postgres else "?"

    def in_list(self, values: list[Any]) -> str:
        return ", ".join(self.p(v) for v in values) or "NULL"


async def fetch_records(statement: str, params: Sequence[Any]) -> list[Any]:
    """PostgreSQL only: one statement's rows as asyncpg Records, on the caller's transaction
    connection if there is one, else on a pooled one. For the hottest read (a batch of cold
    pages): `execute_query_dict` turns every row into a dict the caller copies again."""
    client = conn()
    async with client.acquire_connection() as connection:
        rows: list[Any] = await connection.fetch(statement, *params)
        return rows
