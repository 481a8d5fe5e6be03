"""Administration: people and memberships, operators (admins, publishers), integration keys."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import auth
from api.responses import JsonResponse, read_json
from core.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from core.validation import Reader
from profiles import accounts
from profiles.models import MEMBER_ROLES, ZONES
from profiles.schemas import SOURCE_SYSTEM, parse_person, validate_uscc

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")


async def create_person(request: Request) -> Response:
    await auth.admin(request)
    person = await accounts.create_person(parse_person(await read_json(request)))
    return JsonResponse({"id": person.id, "phone": person.phone, "name": person.name},
                        status_code=201)


async def put_membership(request: Request) -> Response:
    await auth.admin(request)
    uscc, _ = validate_uscc(request.path_params["uscc"], field="uscc", allow_legacy=True)
    r = Reader(await read_json(request))
    r.reject_unknown({"role"})
    role = r.choice("role", MEMBER_ROLES)
    r.raise_if_failed()
    await accounts.set_membership(int(request.path_params["person_id"]), uscc, role)
    return JsonResponse({"person_id": int(request.path_params["person_id"]), "uscc": uscc,
                         "role": role})


async def delete_membership(request: Request) -> Response:
    await auth.admin(request)
    uscc, _ = validate_uscc(request.path_params["uscc"], field="uscc", allow_legacy=True)
    await accounts.set_membership(int(request.path_params["person_id"]), uscc, None)
    return Response(status_code=204)


async def create_operator(request: Request) -> Response:
    await auth.admin(request)
    r = Reader(await read_json(request))
    r.reject_unknown({"username", "display_name", "password", "role", "department",
                      "jurisdiction_zones", "jurisdiction_regions"})
    username = r.string("username", max_length=64, pattern=USERNAME)
    display_name = r.string("display_name", max_length=100)
    password = r.string("password", min_length=MIN_PASSWORD_LENGTH,
                        max_length=MAX_PASSWORD_LENGTH)
    role = r.choice("role", ("admin", "publisher"))
    department = r.string("department", required=False, max_length=100)
    zones = r.string_list("jurisdiction_zones", max_items=10, max_length=16) or []
    regions = r.string_list("jurisdiction_regions", max_items=200, max_length=6) or []
    for i, zone in enumerate(zones):
        if zone not in ZONES:
            r.fail(f"jurisdiction_zones/{i}", f"must be one of: {', '.join(ZONES)}", "choice")
    for i, region in enumerate(regions):
        if not (region.isdigit() and len(region) in (2, 4, 6)):
            r.fail(f"jurisdiction_regions/{i}", "must be a 2, 4 or 6 digit GB/T 2260 code")
    if role == "publisher" and not zones and not regions:
        r.fail("jurisdiction_zones", "a publisher needs a jurisdiction (zones or regions)",
               "required")
    r.raise_if_failed()
    assert username and display_name and password and role
    op = await accounts.create_operator(
        username=username, display_name=display_name, password=password, role=role,
        department=department, zones=zones, regions=regions,
    )
    return JsonResponse({"id": op.id, "username": op.username, "role": op.role},
                        status_code=201)


async def create_integration(request: Request) -> Response:
    await auth.admin(request)
    r = Reader(await read_json(request))
    r.reject_unknown({"name", "source_system", "scopes", "is_registry"})
    name = r.string("name", max_length=100)
    source_system = r.string("source_system", max_length=32, pattern=SOURCE_SYSTEM)
    scopes = r.string_list("scopes", required=True, max_items=10) or []
    is_registry = r.boolean("is_registry")
    r.raise_if_failed()
    assert name and source_system
    issued = await accounts.create_integration(name=name, source_system=source_system,
                                               scopes=scopes, is_registry=is_registry)
    return JsonResponse({
        "id": issued.client.id, "source_system": source_system, "scopes": scopes,
        "api_key": issued.api_key,  # shown once; only its hash is stored
    }, status_code=201)


routes = [
    Route("/v1/admin/people", create_person, methods=["POST"]),
    Route("/v1/admin/people/{person_id:int}/memberships/{uscc}", put_membership,
          methods=["PUT"]),
    Route("/v1/admin/people/{person_id:int}/memberships/{uscc}", delete_membership,
          methods=["DELETE"]),
    Route("/v1/admin/operators", create_operator, methods=["POST"]),
    Route("/v1/admin/integrations", create_integration, methods=["POST"]),
]
