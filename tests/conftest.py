"""Test wiring: real PostgreSQL and Redis when ENTPAGE_TEST_DATABASE_URL / ENTPAGE_TEST_REDIS_URL
are set (CI), otherwise the embedded default (a temporary SQLite file, in-process Redis).

Each session gets its own fresh database, migrated with Alembic exactly as `entpage migrate` does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from core import clock, migrate
from core.db import close_db, init_db, truncate_all
from core.redis import close_redis, init_redis, make_redis
from core.settings import Settings, get_settings, reset_settings_cache
from tests.redis_helpers import reachable_or_skip

TEST_DATABASE_URL = os.environ.get("ENTPAGE_TEST_DATABASE_URL", "").strip()
TEST_REDIS_URL = os.environ.get("ENTPAGE_TEST_REDIS_URL", "").strip()


def _admin_dsn(url: str) -> str:
    return url.replace("asyncpg://", "postgresql://").replace("postgres://", "postgresql://")


async def _create_pg_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(_admin_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _db = admin_url.rpartition("/")
    return f"{base}/{name}"


async def _drop_pg_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _lease_redis_db(url: str) -> tuple[str, int | None]:
    """Several test sessions may share one Redis (parallel developers); each leases its own
    logical database so one session's FLUSHDB never wipes another's keys."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    admin = aioredis.Redis.from_url(f"{base}/0")
    try:
        for number in range(1, 16):
            if await admin.set(f"entpage:test-lease:{number}", os.getpid(), nx=True, ex=3600):
                return f"{base}/{number}", number
    finally:
        await admin.aclose()
    raise RuntimeError("no free Redis database for this test session (16 in use)")


async def _release_redis_db(url: str, number: int) -> None:
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    admin = aioredis.Redis.from_url(f"{base}/0")
    await admin.delete(f"entpage:test-lease:{number}")
    await admin.aclose()


@pytest.fixture(scope="session")
def backend_name() -> str:
    return "postgresql" if TEST_DATABASE_URL else "sqlite"


@pytest.fixture(scope="session")
async def settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    data_dir = tmp_path_factory.mktemp("entpage-data")
    os.environ["ENTPAGE_DATA_DIR"] = str(data_dir)
    pg_name = f"entpage_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    if TEST_DATABASE_URL:
        os.environ["ENTPAGE_DATABASE_URL"] = await _create_pg_database(TEST_DATABASE_URL, pg_name)
    else:
        os.environ["ENTPAGE_DATABASE_URL"] = f"sqlite://{data_dir / 'test.sqlite3'}"
    redis_url, redis_db = (await _lease_redis_db(TEST_REDIS_URL)) if TEST_REDIS_URL else ("", None)
    os.environ["ENTPAGE_REDIS_URL"] = redis_url
    os.environ["ENTPAGE_WORKER_IN_PROCESS"] = "false"
    os.environ.setdefault("ENTPAGE_LOG_JSON", "false")
    reset_settings_cache()
    current = get_settings()
    await asyncio.to_thread(migrate.upgrade, current.database_url, quiet=True)
    await init_db(current)
    redis = init_redis(current)
    # As the CLI and the API do (core.cli._with_db): writers invalidate cached pages.
    from profiles.page_cache import init_page_cache

    init_page_cache(redis, ttl_s=current.page_cache_ttl_s)
    yield current
    await close_redis()
    await close_db()
    if TEST_DATABASE_URL:
        await _drop_pg_database(TEST_DATABASE_URL, pg_name)
    if redis_db is not None:
        await _release_redis_db(TEST_REDIS_URL, redis_db)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[None]:
    """A database with every table empty, and an empty Redis."""
    await truncate_all()
    from core.redis import get_redis

    await get_redis().flushdb()
    clock.freeze(None)
    yield
    clock.freeze(None)


@pytest.fixture
async def redis_client(db: None) -> aioredis.Redis:
    from core.redis import get_redis

    return get_redis()


@pytest.fixture
async def client(db: None, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.app import create_app
    from profiles.page_cache import get_page_cache

    app = create_app(settings, manage_resources=False)
    # As in production: both cache layers live. Stop this cache, not whatever is current at
    # teardown (a live server in the same test replaces the global).
    cache = get_page_cache()
    await cache.start_listener()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await cache.written()  # no write behind a first view lands in the next test
        await cache.stop_listener()


@pytest.fixture(scope="session")
def artifacts_dir() -> Iterator[Path]:
    path = Path(os.environ.get("ENTPAGE_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    yield path


@pytest.fixture(autouse=True)
def _settings_reread_after_each_test() -> Iterator[None]:
    """A test that changes the environment must not leak changed settings into the next."""
    yield
    reset_settings_cache()


@pytest.fixture
async def production_redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    """A client built as production builds it (core.redis.make_redis: blocking pool, socket
    timeouts) on a real server: the test database when ENTPAGE_TEST_REDIS_URL is set, else
    127.0.0.1:6379/9, where the tests using it only subscribe and ping (no keys)."""
    url = settings.redis_url or "redis://127.0.0.1:6379/9"
    client = await reachable_or_skip(
        make_redis(dataclasses.replace(settings, redis_url=url)))
    yield client
    await client.aclose()
