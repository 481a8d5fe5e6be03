"""One error shape: application/problem+json (RFC 9457) with a stable `type` per error code."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from api.responses import MalformedJson, UnsupportedMediaType
from core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)

log = logging.getLogger(__name__)

PROBLEM_BASE = "/problems/"
STATUS_BY_ERROR: dict[type[DomainError], int] = {
    ValidationFailed: 422,
    MalformedJson: 400,
    UnsupportedMediaType: 415,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
}
HTTP_CODES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict with the current state"),
    413: ("payload-too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-failed", "The request contains invalid data"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal error"),
}


def problem(status: int, code: str, title: str, detail: str, *, instance: str | None = None,
            extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return Response(orjson.dumps(body), status_code=status, headers=headers,
                    media_type="application/problem+json")


def _status_for(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 400


async def domain_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = _status_for(exc)
    extra: dict[str, Any] = dict(exc.extra)
    if exc.field:
        extra["field"] = exc.field
    if exc.problems:
        extra["errors"] = [
            {"field": p.field, "reason": p.reason, "code": p.code} for p in exc.problems
        ]
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="entpage"'
    return problem(status, exc.code, exc.title, exc.detail, instance=request.url.path,
                   extra=extra, headers=headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, title = HTTP_CODES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 413:
        detail = "The request body exceeds the size limit."
    return problem(exc.status_code, code, title, detail, instance=request.url.path,
                   headers=dict(exc.headers or {}))


async def payload_too_large_handler(request: Request, exc: Exception) -> Response:
    from api.middleware import PayloadTooLarge

    assert isinstance(exc, PayloadTooLarge)
    return problem(413, "payload-too-large", "The request body is too large", str(exc),
                   instance=request.url.path)


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("api.request.failed", extra={"path": request.url.path})
    return problem(500, "internal-error", "Internal error",
                   "The server failed to complete the request; it has been logged.",
                   instance=request.url.path)


def _exception_handlers() -> dict[Any, Any]:
    from api.middleware import PayloadTooLarge

    return {PayloadTooLarge: payload_too_large_handler}


EXCEPTION_HANDLERS: dict[Any, Any] = {
    **_exception_handlers(),
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: unhandled_error_handler,
}
