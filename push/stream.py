"""The live stream (Server-Sent Events) for apps and kiosks: new notices and badge counts.

Event contract (each SSE event's `data` is one JSON object):

- `event: notice` — `{"id", "title", "kind", "priority", "ack_required", "published_at",
  "uscc"}`, once per receiving enterprise the client may see.
- `event: badges` — `{"uscc", "badges": {…the page's badge block…}, "etag"}` when the
  enterprise's page changed; `etag` is the page's ETag, so a client re-fetches only if it
  differs from the one it holds.
- `event: resync` — `{"reason"}`: events may have been missed (the client was away longer than
  the log covers, or it read too slowly); reload the page, then keep listening.
- `event: token-expired` / `event: session-ended` — the stream closes; reconnect with a fresh
  token (or, for a kiosk, go back to the idle screen).
- Other types written with `publish_enterprise_event` pass through unchanged.

Ids: every event, and every heartbeat, carries an `id:` that is a cursor over all the client's
enterprises' logs plus the time it was sent: `1.<t_ms>_<enterprise_id>.<stream id>_…`. Browsers
send it back as Last-Event-ID on reconnect (or pass `last_event_id=` when opening a new
EventSource) and the missed events are replayed from the logs before going live.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from core.db import conn, new_sql
from core.errors import Forbidden, NotFound, RateLimited
from core.principals import Principal
from core.redis import get_redis
from core.settings import Settings, get_settings
from profiles import repository as profiles_repository
from push.stream_hub import (
    EVENTS_CHANNEL,
    LOG_MAXLEN,
    ClientQueue,
    StreamEvent,
    StreamHub,
    _text,
    append_event,
    log_key,
    log_tail,
    read_log,
    stream_id_key,
)

log = logging.getLogger(__name__)

MAX_ENTERPRISES_PER_STREAM = 200
CLOCK_SKEW_MARGIN_S = 5
_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
_CURSOR_VERSION = "1"

__all__ = [
    "EVENTS_CHANNEL",
    "Cursor",
    "StreamRequest",
    "announce_notice_published",
    "close_hub",
    "get_hub",
    "open_stream",
    "publish_enterprise_event",
    "resolve_enterprises",
]


# ------------------------------------------------------------------------ publishing API


async def publish_enterprise_event(uscc: str, type: str, data: Mapping[str, Any], *,
                                   redis: aioredis.Redis | None = None) -> str:
    """Log an event for one enterprise and deliver it to its connected clients in every API
    process. Returns the event's log id. Call after the change has committed."""
    payload = {"uscc": uscc, **data}
    return await append_event(redis or get_redis(), uscc, type, payload)


async def announce_notice_published(notice_id: int, *,
                                    redis: aioredis.Redis | None = None) -> None:
    """What the delivery pipeline publishes once a notice's deliveries exist: every API
    process then tells its connected recipients."""
    await (redis or get_redis()).publish(
        EVENTS_CHANNEL, orjson.dumps({"type": "notice.published", "notice_id": notice_id}))


# ------------------------------------------------------------------------ the hub


_hub: StreamHub | None = None


def get_hub(settings: Settings | None = None) -> StreamHub:
    global _hub
    if _hub is None:
        settings = settings or get_settings()
        _hub = StreamHub(get_redis(), grace_s=settings.stream_resume_grace_s,
                         poll_s=settings.stream_page_poll_ms / 1000)
    return _hub


async def close_hub() -> None:
    global _hub
    hub, _hub = _hub, None
    if hub is not None:
        await hub.close()


# ------------------------------------------------------------------------ cursors


@dataclass(frozen=True, slots=True)
class Cursor:
    t_ms: int
    positions: dict[int, str]  # enterprise id → last delivered log id

    def encode(self) -> str:
        parts = [f"{_CURSOR_VERSION}.{self.t_ms}"]
        parts.extend(f"{eid}.{pos}" for eid, pos in sorted(self.positions.items()))
        return "_".join(parts)

    @classmethod
    def parse(cls, raw: str | None) -> Cursor | None:
        if not raw or len(raw) > 16_384:
            return None
        head, *rest = raw.strip().split("_")
        version, _, t_raw = head.partition(".")
        if version != _CURSOR_VERSION or not t_raw.isdigit():
            return None
        positions: dict[int, str] = {}
        for part in rest:
            eid, _, pos = part.partition(".")
            if not eid.isdigit() or not _STREAM_ID.fullmatch(pos):
                return None
            positions[int(eid)] = pos
        return cls(int(t_raw), positions)


