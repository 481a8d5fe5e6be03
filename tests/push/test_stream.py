"""The live stream's fan-out, logs and resume, over real SSE against uvicorn started here.

The in-process server shares this process's database and Redis (the embedded default's
in-process store included), so events published here reach it. The cross-process test starts
two uvicorn processes on the real Redis and is skipped on the embedded default, where Redis
lives inside one process by design.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
import uvicorn

from core.principals import Principal
from core.redis import get_redis
from core.settings import Settings, get_settings, reset_settings_cache
from push import stream
from push.stream_hub import ClientQueue, StreamEvent, StreamHub, log_key
from tests import factories as f
from tests.notices.helpers import RULE_NANSHA, World, make_world
from tests.redis_helpers import until_suspended_in

ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- helpers


@dataclass
class SseEvent:
    event: str
    data: Any
    id: str | None


class SseStream:
    """A minimal, spec-following EventSource reader over an httpx streaming response. A
    background task parses the stream, so a timed-out wait never breaks the reader."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.last_id: str | None = None
        self.comments: list[str] = []
        self.retry_ms: int | None = None
        self.ended = False
        self._events: asyncio.Queue[SseEvent | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        kind, data_lines = "message", []
        try:
            async for line in self.response.aiter_lines():
                if line == "":
                    if data_lines:
                        self._events.put_nowait(
                            SseEvent(kind, orjson.loads("\n".join(data_lines)), self.last_id))
                    kind, data_lines = "message", []
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    self.last_id = value
                elif name == "event":
                    kind = value
                elif name == "data":
                    data_lines.append(value)
                elif name == "retry" and value.isdigit():
                    self.retry_ms = int(value)
        except httpx.HTTPError:
            pass
        finally:
            self.ended = True
            self._events.put_nowait(None)

    async def next(self, *, within: float = 2.0,
                   skip: tuple[str, ...] = ("badges",)) -> SseEvent:
        """The next dispatched event whose type is not in `skip` (TimeoutError if none)."""
        async with asyncio.timeout(within):
            while True:
                event = await self._events.get()
                if event is None:
                    self._events.put_nowait(None)
                    raise EOFError("the stream ended")
                if event.event not in skip:
                    return event

    async def nothing_more(self, seconds: float, *,
                           skip: tuple[str, ...] = ("badges",)) -> None:
        with contextlib.suppress(TimeoutError):
            event = await self.next(within=seconds, skip=skip)
            raise AssertionError(f"unexpected event {event}")

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


@contextlib.asynccontextmanager
async def sse(base_url: str, token: str | None, *, last_event_id: str | None = None,
              via_query: bool = False, expect: int = 200) -> AsyncIterator[SseStream]:
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if token and via_query:
        params["access_token"] = token
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10.0, read=None)) \
            as http, http.stream("GET", "/v1/stream", headers=headers, params=params) as resp:
        assert resp.status_code == expect, (await resp.aread()).decode()
        reader = SseStream(resp)
        try:
            yield reader
        finally:
            await reader.close()


@contextlib.contextmanager
def stream_env(**values: str) -> Iterator[Settings]:
    """Settings for the stream read from the environment, restored afterwards."""
    names = {f"ENTPAGE_{k.upper()}": v for k, v in values.items()}
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(names)
    reset_settings_cache()
    try:
        yield get_settings()
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        reset_settings_cache()


@contextlib.asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[str]:
    """uvicorn in this process and event loop, sharing the test database and Redis."""
    from api.app import create_app

    app = create_app(settings, manage_resources=False)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)
        await stream.close_hub()


@pytest.fixture
async def server(db: None, settings: Settings) -> AsyncIterator[str]:
    with stream_env(stream_heartbeat_s="0.3", stream_resume_grace_s="30") as current:
        async with live_server(current) as url:
            yield url


