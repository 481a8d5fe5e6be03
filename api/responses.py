"""JSON in and out, with orjson, and the request body parsed into a problem-aware value."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from core.errors import DomainError


class MalformedJson(DomainError):
    code = "malformed-json"
    title = "The request body is not valid JSON"


class UnsupportedMediaType(DomainError):
    code = "unsupported-media-type"
    title = "The request body must be application/json"


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class PreparedResponse(Response):
    """A body and headers that are already bytes (a cached page): skips Response's header
    assembly, which costs more than the rest of a cached page request."""

    def __init__(self, body: bytes, *, status_code: int = 200,
                 raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = raw_headers if status_code in (204, 304) else \
            [*raw_headers, (b"content-length", b"%d" % len(body))]


async def read_json(request: Request) -> Any:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type not in ("application/json", "application/merge-patch+json") \
            and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type {content_type!r} is not JSON.")
    body = await request.body()
    if not body.strip():
        raise MalformedJson("The request body is empty; a JSON document is required.",
                            field="body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson(f"The request body is not valid JSON: {exc}", field="body") from exc
