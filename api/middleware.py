"""Pure ASGI middleware: request ids, access logs and metrics, without buffering bodies."""

from __future__ import annotations

import itertools
import logging
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import metrics

log = logging.getLogger("api.access")

# Request ids: a random per-process prefix and a counter, unique across processes without
# paying for the OS random source on every request.
_REQUEST_ID_PREFIX = secrets.token_hex(5)
_request_numbers = itertools.count(1)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = (_header(scope, b"x-request-id")
                      or f"{_REQUEST_ID_PREFIX}{next(_request_numbers):06x}")
        status = 500

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            metrics.observe(scope["method"], route_path, status, elapsed)
            if status >= 500 or log.isEnabledFor(logging.DEBUG):
                log.log(logging.ERROR if status >= 500 else logging.DEBUG, "api.request", extra={
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "ms": round(elapsed * 1000, 2), "request_id": request_id,
                })


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")[:64]
            return decoded
    return None


_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyLimitMiddleware:
    """Refuses request bodies over the limit with a problem+json 413, before or while reading."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODILESS:
            # Handlers of these methods never read a body, so there is nothing to limit.
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class PayloadTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The request body exceeds {max_bytes} bytes.")
        self.max_bytes = max_bytes


def _too_large(max_bytes: int) -> ASGIApp:
    from api.errors import problem

    return problem(413, "payload-too-large", "The request body is too large",
                   f"The request body exceeds the limit of {max_bytes} bytes.")