# ------------------------------------------------------------------------ connections


async def resolve_enterprises(principal: Principal) -> dict[str, int]:
    """The enterprises whose events this principal may receive: uscc → enterprise id."""
    if principal.kind == "kiosk_session":
        uscc = str(principal.claims.get("ent", ""))
        enterprise_id = await profiles_repository.enterprise_id_by_uscc(uscc)
        if enterprise_id is None:
            raise NotFound(f"No enterprise {uscc} is registered.", field="uscc")
        return {uscc: enterprise_id}
    if principal.kind != "person":
        raise Forbidden("The live stream is for enterprise staff and kiosk sessions.")
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT e.uscc, e.id FROM memberships m JOIN enterprises e ON e.id = m.enterprise_id "
        f"WHERE m.person_id = {sql.p(principal.id)} ORDER BY e.id "
        f"LIMIT {MAX_ENTERPRISES_PER_STREAM}", sql.params)
    return {str(r["uscc"]): int(r["id"]) for r in rows}


def _slot_key(subject: str) -> str:
    return f"entpage:stream:conns:{subject}"


async def _acquire_slot(redis: aioredis.Redis, subject: str, conn_id: str, *, cap: int,
                        lease_s: float) -> bool:
    """A cap on concurrent streams per principal across all processes. Slots are leases
    refreshed by heartbeats, so a crashed process frees its slots by itself."""
    key = _slot_key(subject)
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zremrangebyscore(key, "-inf", now_ms)
        pipe.zadd(key, {conn_id: now_ms + int(lease_s * 1000)})
        pipe.zcard(key)
        pipe.expire(key, int(lease_s) + 60)
        _, _, count, _ = await pipe.execute()
    if int(count) > cap:
        await redis.zrem(key, conn_id)
        return False
    return True


async def _refresh_slot(redis: aioredis.Redis, subject: str, conn_id: str,
                        lease_s: float) -> None:
    await redis.zadd(_slot_key(subject), {conn_id: int((time.time() + lease_s) * 1000)})


async def _release_slot(redis: aioredis.Redis, subject: str, conn_id: str) -> None:
    await redis.zrem(_slot_key(subject), conn_id)


def _frame(event_type: str, data: Mapping[str, Any], cursor: str) -> bytes:
    return (f"id: {cursor}\nevent: {event_type}\ndata: ".encode()
            + orjson.dumps(dict(data)) + b"\n\n")


@dataclass(frozen=True, slots=True)
class StreamRequest:
    principal: Principal
    enterprises: dict[str, int]
    last_event_id: str | None
    expires_at: float  # epoch seconds: the token's expiry; the stream ends then
    still_valid: Callable[[], Awaitable[bool]]  # re-checked at every heartbeat (revocation)


