"""Enterprise profiles synced by department systems, matters, and the dedicated page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import auth
from api.responses import JsonResponse, PreparedResponse, read_json
from core.errors import Forbidden
from profiles import accounts, service
from profiles.page import build_page
from profiles.page_cache import CachedPage
from profiles.schemas import parse_enterprise, parse_matter, validate_uscc


async def put_enterprise(request: Request) -> Response:
    caller = await auth.integration(request)
    accounts.require_scope(caller, "enterprises:write")
    data = parse_enterprise(request.path_params["uscc"], await read_json(request),
                            allow_legacy=bool(caller.claims.get("is_registry")))
    [change] = await service.put_enterprises(
        [data], source_system=str(caller.claims["source_system"])
    )
    body = {
        "uscc": change.uscc,
        "created": change.created,
        "changed_fields": sorted(change.changed_fields),
        "legacy_uscc": data.legacy_uscc,
    }
    return JsonResponse(body, status_code=201 if change.created else 200)


async def get_enterprise(request: Request) -> Response:
    caller = await auth.principal(request)
    uscc, _ = validate_uscc(request.path_params["uscc"], field="uscc", allow_legacy=True)
    if caller.kind != "integration":
        await service.authorize_enterprise_read(caller, uscc)
    page = await build_page(uscc)
    if page is None:
        from core.errors import NotFound

        raise NotFound(f"No enterprise {uscc} is registered.", field="uscc")
    return JsonResponse(page["enterprise"])


_PAGE_HEADERS = [(b"cache-control", b"private, no-cache"), (b"vary", b"Authorization")]
_JSON = (b"content-type", b"application/json")


async def get_page(request: Request) -> Response:
    caller = await auth.principal(request)
    uscc, _ = validate_uscc(request.path_params["uscc"], field="uscc", allow_legacy=True)
    if caller.kind == "integration":
        raise Forbidden("Department systems cannot read enterprise pages.")
    page = await service.get_page(caller, uscc)
    return page_response(page, if_none_match=request.headers.get("if-none-match", ""))


def page_response(page: CachedPage, *, if_none_match: str) -> Response:
    headers = [(b"etag", page.etag.encode()), *_PAGE_HEADERS]
    if page.etag in if_none_match:
        return PreparedResponse(b"", status_code=304, raw_headers=headers)
    return PreparedResponse(page.body, raw_headers=[*headers, _JSON])


async def put_matter(request: Request) -> Response:
    caller = await auth.integration(request)
    accounts.require_scope(caller, "matters:write")
    source_system = request.path_params["source_system"]
    if source_system != caller.claims["source_system"]:
        raise Forbidden(f"This key writes matters of {caller.claims['source_system']!r} only.",
                        field="source_system")
    matter = parse_matter(source_system, request.path_params["external_id"],
                          await read_json(request))
    outcome = await service.put_matter(matter)
    return JsonResponse(
        {"source_system": source_system, "external_id": matter.external_id, "result": outcome},
        status_code=201 if outcome == "created" else 200,
    )


PAGE_ROUTE = Route("/v1/enterprises/{uscc}/page", get_page, methods=["GET"])

routes = [
    # The page first: it is the hottest route, and Starlette tries routes in order (a page
    # already in this process's cache is answered before the router: api.page_shortcut).
    PAGE_ROUTE,
    Route("/v1/enterprises/{uscc}", put_enterprise, methods=["PUT"]),
    Route("/v1/enterprises/{uscc}", get_enterprise, methods=["GET"]),
    Route("/v1/matters/{source_system}/{external_id}", put_matter, methods=["PUT"]),
]
