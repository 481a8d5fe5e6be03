"""GET /v1/stream: Server-Sent Events for enterprise staff (all their enterprises) and kiosk
sessions (their one enterprise). The event contract is in push/stream.py.

Browsers' EventSource cannot send an Authorization header, so this endpoint — and only this one
— also accepts the access token as `?access_token=`. The trade-off: a URL can end up in proxy
or server access logs and in browser history. We accept it because these tokens are short-lived
(15 min for people, minutes for kiosk sessions, and a kiosk session token is revoked when it
ends), our own access log records the path without the query string, the response carries
`Referrer-Policy: no-referrer`, and clients that can set headers (apps, the mini-program) should
send `Authorization: Bearer` instead. A token in both places must be the same token.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api import auth
from core.principals import Principal
from profiles import kiosks
from push.stream import StreamRequest, open_stream, resolve_enterprises


def _validity_check(principal: Principal) -> kiosks.ValidityCheck:
    if principal.kind == "kiosk_session":
        return kiosks.session_validity(principal.claims)
    return kiosks.always_valid


async def stream(request: Request) -> Response:
    """Live notices and badge counts (text/event-stream), with Last-Event-ID resume."""
    caller = await auth.principal(request, allow_query_token=True)
    enterprises = await resolve_enterprises(caller)
    last_event_id = (request.headers.get("last-event-id")
                     or request.query_params.get("last_event_id") or None)
    session = await open_stream(StreamRequest(
        principal=caller, enterprises=enterprises, last_event_id=last_event_id,
        expires_at=float(caller.claims.get("exp") or time.time() + 3600),
        still_valid=_validity_check(caller),
    ))
    return StreamingResponse(session.events(), media_type="text/event-stream", headers={
        "Cache-Control": "no-cache, no-store, no-transform",
        "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
        "Referrer-Policy": "no-referrer",
    })


routes = [
    Route("/v1/stream", stream, methods=["GET"]),
]
