"""The enterprise page, by far the hottest request, handled before the router.

Starlette's exception layer, router and endpoint wrapper cost a cached page more than the rest
of the request, so this pure ASGI middleware takes GET/HEAD on exactly the page route's path:

- a member opening the page again — a token this process verified before, the page and the
  membership answer in this process's cache (layer 1 of profiles.page_cache, kept exact by
  invalidation messages) — gets the route's own response (`page_response`) at once;
- every other page request runs the route's endpoint itself (`get_page`), with its errors
  turned into problem+json by the application's own handler, as the router would.

Anything else passes on untouched.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import domain_error_handler
from api.routes.enterprises import PAGE_ROUTE, get_page, page_response
from core.errors import DomainError
from core.principals import parse_subject
from core.tokens import get_tokens
from profiles.schemas import validate_uscc
from profiles.service import cached_page_for_member

_PREFIX = "/v1/enterprises/"
_SUFFIX = "/page"


class PageRouteShortcut:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path: str = scope["path"]
            if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                raw_uscc = path[len(_PREFIX):-len(_SUFFIX)]
                if raw_uscc and "/" not in raw_uscc:
                    scope["route"] = PAGE_ROUTE  # metrics and logs name the route as usual
                    response = _cached_answer(scope, raw_uscc)
                    if response is None:
                        response = await _through_endpoint(scope, receive, raw_uscc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _through_endpoint(scope: Scope, receive: Receive, raw_uscc: str) -> Response:
    scope["path_params"] = {"uscc": raw_uscc}
    request = Request(scope, receive)
    try:
        return await get_page(request)
    except DomainError as exc:  # anything else reaches ServerErrorMiddleware, as it would
        return await domain_error_handler(request, exc)


def _cached_answer(scope: Scope, raw_uscc: str) -> Response | None:
    authorization = if_none_match = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value
        elif name == b"if-none-match":
            if_none_match = value
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or scope.get("query_string"):
        return None
    claims = get_tokens().verified(token.strip())
    if claims is None or claims.get("pt") != "person":
        return None
    try:
        kind, person_id = parse_subject(str(claims["sub"]))
        uscc, _ = validate_uscc(raw_uscc, field="uscc", allow_legacy=True)
    except (DomainError, ValueError):
        return None
    if kind != "person":
        return None
    page = cached_page_for_member(person_id, uscc)
    if page is None:
        return None
    return page_response(page, if_none_match=if_none_match.decode("latin-1"))
