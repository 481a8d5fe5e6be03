"""Self-service kiosks: admin registration, kiosk login, the QR hand-off, kiosk sessions, and
the kiosk page itself (static files under api/static/kiosk, served at /kiosk).

See profiles/kiosks.py for the flow and the security model.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth
from api.responses import JsonResponse, read_json
from api.routes.notices import origin
from core.errors import NotFound
from core.validation import Reader
from profiles import kiosks
from profiles.schemas import validate_uscc

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "kiosk"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_PAGE_HEADERS = {
    # Everything the page needs comes from this origin; the QR code is a data: image.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _nonce(request: Request) -> str:
    nonce = str(request.path_params["nonce"])
    if not _NONCE.fullmatch(nonce):
        raise NotFound("No such hand-off.", field="nonce")
    return nonce


# --------------------------------------------------------------------------- admin


async def create_kiosk(request: Request) -> Response:
    """Register a kiosk (admins). The credential is in this response only; keep it safe."""
    caller = await auth.admin(request)
    r = Reader(await read_json(request))
    r.reject_unknown({"name", "location"})
    name = r.string("name", max_length=100)
    location = r.string("location", max_length=200)
    r.raise_if_failed()
    assert name and location
    issued = await kiosks.create_kiosk(name=name, location=location, created_by=caller)
    return JsonResponse({**kiosks.kiosk_view(issued.kiosk), "credential": issued.credential},
                        status_code=201, headers={"Cache-Control": "no-store"})


async def list_kiosks(request: Request) -> Response:
    """All registered kiosks (admins); credentials are never shown again."""
    await auth.admin(request)
    return JsonResponse({"items": [kiosks.kiosk_view(k) for k in await kiosks.list_kiosks()]})


async def deactivate_kiosk(request: Request) -> Response:
    """Take a kiosk out of service: it can no longer log in, hand off or extend sessions."""
    caller = await auth.admin(request)
    kiosk = await kiosks.set_active(int(request.path_params["kiosk_id"]), False, by=caller)
    return JsonResponse(kiosks.kiosk_view(kiosk))


async def activate_kiosk(request: Request) -> Response:
    """Put a kiosk back into service (admins)."""
    caller = await auth.admin(request)
    kiosk = await kiosks.set_active(int(request.path_params["kiosk_id"]), True, by=caller)
    return JsonResponse(kiosks.kiosk_view(kiosk))


# --------------------------------------------------------------------------- the kiosk


async def kiosk_login(request: Request) -> Response:
    """The kiosk exchanges its credential for a `kiosk` token (hand-offs only)."""
    r = Reader(await read_json(request))
    r.reject_unknown({"credential"})
    credential = r.string("credential", max_length=200)
    r.raise_if_failed()
    assert credential
    token, ttl, kiosk = await kiosks.login(credential)
    return JsonResponse({"access_token": token, "token_type": "Bearer", "expires_in": ttl,
                         "kiosk": {"id": kiosk.id, "name": kiosk.name,
                                   "location": kiosk.location}},
                        headers={"Cache-Control": "no-store"})


async def create_handoff(request: Request) -> Response:
    """A one-time QR code for the idle screen (kiosks)."""
    handoff = await kiosks.create_handoff(await auth.principal(request))
    return JsonResponse(handoff.as_dict(), status_code=201, headers={"Cache-Control": "no-store"})


async def poll_handoff(request: Request) -> Response:
    """Pending, or approved with the kiosk-session token (once); 404 once expired or used."""
    body = await kiosks.poll_handoff(await auth.principal(request), _nonce(request),
                                     origin=origin(request))
    return JsonResponse(body, headers={"Cache-Control": "no-store"})


async def approve_handoff(request: Request) -> Response:
    """Staff approve showing one of their enterprises on the kiosk they scanned."""
    caller = await auth.person(request)
    r = Reader(await read_json(request))
    r.reject_unknown({"uscc"})
    raw = r.string("uscc", max_length=18)
    r.raise_if_failed()
    assert raw
    uscc, _ = validate_uscc(raw, field="uscc", allow_legacy=True)
    return JsonResponse(await kiosks.approve_handoff(caller, _nonce(request), uscc,
                                                     origin=origin(request)))


async def extend_session(request: Request) -> Response:
    """Touch on the kiosk: a fresh short token for the same session, up to its maximum."""
    body = await kiosks.extend_session(await auth.principal(request))
    return JsonResponse(body, headers={"Cache-Control": "no-store"})


async def end_session(request: Request) -> Response:
    """完成: the session token stops working everywhere at once."""
    await kiosks.end_session(await auth.principal(request), origin=origin(request))
    return Response(status_code=204)


# --------------------------------------------------------------------------- the page


class PageHeaders:
    """Pure ASGI: security headers on every static kiosk file."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _PAGE_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


routes: list[BaseRoute] = [
    Route("/v1/admin/kiosks", create_kiosk, methods=["POST"]),
    Route("/v1/admin/kiosks", list_kiosks, methods=["GET"]),
    Route("/v1/admin/kiosks/{kiosk_id:int}/deactivate", deactivate_kiosk, methods=["POST"]),
    Route("/v1/admin/kiosks/{kiosk_id:int}/activate", activate_kiosk, methods=["POST"]),
    Route("/v1/kiosk/login", kiosk_login, methods=["POST"]),
    Route("/v1/kiosk/handoffs", create_handoff, methods=["POST"]),
    Route("/v1/kiosk/handoffs/{nonce}", poll_handoff, methods=["GET"]),
    Route("/v1/kiosk/handoffs/{nonce}/approve", approve_handoff, methods=["POST"]),
    Route("/v1/kiosk/session/extend", extend_session, methods=["POST"]),
    Route("/v1/kiosk/session/end", end_session, methods=["POST"]),
    Mount("/kiosk", app=PageHeaders(StaticFiles(directory=STATIC_DIR, html=True)),
          name="kiosk"),
]
