"""A lean HTTP/1.1 server for the fake providers: `asyncio.Protocol` + httptools parsing.

Why not Starlette/uvicorn: the fakes must out-run the client they are measured against (tens of
thousands of requests per second on one core), so a request costs one parser pass, one handler
call and one `transport.write` — no ASGI scope, no task per request. Latency is simulated with
`loop.call_later`, so thousands of delayed responses cost timers, not coroutines.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl

import httptools
import orjson

logger = logging.getLogger(__name__)

_REASONS: dict[int, bytes] = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Payload Too Large",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}
_MAX_BODY_BYTES = 1 << 20  # a fake has no business receiving more; protects memory


@dataclass(slots=True)
class FakeRequest:
    method: str
    path: str
    query_string: str
    headers: dict[bytes, bytes]  # names lower-cased
    body: bytes

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")


@dataclass(frozen=True, slots=True)
class FakeReply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0
    # Never answer: simulates a provider that hangs past the client's timeout.
    hang: bool = False
    content_type: str = "application/json; charset=UTF-8"


def json_reply(
    status: int,
    payload: Any,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    delay_s: float = 0.0,
) -> FakeReply:
    return FakeReply(status, orjson.dumps(payload), headers=headers, delay_s=delay_s)


class FakeApp(Protocol):
    def handle(self, request: FakeRequest) -> FakeReply: ...


@functools.lru_cache(maxsize=256)
def _status_and_type(status: int, content_type: str) -> bytes:
    reason = _REASONS.get(status, b"Unknown")
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n" % (
        status,
        reason,
        content_type.encode("latin-1"),
    )


def _encode_reply(reply: FakeReply, *, keep_alive: bool) -> bytes:
    lines = [
        _status_and_type(reply.status, reply.content_type),
        b"Content-Length: %d\r\n" % len(reply.body),
    ]
    for name, value in reply.headers:
        lines.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
    if not keep_alive:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    lines.append(reply.body)
    return b"".join(lines)


@dataclass(slots=True)
class _PendingResponse:
    keep_alive: bool
    data: bytes | None = None


@dataclass(slots=True)
class _RequestInProgress:
    url: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    body_size: int = 0


class _Connection(asyncio.Protocol):
    """One client connection. Responses leave in request order even when their simulated
    latencies differ (HTTP/1.1 pipelining), so each request takes a slot in a queue."""

    def __init__(self, app: FakeApp, loop: asyncio.AbstractEventLoop) -> None:
        self._app = app
        self._loop = loop
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._current = _RequestInProgress()
        self._queue: deque[_PendingResponse] = deque()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._queue.clear()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(400, b'{"error":"malformed HTTP request"}')

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._current = _RequestInProgress()

    def on_url(self, url: bytes) -> None:
        self._current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._current.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._current.body_size += len(body)
        if self._current.body_size <= _MAX_BODY_BYTES:
            self._current.body.append(body)

    def on_message_complete(self) -> None:
        current = self._current
        parsed = httptools.parse_url(current.url)
        request = FakeRequest(
            method=self._parser.get_method().decode("ascii"),
            path=parsed.path.decode("utf-8", "replace"),
            query_string=parsed.query.decode("utf-8", "replace") if parsed.query else "",
            headers=current.headers,
            body=b"".join(current.body),
        )
        try:
            if current.body_size > _MAX_BODY_BYTES:
                reply = json_reply(413, {"error": "request body too large"})
            else:
                reply = self._app.handle(request)
        except Exception:  # a fake's bug must show up as a 500, not a dead connection
            logger.exception("push.fake.handler_failed", extra={"path": request.path})
            reply = json_reply(500, {"error": "fake handler failed"})
        pending = _PendingResponse(keep_alive=self._parser.should_keep_alive())
        self._queue.append(pending)
        if reply.hang:
            return
        data = _encode_reply(reply, keep_alive=pending.keep_alive)
        if reply.delay_s > 0:
            self._loop.call_later(reply.delay_s, self._complete, pending, data)
        else:
            self._complete(pending, data)

    def _complete(self, pending: _PendingResponse, data: bytes) -> None:
        pending.data = data
        transport = self._transport
        while transport is not None and self._queue and self._queue[0].data is not None:
            ready = self._queue.popleft()
            assert ready.data is not None
            transport.write(ready.data)
            if not ready.keep_alive:
                transport.close()
                return

    def _fail(self, status: int, body: bytes) -> None:
        if self._transport is not None:
            reply = FakeReply(status, body)
            self._transport.write(_encode_reply(reply, keep_alive=False))
            self._transport.close()


async def start_server(app: FakeApp, *, host: str, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: _Connection(app, loop), host=host, port=port, backlog=4096, reuse_address=True
    )


def server_base_url(server: asyncio.Server) -> str:
    host, port = server.sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(app: FakeApp, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `app` on the running loop for the duration of the block; yields the base URL."""
    server = await start_server(app, host=host, port=port)
    try:
        yield server_base_url(server)
    finally:
        server.close()
        # Hanging (fault-injected) connections would keep wait_closed() waiting forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=1.0)


def run_forever(app: FakeApp, *, host: str, port: int, name: str) -> None:
    """Run `app` until interrupted. Prints one line with the bound URL, so a parent process that
    asked for port 0 can read where the fake listens."""

    async def main() -> None:
        server = await start_server(app, host=host, port=port)
        print(f"{name} listening on {server_base_url(server)}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        import uvloop  # a faster loop when present; the fake works without it
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(main())
    sys.stdout.flush()
