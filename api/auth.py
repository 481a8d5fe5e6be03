"""Who is calling: Bearer JWTs for people, operators and kiosks; ApiKey for department systems."""

from __future__ import annotations

from starlette.requests import Request

from core.errors import Forbidden, Unauthenticated
from core.principals import Principal, parse_subject
from core.tokens import get_tokens
from profiles.accounts import authenticate_api_key


async def principal(request: Request) -> Principal:
    cached = request.scope.get("entpage.principal")
    if cached is not None:
        assert isinstance(cached, Principal)
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if not credential:
        raise Unauthenticated("Send an Authorization header: Bearer <token> or ApiKey <key>.")
    if scheme.lower() == "bearer":
        claims = get_tokens().verify(credential)
        kind, subject_id = parse_subject(str(claims["sub"]))
        if kind != claims.get("pt"):
            raise Unauthenticated("The access token is inconsistent.")
        found = Principal(kind, subject_id, role=claims.get("role"), claims=claims)  # type: ignore[arg-type]
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
