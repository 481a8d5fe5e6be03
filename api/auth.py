"""Who is calling: Bearer JWTs for people, operators and kiosks; ApiKey for department systems."""

from __future__ import annotations

from starlette.requests import Request

from core.errors import Forbidden, Unauthenticated
from core.principals import Principal, parse_subject
from core.tokens import get_tokens
from profiles.accounts import authenticate_api_key
from profiles.kiosks import session_revoked

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The only non-read calls a kiosk session may make: keeping itself alive and ending itself.
KIOSK_SESSION_CALLS = frozenset({"/v1/kiosk/session/extend", "/v1/kiosk/session/end"})


def refuse_kiosk_session(found: Principal) -> None:
    if found.kind == "kiosk_session":
        raise Forbidden("A kiosk session can only read this enterprise's page.")


async def principal(request: Request, *, allow_query_token: bool = False) -> Principal:
    """`allow_query_token` is for GET /v1/stream only (EventSource cannot send headers)."""
    cached = request.scope.get("entpage.principal")
    if cached is not None:
        assert isinstance(cached, Principal)
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    query_token = request.query_params.get("access_token") if allow_query_token else None
    if query_token:
        if credential and (scheme.lower() != "bearer" or credential != query_token):
            raise Unauthenticated("Send the access token either in the Authorization header "
                                  "or as access_token, not two different ones.")
        scheme, credential = "Bearer", query_token
    if not credential:
        raise Unauthenticated("Send an Authorization header: Bearer <token> or ApiKey <key>.")
    if scheme.lower() == "bearer":
        claims = await get_tokens().verify_async(credential)
        kind, subject_id = parse_subject(str(claims["sub"]))
        if kind != claims.get("pt"):
            raise Unauthenticated("The access token is inconsistent.")
        found = Principal(kind, subject_id, role=claims.get("role"), claims=claims)  # type: ignore[arg-type]
        if kind == "kiosk_session":
            if await session_revoked(claims):
                raise Unauthenticated("This kiosk session has ended.")
            # Structural, not per route: a kiosk session never writes, whatever route exists.
            if request.method not in SAFE_METHODS and request.url.path not in KIOSK_SESSION_CALLS:
                refuse_kiosk_session(found)
    elif scheme.lower() == "apikey":
        found = await authenticate_api_key(credential)
    else:
        raise Unauthenticated(f"Unsupported authorization scheme {scheme!r}.")
    request.scope["entpage.principal"] = found
    return found


async def person(request: Request) -> Principal:
    found = await principal(request)
    if found.kind != "person":
        raise Forbidden("This call is for enterprise staff accounts.")
    return found


async def admin(request: Request) -> Principal:
    found = await principal(request)
    if not found.is_admin:
        raise Forbidden("This call is for administrators.")
    return found


async def integration(request: Request) -> Principal:
    found = await principal(request)
    if found.kind != "integration":
        raise Forbidden("This call is for department systems with an API key.")
    return found
