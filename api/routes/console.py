"""The publisher console: a static single page at /console (vanilla JS modules, no build step)
and the one helper it needs beyond the notices API, a body preview rendered by the very
sanitizer that publishing uses, so what the publisher previews is what enterprises will see.

The page carries no secret and no token: it logs in through /v1/auth/operator-login and keeps
tokens in sessionStorage. A strict Content-Security-Policy (scripts and styles from this origin
only, no inline code) limits what injected markup could do.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from api import auth
from api.responses import JsonResponse, read_json
from core.validation import Reader
from notices.models import BODY_FORMATS
from notices.sanitize import MAX_BODY_CHARS, plain_excerpt, render_body
from notices.service import load_publisher

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "console"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load (cheap with the ETag) so a deploy reaches consoles at once.
    "Cache-Control": "no-cache",
}


async def console_page(request: Request) -> Response:
    """The publisher console (HTML)."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers=PAGE_HEADERS)


class _StaticWithHeaders:
    """StaticFiles (ETag, Last-Modified, 304, traversal checks) plus the page's headers."""

    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.files(scope, receive, send_with_headers)


async def render_preview(request: Request) -> Response:
    """Render a notice body (Markdown or HTML) to the sanitized HTML enterprises will see."""
    await load_publisher(await auth.principal(request))
    r = Reader(await read_json(request))
    r.reject_unknown({"body", "body_format"})
    body = r.string("body", max_length=MAX_BODY_CHARS)
    body_format = r.choice("body_format", BODY_FORMATS, required=False) or "markdown"
    r.raise_if_failed()
    assert body is not None
    html = render_body(body_format, body)
    return JsonResponse({"html": html, "excerpt": plain_excerpt(html)},
                        headers={"Cache-Control": "no-store"})


routes: list[BaseRoute] = [
    Route("/console", console_page, methods=["GET"]),
    Route("/console/", console_page, methods=["GET"]),
    Mount("/console/static", app=_StaticWithHeaders(STATIC_DIR), name="console-static"),
    Route("/v1/console/render", render_preview, methods=["POST"]),
]
