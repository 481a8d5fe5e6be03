"""The lean HTTP/1.1 pool behind the FCM client, against real sockets: the project's fake
server, and raw asyncio servers for the answers a fake never gives (chunked bodies, closes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from push.fakes.http_server import FakeReply, FakeRequest, serving
from push.providers.http1 import Http1Pool


class Echo:
    """Answers each request with its own body, after `delay_s`, counting what it saw."""

    def __init__(self, *, delay_s: float = 0.0, hang_on: bytes | None = None) -> None:
        self.delay_s = delay_s
        self.hang_on = hang_on
        self.seen: list[FakeRequest] = []

    def handle(self, request: FakeRequest) -> FakeReply:
        self.seen.append(request)
        if self.hang_on is not None and request.body == self.hang_on:
            return FakeReply(200, b"", hang=True)
        headers = (("Retry-After", "7"),) if request.body == b"busy" else ()
        status = 503 if request.body == b"busy" else 200
        return FakeReply(status, request.body, headers=headers, delay_s=self.delay_s,
                         content_type="text/plain")


def head(pool: Http1Pool) -> bytes:
    return pool.request_head("POST", "/echo", {"Content-Type": "text/plain"})


async def test_sequential_requests_reuse_one_connection() -> None:
    app = Echo()
    async with serving(app) as url:
        pool = Http1Pool(url, max_connections=8)
        for i in range(200):
            response = await pool.request(head(pool), b"message %d" % i)
            assert (response.status, response.body) == (200, b"message %d" % i)
        await pool.aclose()
    assert pool.connections_made == 1
    assert app.seen[0].method == "POST" and app.seen[0].path == "/echo"
    assert app.seen[0].header(b"host") == url.removeprefix("http://")


async def test_concurrent_requests_stay_within_the_pool_and_never_cross() -> None:
    async with serving(Echo(delay_s=0.01)) as url:
        pool = Http1Pool(url, max_connections=4)
        bodies = [b"body-%d" % i for i in range(60)]
        responses = await asyncio.gather(*(pool.request(head(pool), b) for b in bodies))
        await pool.aclose()
    assert [r.body for r in responses] == bodies
    assert pool.connections_made <= 4


async def test_retry_after_and_error_status_are_reported() -> None:
    async with serving(Echo()) as url:
        pool = Http1Pool(url)
        response = await pool.request(head(pool), b"busy")
        await pool.aclose()
    assert (response.status, response.retry_after) == (503, "7")


async def test_a_hanging_server_times_out_and_the_connection_is_replaced() -> None:
    async with serving(Echo(hang_on=b"hang")) as url:
        pool = Http1Pool(url, max_connections=1, timeout_s=0.2)
        with pytest.raises(TimeoutError):
            await pool.request(head(pool), b"hang")
        # The late answer could otherwise be read as the next request's: a new connection.
        response = await pool.request(head(pool), b"after")
        await pool.aclose()
    assert response.body == b"after"
    assert pool.connections_made == 2


async def test_unreachable_origin_is_a_connection_error() -> None:
    pool = Http1Pool("http://127.0.0.1:9", connect_timeout_s=1.0)
    with pytest.raises(ConnectionError):
        await pool.request(head(pool), b"x")
    await pool.aclose()


Script = Callable[[int, bytes], bytes | None]


@contextlib.asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[str]:
    """A server that reads one request at a time and writes `script(n, body)` verbatim
    (None: close the connection without answering)."""
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            while True:
                head_bytes = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head_bytes.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                count += 1
                answer = script(count, body)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def test_chunked_response_bodies_are_joined() -> None:
    def chunked(_n: int, body: bytes) -> bytes:
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (3, body[:3], len(body) - 3, body[3:]))

    async with raw_server(chunked) as url:
        pool = Http1Pool(url)
        first = await pool.request(head(pool), b"hello world")
        second = await pool.request(head(pool), b"again and again")
        await pool.aclose()
    assert (first.body, second.body) == (b"hello world", b"again and again")
    assert pool.connections_made == 1


async def test_connection_close_is_honoured_with_a_new_connection_next_time() -> None:
    def closing(_n: int, body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body), body)

    async with raw_server(closing) as url:
        pool = Http1Pool(url)
        bodies = [(await pool.request(head(pool), b"n%d" % i)).body for i in range(3)]
        await pool.aclose()
    assert bodies == [b"n0", b"n1", b"n2"]
    assert pool.connections_made == 3


async def test_a_connection_dropped_before_the_answer_fails_only_that_request() -> None:
    def drop_second(n: int, body: bytes) -> bytes | None:
        if n == 2:
            return None
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async with raw_server(drop_second) as url:
        pool = Http1Pool(url, max_connections=1)
        assert (await pool.request(head(pool), b"one")).body == b"one"
        with pytest.raises(ConnectionError):
            await pool.request(head(pool), b"two")
        assert (await pool.request(head(pool), b"three")).body == b"three"
        await pool.aclose()
    assert pool.connections_made == 2


async def test_a_malformed_answer_is_a_connection_error() -> None:
    async with raw_server(lambda _n, _b: b"SMTP ready\r\n\r\n") as url:
        pool = Http1Pool(url)
        with pytest.raises(ConnectionError):
            await pool.request(head(pool), b"x")
        await pool.aclose()
