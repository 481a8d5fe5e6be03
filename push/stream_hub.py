"""The per-process fan-out behind GET /v1/stream.

One hub per API process owns ONE Redis pub/sub connection, whatever the number of clients:

- `entpage:events` carries cross-cutting events. On `notice.published` the hub asks the
  database once which of the enterprises watched in this process received the notice and
  writes one `notice` event per such enterprise into that enterprise's log.
- `entpage:ent:{uscc}` is a wake-up per enterprise, subscribed only while the enterprise is
  watched here. The payload is not trusted for content: on a wake-up the hub reads the
  enterprise's log (a Redis Stream, `entpage:log:{uscc}`) from its last position, so every
  client sees that enterprise's events exactly once and in log order, and Last-Event-ID ids are
  the same in every process.
- `entpage:page-invalidation` (the page cache's own channel, profiles/page_cache.py): any
  writer that invalidates a page (reads, acknowledgements, matters, profile changes, publishing)
  therefore produces a `badges` event for watched enterprises without knowing about the stream.
  The hub compares version stamps (`pv:{uscc}`, `pv:*`), re-renders through the page cache and
  logs `badges` only when the page's ETag changed. A slow poll of the same stamps
  (ENTPAGE_STREAM_PAGE_POLL_MS) covers messages lost while pub/sub was reconnecting.

Writing to a log is deduplicated across processes with a `SET NX` marker per (event, enterprise),
so two processes watching one enterprise log a notice once. An enterprise stays watched for
ENTPAGE_STREAM_RESUME_GRACE_S after its last client left, so a client that reconnects within
that window (to any process) finds everything it missed in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio as aioredis

from core import clock
from core.redis import close_pubsub, end_if_cancel_lost
from notices import repository as notices_repository
from profiles.page import build_page
from profiles.page_cache import CHANNEL as PAGE_CHANNEL
from profiles.page_cache import GLOBAL_STAMP, get_page_cache

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "entpage:events"
ENTERPRISE_CHANNEL_PREFIX = "entpage:ent:"
LOG_PREFIX = "entpage:log:"
LOG_MAXLEN = 1000
LOG_TTL_S = 24 * 3600
ONCE_TTL_S = 3600
_IN_CHUNK = 500
# A notice that reached an enterprise while no process watched it is logged when watching
# starts again; the margin covers clock skew between Redis's stream ids and ours.
CATCH_UP_MARGIN_S = 5.0
CATCH_UP_LIMIT = 100
_FETCH_BATCH = 200
STOP_S = 5.0  # how long close() waits for the hub's tasks before it logs and moves on


def log_key(uscc: str) -> str:
    return f"{LOG_PREFIX}{uscc}"


def enterprise_channel(uscc: str) -> str:
    return f"{ENTERPRISE_CHANNEL_PREFIX}{uscc}"


@dataclass(frozen=True, slots=True)
class StreamEvent:
    uscc: str
    id: str  # the Redis Stream entry id, "<ms>-<seq>"
    type: str
    data: dict[str, Any]


def stream_id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def event_from_entry(uscc: str, entry_id: Any, fields: Mapping[Any, Any]) -> StreamEvent:
    decoded = {_text(k): v for k, v in fields.items()}
    data = orjson.loads(decoded.get("data", b"{}"))
    return StreamEvent(uscc, _text(entry_id), _text(decoded.get("type", b"message")),
                       data if isinstance(data, dict) else {"value": data})


async def append_event(redis: aioredis.Redis, uscc: str, event_type: str,
                       data: Mapping[str, Any]) -> str:
    """Log the event for the enterprise and wake every process that watches it."""
    key = log_key(uscc)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(key, {"type": event_type, "data": orjson.dumps(dict(data))},
                  maxlen=LOG_MAXLEN, approximate=True)
        pipe.expire(key, LOG_TTL_S)
        pipe.publish(enterprise_channel(uscc), event_type)
        entry_id, _, _ = await pipe.execute()
    return _text(entry_id)


async def append_once(redis: aioredis.Redis, marker: str, uscc: str, event_type: str,
                      data: Mapping[str, Any]) -> str | None:
    """Like append_event, but only the first process to claim `marker` writes."""
    if not await redis.set(marker, b"1", nx=True, ex=ONCE_TTL_S):
        return None
    return await append_event(redis, uscc, event_type, data)


async def log_tail(redis: aioredis.Redis, uscc: str) -> str:
    entries = await redis.xrevrange(log_key(uscc), count=1)
    return _text(entries[0][0]) if entries else "0-0"


async def read_log(redis: aioredis.Redis, uscc: str, after: str,
                   *, count: int = _FETCH_BATCH) -> list[StreamEvent]:
    entries: list[tuple[Any, Mapping[Any, Any]]] = await redis.xrange(  # type: ignore[assignment]
        log_key(uscc), min=f"({after}", count=count)
    return [event_from_entry(uscc, entry_id, fields) for entry_id, fields in entries]


class ClientQueue:
    """A bounded queue for one stream connection: when full the oldest event is dropped and
    `overflowed` is set, so the connection tells its client to reload (resync)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, maxsize)
        self.overflowed = False
        self._items: deque[StreamEvent] = deque()
        self._wake = asyncio.Event()

    def put(self, event: StreamEvent) -> None:
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.overflowed = True
        self._items.append(event)
        self._wake.set()

    def drain(self) -> list[StreamEvent]:
        items = list(self._items)
        self._items.clear()
        self._wake.clear()
        return items

    async def wait(self, seconds: float) -> bool:
        if self._items:
            return True
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            return False
        return True