class StreamSession:
    """One client's stream: replay from Last-Event-ID, then live events and heartbeats."""

    def __init__(self, request: StreamRequest, *, hub: StreamHub, redis: aioredis.Redis,
                 settings: Settings) -> None:
        self.request = request
        self.hub = hub
        self.redis = redis
        self.settings = settings
        self.conn_id = secrets.token_hex(8)
        self.queue = ClientQueue(settings.stream_queue_size)
        self.ids = dict(request.enterprises)  # uscc → enterprise id
        self.positions: dict[str, str] = {}
        self.lease_s = max(settings.stream_heartbeat_s * 3, 30.0)

    def cursor(self) -> str:
        return Cursor(int(time.time() * 1000),
                      {self.ids[u]: p for u, p in self.positions.items()}).encode()

    async def _covered(self, uscc: str, position: str) -> bool:
        """Does the log still hold everything after `position`?"""
        key = log_key(uscc)
        if position == "0-0":
            return int(await self.redis.xlen(key)) < LOG_MAXLEN
        if await self.redis.xrange(key, min=position, max=position, count=1):
            return True
        oldest: list[tuple[Any, Any]] = await self.redis.xrange(key, count=1)  # type: ignore[assignment]
        return not oldest or stream_id_key(_text(oldest[0][0])) <= stream_id_key(position)

    async def _replay(self) -> tuple[list[StreamEvent], str | None]:
        cursor = Cursor.parse(self.request.last_event_id)
        reason: str | None = None
        if self.request.last_event_id and cursor is None:
            reason = "unknown-cursor"
        elif cursor is not None:
            away_s = time.time() - cursor.t_ms / 1000
            if away_s > self.settings.stream_resume_grace_s - CLOCK_SKEW_MARGIN_S:
                reason = "gap-too-long"
        replay: list[StreamEvent] = []
        for uscc, enterprise_id in self.ids.items():
            position = cursor.positions.get(enterprise_id) if cursor and not reason else None
            if position is not None and not await self._covered(uscc, position):
                reason, position = "log-trimmed", None
            if position is None:
                self.positions[uscc] = await log_tail(self.redis, uscc)
                continue
            # `_accept` advances the position as the replayed events are written.
            self.positions[uscc] = position
            while True:
                batch = await read_log(self.redis, uscc, position, count=LOG_MAXLEN)
                replay.extend(batch)
                if batch:
                    position = batch[-1].id
                if len(batch) < LOG_MAXLEN:
                    break
        if reason:
            # Positions from a stale cursor must not replay half a history: start at the tails.
            for uscc in self.ids:
                self.positions[uscc] = max(self.positions.get(uscc, "0-0"),
                                           await log_tail(self.redis, uscc), key=stream_id_key)
            replay = []
        replay.sort(key=lambda e: stream_id_key(e.id))
        return replay, reason

    def _accept(self, event: StreamEvent) -> bool:
        current = self.positions.get(event.uscc)
        if current is None or stream_id_key(event.id) <= stream_id_key(current):
            return False  # already replayed, or not this client's enterprise
        self.positions[event.uscc] = event.id
        return True

    async def events(self) -> AsyncIterator[bytes]:
        hub, request = self.hub, self.request
        usccs = list(self.ids)
        try:
            await hub.attach(self.queue, self.ids)
            replay, reason = await self._replay()
            yield (f"retry: {self.settings.stream_retry_ms}\n: connected\n"
                   f"id: {self.cursor()}\n\n").encode()
            if reason:
                yield _frame("resync", {"reason": reason}, self.cursor())
            for event in replay:
                if self._accept(event):
                    yield _frame(event.type, event.data, self.cursor())
            log.info("push.stream.connected", extra={
                "subject": request.principal.subject, "enterprises": len(usccs),
                "replayed": len(replay), "resync": reason})
            heartbeat_s = self.settings.stream_heartbeat_s
            next_heartbeat = time.monotonic() + heartbeat_s
            while True:
                now = time.time()
                if now >= request.expires_at:
                    yield _frame("token-expired", {}, self.cursor())
                    return
                wait_s = min(next_heartbeat - time.monotonic(), request.expires_at - now)
                await self.queue.wait(wait_s)
                frames = [_frame(e.type, e.data, self.cursor())
                          for e in self.queue.drain() if self._accept(e)]
                if self.queue.overflowed:
                    self.queue.overflowed = False
                    frames.append(_frame("resync", {"reason": "slow-client"}, self.cursor()))
                    log.warning("push.stream.overflow", extra={
                        "subject": request.principal.subject})
                if frames:
                    yield b"".join(frames)
                if time.monotonic() >= next_heartbeat:
                    if not await request.still_valid():
                        yield _frame("session-ended", {}, self.cursor())
                        return
                    await _refresh_slot(self.redis, request.principal.subject, self.conn_id,
                                        self.lease_s)
                    yield f": heartbeat\nid: {self.cursor()}\n\n".encode()
                    next_heartbeat = time.monotonic() + heartbeat_s
        finally:
            hub.detach(self.queue, usccs)
            try:
                await asyncio.shield(_release_slot(self.redis, request.principal.subject,
                                                   self.conn_id))
            except (asyncio.CancelledError, Exception):
                log.debug("push.stream.release_deferred", extra={"conn": self.conn_id})
            log.info("push.stream.disconnected", extra={"subject": request.principal.subject})


async def open_stream(request: StreamRequest, *, settings: Settings | None = None) -> StreamSession:
    """Claims a stream slot for the principal (RateLimited when all are in use) and returns
    the session whose `events()` the HTTP edge streams."""
    settings = settings or get_settings()
    redis = get_redis()
    session = StreamSession(request, hub=get_hub(settings), redis=redis, settings=settings)
    if not await _acquire_slot(redis, request.principal.subject, session.conn_id,
                               cap=settings.stream_max_per_principal, lease_s=session.lease_s):
        raise RateLimited(
            f"At most {settings.stream_max_per_principal} live streams per account are allowed; "
            "close another one first.", retry_after_s=int(settings.stream_heartbeat_s) or 1)
    return session