async def wait_for_log(uscc: str, length: int, *, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while int(await get_redis().xlen(log_key(uscc))) < length:
        assert time.monotonic() < deadline, f"log of {uscc} never reached {length} entries"
        await asyncio.sleep(0.02)


async def publish(world: World, title: str) -> int:
    """Publish a notice to Nansha and announce it as the delivery pipeline does."""
    notice = await world.published(title=title, rule=RULE_NANSHA)
    await stream.announce_notice_published(int(notice["id"]))
    return int(notice["id"])


# ----------------------------------------------------------------------------- units


def test_cursor_round_trips_and_rejects_garbage() -> None:
    cursor = stream.Cursor(1_700_000_000_123, {7: "1700000000000-0", 3: "12-4"})
    assert stream.Cursor.parse(cursor.encode()) == cursor
    for bad in ("", "2.1_3.1-0", "1.x", "1.5_a.1-0", "1.5_3.1", "1.5_3.1-0-0"):
        assert stream.Cursor.parse(bad) is None, bad


def test_client_queue_drops_oldest_and_flags_overflow() -> None:
    queue = ClientQueue(2)
    for n in range(3):
        queue.put(StreamEvent("u", f"{n}-0", "notice", {"n": n}))
    assert queue.overflowed
    assert [e.data["n"] for e in queue.drain()] == [1, 2]


# ----------------------------------------------------------------------------- over HTTP


async def test_notice_reaches_recipients_once_and_nobody_else(client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    async with sse(server, w.staff["南沙甲"]) as jia, sse(server, w.staff["前海丙"]) as bing:
        notice_id = await publish(w, "关于申报高新技术企业的通知")
        event = await jia.next(within=1.0)
        assert event.event == "notice"
        assert event.data == {
            "id": notice_id,
            "title": "关于申报高新技术企业的通知",
            "kind": "notice",
            "priority": "normal",
            "ack_required": False,
            "uscc": w.enterprises["南沙甲"],
            "published_at": event.data["published_at"],
        }
        # The same announcement again (a relay retry) is not a second event.
        await stream.announce_notice_published(notice_id)
        await jia.nothing_more(0.6)
        await bing.nothing_more(0.3)


async def test_badges_follow_page_changes(client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    notice_id = await publish(w, "通知一")
    async with sse(server, w.staff["南沙甲"]) as jia:
        started = time.monotonic()
        resp = await client.post(
            f"/v1/enterprises/{w.enterprises['南沙甲']}/notices/{notice_id}/read",
            headers=w.h(w.staff["南沙甲"]),
        )
        assert resp.status_code == 200
        event = await jia.next(within=1.0, skip=())
        assert time.monotonic() - started < 1.0
        assert event.event == "badges"
        assert event.data["uscc"] == w.enterprises["南沙甲"]
        assert event.data["badges"]["notices_unread"] == 0
        page = await w.page("南沙甲")
        assert event.data["badges"] == page["badges"]


async def test_resume_replays_exactly_the_missed_events(client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    uscc = w.enterprises["南沙甲"]
    async with sse(server, w.staff["南沙甲"]) as first:
        await publish(w, "通知一")
        assert (await first.next(within=1.0)).data["title"] == "通知一"
        cursor = first.last_id
    assert cursor
    # Away: two more notices. The hub keeps the enterprise watched (grace), so they are logged.
    await publish(w, "通知二")
    await publish(w, "通知三")
    await wait_for_log(uscc, 3)
    async with sse(server, w.staff["南沙甲"], last_event_id=cursor) as again:
        replayed = [await again.next(within=1.0), await again.next(within=1.0)]
        assert [e.data["title"] for e in replayed] == ["通知二", "通知三"]
        await again.nothing_more(0.5)
        # Live again after the replay.
        await publish(w, "通知四")
        assert (await again.next(within=1.0)).data["title"] == "通知四"


async def test_stale_or_trimmed_cursor_asks_for_resync(client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    uscc = w.enterprises["南沙甲"]
    enterprise_id = (await stream.resolve_enterprises(Principal("person", w.staff_ids["南沙甲"])))[uscc]
    redis = get_redis()
    ids = [await stream.publish_enterprise_event(uscc, "ping", {"n": n}) for n in range(3)]
    # Older than the resume window: nothing can be trusted.
    old = stream.Cursor(int((time.time() - 3600) * 1000), {enterprise_id: ids[0]}).encode()
    async with sse(server, w.staff["南沙甲"], last_event_id=old) as s:
        event = await s.next(within=1.0)
        assert (event.event, event.data) == ("resync", {"reason": "gap-too-long"})
        await s.nothing_more(0.3)
    # Recent, but the log no longer reaches back to the cursor.
    await redis.xtrim(log_key(uscc), maxlen=1, approximate=False)
    trimmed = stream.Cursor(int(time.time() * 1000), {enterprise_id: ids[0]}).encode()
    async with sse(server, w.staff["南沙甲"], last_event_id=trimmed) as s:
        event = await s.next(within=1.0)
        assert (event.event, event.data) == ("resync", {"reason": "log-trimmed"})
    # A cursor the log still covers replays, no resync.
    await stream.publish_enterprise_event(uscc, "ping", {"n": 3})
    fine = stream.Cursor(int(time.time() * 1000), {enterprise_id: ids[2]}).encode()
    async with sse(server, w.staff["南沙甲"], last_event_id=fine) as s:
        event = await s.next(within=1.0)
        assert (event.event, event.data["n"]) == ("ping", 3)


async def test_slow_client_drops_oldest_and_gets_resync(db: None) -> None:
    """A session whose queue overflowed before it could write: the newest events survive and
    the client is told to reload."""
    with stream_env(stream_queue_size="2", stream_heartbeat_s="5") as current:
        uscc = f.new_uscc()
        request = stream.StreamRequest(
            principal=Principal("person", 1),
            enterprises={uscc: 1},
            last_event_id=None,
            expires_at=time.time() + 60,
            still_valid=lambda: _true(),
        )
        session = await stream.open_stream(request, settings=current)
        frames = session.events()
        try:
            assert b"retry: 3000" in await anext(frames)
            for n in range(5):
                await stream.publish_enterprise_event(uscc, "ping", {"n": n})
            await wait_for_log(uscc, 5)
            await session.hub.fetch(uscc)  # deliver now, before the session writes anything
            chunk = (await anext(frames)).decode()
            assert [line for line in chunk.splitlines() if line.startswith("event:")] == [
                "event: ping",
                "event: ping",
                "event: resync",
            ]
            assert '"n":3' in chunk and '"n":4' in chunk and '"n":2' not in chunk
        finally:
            await frames.aclose()
            await stream.close_hub()


async def _true() -> bool:
    return True


async def test_hub_close_returns_even_when_its_listeners_cancel_is_lost(
        production_redis: aioredis.Redis) -> None:
    """redis-py sends every command through asyncio.wait_for, which on Python 3.11 drops a
    cancel that lands just as the send completes: close() must still end the hub's listener
    promptly, not await it forever. Closed exactly there, during its SUBSCRIBE."""
    # `production_redis`: socket timeouts, hence redis-py's wait_for path.
    for _ in range(3):
        hub = StreamHub(production_redis, grace_s=30, poll_s=5)
        hub._ensure_started()
        await until_suspended_in(hub._tasks[0], "wait_for")  # its first send is in flight
        tasks = list(hub._tasks)
        began = time.monotonic()
        try:
            # Inline (asyncio.wait_for would start close() a loop turn late); bounded, so a
            # regression fails here instead of hanging.
            async with asyncio.timeout(10):
                await hub.close()
            took = time.monotonic() - began
            assert all(t.done() for t in tasks), "a hub task outlived close()"
            assert took < 3.0, f"close() took {took:.1f} s"
        finally:
            for task in tasks:
                task.cancel()  # a second cancel: never leave a task running
            await asyncio.gather(*tasks, return_exceptions=True)


# ----------------------------------------------------------------------------- two processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def api_processes(settings: Settings, count: int) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "ENTPAGE_DATABASE_URL": settings.database_url,
        "ENTPAGE_REDIS_URL": settings.redis_url,
        "ENTPAGE_DATA_DIR": str(settings.data_dir),
        "ENTPAGE_WORKER_IN_PROCESS": "false",
        "ENTPAGE_LOG_LEVEL": "WARNING",
        "ENTPAGE_STREAM_HEARTBEAT_S": "0.5",
    }
    ports = [_free_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for port in ports
    ]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{url} did not become ready"
                time.sleep(0.1)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def test_events_cross_api_processes_within_a_second(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    if settings.is_embedded_redis:
        pytest.skip(
            "needs a real Redis shared by two API processes (set ENTPAGE_TEST_REDIS_URL);"
            " the embedded store lives inside one process by design"
        )
    w = await make_world(client)
    with api_processes(settings, 2) as (a, b):
        notice_id = await publish(w, "预热")  # a notice to read through process A later
        async with sse(b, w.staff["南沙甲"]) as on_b, sse(a, w.staff["南沙甲"]) as on_a:
            # A page change made through process A reaches a client of process B.
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=a) as via_a:
                resp = await via_a.post(
                    f"/v1/enterprises/{w.enterprises['南沙甲']}/notices/{notice_id}/read",
                    headers=w.h(w.staff["南沙甲"]),
                )
                assert resp.status_code == 200, resp.text
            event = await on_b.next(within=1.0, skip=())
            assert event.event == "badges" and event.data["badges"]["notices_unread"] == 0
            assert time.monotonic() - started < 1.0
            # A published notice reaches both processes' clients once, with the same log id.
            started = time.monotonic()
            await publish(w, "跨进程通知")
            got_b = await on_b.next(within=1.0)
            got_a = await on_a.next(within=1.0)
            assert time.monotonic() - started < 1.0
            assert got_a.data["title"] == got_b.data["title"] == "跨进程通知"
            logged = await get_redis().xrange(log_key(w.enterprises["南沙甲"]))
            assert [fields[b"type"] for _, fields in logged].count(b"notice") == 1
            await on_b.nothing_more(0.5)


async def test_a_notice_published_while_no_process_watched_is_replayed_on_resume(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """The client's only API process goes away; a notice is published meanwhile (nobody
    watches the enterprise, so nobody logs it live). Resuming on a new process replays it."""
    if settings.is_embedded_redis:
        pytest.skip(
            "needs a real Redis that outlives the API process (set ENTPAGE_TEST_REDIS_URL);"
            " the embedded store lives and dies with its process"
        )
    w = await make_world(client)
    with api_processes(settings, 1) as [first_process]:
        async with sse(first_process, w.staff["南沙甲"]) as first:
            await publish(w, "停机前的通知")
            assert (await first.next(within=1.0)).data["title"] == "停机前的通知"
            cursor = first.last_id
    assert cursor
    await publish(w, "停机期间的通知")
    with api_processes(settings, 1) as [second_process]:
        async with sse(second_process, w.staff["南沙甲"], last_event_id=cursor) as again:
            missed = await again.next(within=2.0)
            assert (missed.event, missed.data["title"]) == ("notice", "停机期间的通知")
            await again.nothing_more(0.5)
        # A client without a cursor starts after the caught-up entry: nothing old is new.
        async with sse(second_process, w.staff["南沙甲"]) as fresh:
            await fresh.nothing_more(0.5)
