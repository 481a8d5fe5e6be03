"""Publisher administration for admins: list, change department or jurisdiction, deactivate
and reactivate. Creating publishers stays at POST /v1/admin/operators. Every change is
audited (see notices.service.update_publisher)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.responses import JsonResponse, read_json
from api.routes.notices import actor, page_response, path_int
from core.errors import ValidationFailed
from core.validation import Reader
from notices import service
from notices.schemas import decode_cursor, parse_limit, reject_unknown_params
from profiles.models import ZONES


async def list_publishers(request: Request) -> Response:
    """List publishers, optionally by active flag or department (admins)."""
    who = await actor(request)
    params = request.query_params
    reject_unknown_params(params, {"active", "department", "cursor", "limit"})
    active_raw = params.get("active")
    if active_raw not in (None, "", "true", "false"):
        raise ValidationFailed("active must be true or false", field="active")
    return page_response(await service.list_publishers(
        who, active=None if not active_raw else active_raw == "true",
        department=params.get("department") or None,
        cursor=decode_cursor(params.get("cursor"), kind="publishers", arity=1),
        limit=parse_limit(params.get("limit"), default=50),
    ))


def _parse_changes(payload: Any) -> dict[str, Any]:
    r = Reader(payload)
    r.reject_unknown({"department", "jurisdiction_zones", "jurisdiction_regions", "active"})
    changes: dict[str, Any] = {}
    if r.has("department"):
        changes["department"] = r.string("department", max_length=100)
    if r.has("jurisdiction_zones"):
        zones = r.string_list("jurisdiction_zones", required=True, max_items=10,
                              max_length=16) or []
        for i, zone in enumerate(zones):
            if zone not in ZONES:
                r.fail(f"jurisdiction_zones/{i}", f"must be one of: {', '.join(ZONES)}",
                       "choice")
        changes["jurisdiction_zones"] = zones
    if r.has("jurisdiction_regions"):
        regions = r.string_list("jurisdiction_regions", required=True, max_items=200,
                                max_length=6) or []
        for i, region in enumerate(regions):
            if not (region.isdigit() and len(region) in (2, 4, 6)):
                r.fail(f"jurisdiction_regions/{i}", "must be a 2, 4 or 6 digit GB/T 2260 code")
        changes["jurisdiction_regions"] = regions
    if r.has("active"):
        changes["active"] = r.boolean("active", required=True)
    if not changes and not r.problems:
        r.fail("body", "send at least one of department, jurisdiction_zones, "
               "jurisdiction_regions, active", "required")
    r.raise_if_failed()
    return changes


async def update_publisher(request: Request) -> Response:
    """Change a publisher's department, jurisdiction or active flag (admins)."""
    who = await actor(request)
    changes = _parse_changes(await read_json(request))
    return JsonResponse(await service.update_publisher(who, path_int(request, "publisher_id"),
                                                       changes))


async def deactivate_publisher(request: Request) -> Response:
    """Deactivate a publisher: its refresh tokens are revoked and it can act no more."""
    return JsonResponse(await service.update_publisher(
        await actor(request), path_int(request, "publisher_id"), {"active": False}))


async def activate_publisher(request: Request) -> Response:
    """Reactivate a publisher (admins)."""
    return JsonResponse(await service.update_publisher(
        await actor(request), path_int(request, "publisher_id"), {"active": True}))


_PUBLISHER = "/v1/admin/publishers/{publisher_id:int}"

routes = [
    Route("/v1/admin/publishers", list_publishers, methods=["GET"]),
    Route(_PUBLISHER, update_publisher, methods=["PATCH"]),
    Route(f"{_PUBLISHER}/deactivate", deactivate_publisher, methods=["POST"]),
    Route(f"{_PUBLISHER}/activate", activate_publisher, methods=["POST"]),
]
