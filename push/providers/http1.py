"""A lean keep-alive HTTP/1.1 client for one origin: `asyncio.Protocol` + httptools (llhttp).

Why not aiohttp for the FCM hot path (ADR 0006): FCM's HTTP v1 API takes one message per
request, so the push target (≥ 8,000 messages/s from one process) is a request budget of about
100 µs of CPU — and aiohttp spends ~300 µs per request on this VM in its request/response
objects, header multidicts and per-request tasks. Here a request is one `transport.write` of
pre-built bytes, one C parser pass and one future; nothing else is allocated per request.

Scope, on purpose: one origin, `POST`-style requests with a complete body, one request in flight
per connection (no pipelining: a lost connection then affects exactly one request), and
`Content-Length` or chunked responses. A request whose connection fails raises `ConnectionError`
and one that times out raises `TimeoutError`; the connection is dropped in both cases, since its
state is unknown, and the caller decides whether to retry (a POST may have been processed).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

_RETRY_AFTER = b"retry-after"


@dataclass(frozen=True, slots=True)
class Http1Response:
    status: int
    body: bytes
    retry_after: str | None  # the only response header the providers act on


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; at most one request on it at a time."""

    __slots__ = ("_body", "_parser", "_retry_after", "_waiter", "closed", "keep_alive",
                 "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Http1Response] | None = None
        self._body: list[bytes] = []
        self._retry_after: str | None = None
        self.keep_alive = True
        self.closed = False

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ConnectionError("unexpected protocol upgrade"))
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"malformed HTTP response: {error}"))

    def eof_received(self) -> bool | None:
        # A response delimited by the end of the connection completes here.
        with contextlib.suppress(httptools.HttpParserError):
            self._parser.feed_data(b"")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError(f"connection lost: {exc!r}" if exc else "connection closed"))

    # ------------------------------------------------------------- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == _RETRY_AFTER:
            self._retry_after = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        self.keep_alive = self._parser.should_keep_alive()
        response = Http1Response(self._parser.get_status_code(), b"".join(self._body),
                                 self._retry_after)
        self._body = []
        self._retry_after = None
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    # ---------------------------------------------------------------------------- use
    def send(self, data: bytes, waiter: asyncio.Future[Http1Response]) -> None:
        assert self.transport is not None and self._waiter is None
        self._waiter = waiter
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()


class Http1Pool:
    """Up to `max_connections` keep-alive connections to the origin of `base_url`; callers
    beyond that wait for a free one (first come, first served)."""

    def __init__(self, base_url: str, *, max_connections: int = 256, timeout_s: float = 10.0,
                 connect_timeout_s: float = 5.0, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        default_port = 443 if self.tls else 80
        self.host_header = self.host if self.port == default_port else f"{self.host}:{self.port}"
        self._ssl: ssl.SSLContext | None = None
        if self.tls:
            self._ssl = ssl_context or ssl.create_default_context()
        self._max = max_connections
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._idle: list[_Connection] = []
        self._open = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closing = False
        self.connections_made = 0  # for tests and benchmarks: proves keep-alive reuse

    async def request(self, head: bytes, body: bytes) -> Http1Response:
        """Send `head` (request line and headers, ending with `Content-Length: ` and nothing
        after it) followed by the body's length, a blank line and `body`."""
        connection = await self._acquire()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Http1Response] = loop.create_future()
        reusable = False
        try:
            connection.send(b"".join((head, b"%d\r\n\r\n" % len(body), body)), waiter)
            async with asyncio.timeout(self._timeout_s):
                response = await waiter
            reusable = connection.keep_alive and not connection.closed
            return response
        finally:
            self._release(connection, reusable=reusable)

    def request_head(self, method: str, path: str, headers: dict[str, str]) -> bytes:
        """The fixed part of a request; build it once and reuse it for every request."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append("Content-Length: ")
        return "\r\n".join(lines).encode("latin-1")

    async def aclose(self) -> None:
        self._closing = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError("pool closed"))
        await asyncio.sleep(0)  # let the transports finish closing

    # --------------------------------------------------------------------- connections
    async def _acquire(self) -> _Connection:
        while True:
            if self._closing:
                raise ConnectionError("pool closed")
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed:
                    return connection
                self._open -= 1
            if self._open < self._max:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # we were handed a slot we will not use
                raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, connection = await loop.create_connection(
                    _Connection, self.host, self.port, ssl=self._ssl,
                    server_hostname=self.host if self.tls else None)
        except OSError as error:
            raise ConnectionError(f"cannot connect to {self.host}:{self.port}: {error}") from error
        self.connections_made += 1
        return connection

    def _release(self, connection: _Connection, *, reusable: bool) -> None:
        if reusable and not self._closing:
            self._idle.append(connection)
        else:
            connection.close()
            self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