@dataclass(eq=False)
class _Watched:
    uscc: str
    enterprise_id: int
    clients: set[ClientQueue] = field(default_factory=set)
    position: str = "0-0"
    stamps: tuple[bytes, bytes] | None = None
    idle_since: float | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _summary(row: Mapping[str, Any]) -> dict[str, Any]:
    published_at = row["published_at"]
    return {
        "id": int(row["id"]), "title": row["title"], "kind": row["kind"],
        "priority": row["priority"], "ack_required": bool(row["ack_required"]),
        "published_at": _as_utc(published_at).isoformat().replace("+00:00", "Z")
        if published_at is not None else None,
    }


async def _notice_summary(notice_id: int) -> dict[str, Any] | None:
    row = await notices_repository.announced_notice(notice_id, clock.now())
    return _summary(row) if row else None


async def _notices_reached_since(enterprise_id: int, since: dt.datetime) -> list[dict[str, Any]]:
    rows = await notices_repository.announced_reaching_since(enterprise_id, since, clock.now(),
                                                             limit=CATCH_UP_LIMIT)
    return [_summary(row) for row in rows]


def _as_utc(value: Any) -> Any:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


class StreamHub:
    def __init__(self, redis: aioredis.Redis, *, grace_s: float, poll_s: float,
                 page_concurrency: int = 4) -> None:
        self.redis = redis
        self.grace_s = grace_s
        self.poll_s = poll_s
        self._watch: dict[str, _Watched] = {}
        self._to_subscribe: set[str] = set()
        self._to_unsubscribe: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()  # ends _listen and _poll even if their cancel is lost
        self._spawned: set[asyncio.Task[Any]] = set()
        self._page_slots = asyncio.Semaphore(page_concurrency)
        self._check_now = asyncio.Event()
        self.connected = asyncio.Event()  # the pub/sub connection is subscribed and listening

    # ------------------------------------------------------------------ lifecycle

    def _ensure_started(self) -> None:
        if self._tasks and not any(t.done() for t in self._tasks):
            return
        self._stop.set()  # the previous pair, if any, ends at its next check
        for task in self._tasks:
            task.cancel()
        self._stop = stop = asyncio.Event()
        self._tasks = [asyncio.create_task(self._listen(stop), name="stream-hub-listen"),
                       asyncio.create_task(self._poll(stop), name="stream-hub-poll")]

    async def close(self) -> None:
        self._stop.set()
        tasks = [*self._tasks, *self._spawned]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded, and the caller's own cancellation is not swallowed: a task stuck in
            # Redis or database I/O is logged and left behind, never awaited forever.
            done, pending = await asyncio.wait(tasks, timeout=STOP_S)
            if pending:
                log.error("push.stream.stop_timeout", extra={
                    "tasks": sorted(t.get_name() for t in pending), "waited_s": STOP_S})
            for task in done:
                if task in self._tasks and not task.cancelled() and task.exception():
                    log.error("push.stream.task_failed", exc_info=task.exception(),
                              extra={"task": task.get_name()})
        self._tasks = []
        self._spawned.clear()
        self._watch.clear()

    def _spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._spawned.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._spawned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("push.stream.task_failed", exc_info=task.exception(),
                      extra={"task": task.get_name()})

    # ------------------------------------------------------------------ clients

    @property
    def watched(self) -> dict[str, int]:
        return {u: w.enterprise_id for u, w in self._watch.items()}

    async def attach(self, client: ClientQueue, enterprises: Mapping[str, int]) -> None:
        """After this returns, every event logged for these enterprises reaches `client`."""
        self._ensure_started()
        waiting: list[_Watched] = []
        created: list[_Watched] = []
        for uscc, enterprise_id in enterprises.items():
            watched = self._watch.get(uscc)
            if watched is None:
                watched = _Watched(uscc, enterprise_id)
                self._watch[uscc] = watched
                created.append(watched)
            watched.clients.add(client)
            watched.idle_since = None
            waiting.append(watched)
        for watched in created:
            # Notices missed while unwatched go into the log BEFORE the position is taken:
            # a resuming client replays them, a new client starts after them.
            await self._catch_up(watched)
            # Position and stamps first, then subscribe, then catch up (on confirmation): no
            # event can fall between the log position and the subscription.
            watched.position = await log_tail(self.redis, watched.uscc)
            watched.stamps = (await self._stamps_of([watched.uscc]))[0]
            watched.ready.set()
            self._to_unsubscribe.discard(watched.uscc)
            self._to_subscribe.add(watched.uscc)
        for watched in waiting:
            try:
                await asyncio.wait_for(watched.ready.wait(), timeout=5)
                await asyncio.wait_for(watched.subscribed.wait(), timeout=5)
            except TimeoutError:
                log.warning("push.stream.subscribe_slow", extra={"uscc": watched.uscc})

    async def _catch_up(self, watched: _Watched) -> None:
        """Live fan-out logs a notice only for enterprises some process watches. One that
        reached this enterprise while none did (its clients away past the grace period, or
        their only process gone) is logged here, when watching starts again: everything since
        the log's newest entry. The once-markers make it a no-op for notices already logged.
        An empty log has nothing to resume from (a resuming client gets a resync)."""
        tail = await log_tail(self.redis, watched.uscc)
        if tail == "0-0":
            return
        newest = dt.datetime.fromtimestamp(stream_id_key(tail)[0] / 1000, dt.UTC)
        since = newest - dt.timedelta(seconds=CATCH_UP_MARGIN_S)
        logged = 0
        for summary in await _notices_reached_since(watched.enterprise_id, since):
            marker = f"entpage:once:notice:{summary['id']}:{watched.uscc}"
            if await append_once(self.redis, marker, watched.uscc, "notice",
                                 {**summary, "uscc": watched.uscc}):
                logged += 1
        if logged:
            log.info("push.stream.caught_up", extra={"uscc": watched.uscc, "notices": logged})

    def detach(self, client: ClientQueue, usccs: Iterable[str]) -> None:
        now = time.monotonic()
        for uscc in usccs:
            watched = self._watch.get(uscc)
            if watched is None:
                continue
            watched.clients.discard(client)
            if not watched.clients:
                watched.idle_since = now

    # ------------------------------------------------------------------ pub/sub

    async def _listen(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                end_if_cancel_lost()
                await pubsub.subscribe(EVENTS_CHANNEL, PAGE_CHANNEL)
                subscribed_here: set[str] = set()
                # After a reconnect, resubscribe everything; confirmations trigger catch-ups.
                self._to_subscribe |= set(self._watch)
                while not stop.is_set():
                    end_if_cancel_lost()
                    await self._apply_subscriptions(pubsub, subscribed_here)
                    message = await pubsub.get_message(timeout=0.2)
                    if message is not None:
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.connected.clear()
                for watched in self._watch.values():
                    watched.subscribed.clear()
                log.exception("push.stream.listener_failed")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await stop.wait()
            finally:
                await close_pubsub(pubsub, event="push.stream.listener.close_failed")

    async def _apply_subscriptions(self, pubsub: Any, subscribed_here: set[str]) -> None:
        if self._to_unsubscribe:
            gone = [u for u in self._to_unsubscribe if u not in self._watch]
            self._to_unsubscribe.clear()
            if gone:
                await pubsub.unsubscribe(*(enterprise_channel(u) for u in gone))
                subscribed_here.difference_update(gone)
        if self._to_subscribe:
            new = [u for u in self._to_subscribe if u in self._watch]
            self._to_subscribe.clear()
            if new:
                await pubsub.subscribe(*(enterprise_channel(u) for u in new))
                subscribed_here.update(new)

    def _dispatch(self, message: Mapping[str, Any]) -> None:
        kind = _text(message.get("type", ""))
        channel = _text(message.get("channel", ""))
        if kind == "subscribe":
            if channel == EVENTS_CHANNEL:
                self.connected.set()
                return
            uscc = channel.removeprefix(ENTERPRISE_CHANNEL_PREFIX)
            watched = self._watch.get(uscc)
            if watched is not None:
                watched.subscribed.set()
                self._spawn(self.fetch(uscc), f"stream-catch-up-{uscc}")
            return
        if kind != "message":
            return
        if channel == EVENTS_CHANNEL:
            try:
                payload = orjson.loads(message.get("data") or b"{}")
            except orjson.JSONDecodeError:
                log.warning("push.stream.bad_event", extra={"channel": channel})
                return
            if isinstance(payload, dict) and payload.get("type") == "notice.published":
                try:
                    notice_id = int(payload["notice_id"])
                except (KeyError, TypeError, ValueError):
                    log.warning("push.stream.bad_event", extra={"payload": str(payload)[:200]})
                    return
                batch = payload.get("batch")
                self._spawn(self.on_notice_published(
                    notice_id, batch=str(batch) if isinstance(batch, str) and batch else None),
                    f"stream-notice-{notice_id}")
            return
        if channel == PAGE_CHANNEL:
            text = _text(message.get("data") or b"")
            if text.startswith("g:"):
                self._check_now.set()
            elif text.startswith("e:") and (watched := self._watch.get(text[2:])) is not None:
                self._spawn(self.check_pages([watched]), f"stream-page-{watched.uscc}")
            return
        if channel.startswith(ENTERPRISE_CHANNEL_PREFIX):
            uscc = channel.removeprefix(ENTERPRISE_CHANNEL_PREFIX)
            if uscc in self._watch:
                self._spawn(self.fetch(uscc), f"stream-fetch-{uscc}")

    async def fetch(self, uscc: str) -> None:
        """Deliver the enterprise's log entries after this process's position, in order."""
        watched = self._watch.get(uscc)
        if watched is None:
            return
        await watched.ready.wait()
        async with watched.lock:
            while True:
                events = await read_log(self.redis, uscc, watched.position)
                for event in events:
                    watched.position = event.id
                    for client in list(watched.clients):
                        client.put(event)
                if len(events) < _FETCH_BATCH:
                    break

    # ------------------------------------------------------------------ notices

    async def on_notice_published(self, notice_id: int, *, batch: str | None = None) -> None:
        by_id = {w.enterprise_id: u for u, w in self._watch.items()}
        if not by_id:
            return
        recipients = await notices_repository.recipients_among(notice_id, sorted(by_id),
                                                              batch=batch)
        if not recipients:
            return
        summary = await _notice_summary(notice_id)
        if summary is None:
            return
        for enterprise_id in recipients:
            uscc = by_id[enterprise_id]
            await append_once(self.redis, f"entpage:once:notice:{notice_id}:{uscc}", uscc,
                              "notice", {**summary, "uscc": uscc})
        log.info("push.stream.notice_fanned_out", extra={
            "notice_id": notice_id, "enterprises": len(recipients)})
        self._check_now.set()  # unread counts changed: badges soon, not at the next tick

    # ------------------------------------------------------------------ badges

    async def _stamps_of(self, usccs: list[str]) -> list[tuple[bytes, bytes]]:
        values: list[bytes | None] = await self.redis.mget(
            [f"pv:{u}" for u in usccs] + [GLOBAL_STAMP])  # type: ignore[assignment]
        glob = values[-1] or b"0"
        return [(v or b"0", glob) for v in values[:-1]]

    async def _poll(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._check_now.wait(), timeout=self.poll_s)
            if stop.is_set():
                return
            end_if_cancel_lost()
            self._check_now.clear()
            try:
                await self.check_pages()
                self._expire_idle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("push.stream.poll_failed")

    async def check_pages(self, only: list[_Watched] | None = None) -> None:
        pool = only if only is not None else list(self._watch.values())
        ready = [w for w in pool if w.ready.is_set()]
        for start in range(0, len(ready), _IN_CHUNK):
            chunk = ready[start:start + _IN_CHUNK]
            for watched, stamps in zip(chunk, await self._stamps_of([w.uscc for w in chunk]),
                                       strict=True):
                if watched.stamps is None:
                    watched.stamps = stamps
                elif stamps != watched.stamps:
                    watched.stamps = stamps
                    self._spawn(self._page_changed(watched.uscc, stamps),
                                f"stream-badges-{watched.uscc}")

    async def _page_changed(self, uscc: str, stamps: tuple[bytes, bytes]) -> None:
        marker = f"entpage:once:page:{uscc}:{stamps[0].decode()}:{stamps[1].decode()}"
        if not await self.redis.set(marker, b"1", nx=True, ex=ONCE_TTL_S):
            return  # another process handles this version of the page
        async with self._page_slots:
            page = await self._page(uscc)
        if page is None:
            return
        etag, badges = page
        last_key = f"entpage:stream:etag:{uscc}"
        previous = await self.redis.getset(last_key, etag.encode())
        await self.redis.expire(last_key, LOG_TTL_S)
        if previous is not None and _text(previous) == etag:
            return  # re-rendered, same content (e.g. a publish to other enterprises)
        await append_event(self.redis, uscc, "badges", {"uscc": uscc, "badges": badges,
                                                        "etag": etag})

    async def _page(self, uscc: str) -> tuple[str, dict[str, Any]] | None:
        cache = get_page_cache()
        day = clock.today_shanghai().isoformat()
        lookup = await cache.lookup(uscc, day=day, person_id=None)
        page = lookup.page
        if page is None:
            built = await build_page(uscc)
            if built is None:
                return None
            page = await cache.store(uscc, lookup=lookup, day=day, body=orjson.dumps(built))
        badges = orjson.loads(page.body).get("badges", {})
        return page.etag, badges

    def _expire_idle(self) -> None:
        now = time.monotonic()
        for uscc, watched in list(self._watch.items()):
            if watched.idle_since is not None and now - watched.idle_since > self.grace_s:
                del self._watch[uscc]
                self._to_subscribe.discard(uscc)
                self._to_unsubscribe.add(uscc)
