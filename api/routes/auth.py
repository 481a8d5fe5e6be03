"""Login, token refresh with rotation, logout and the caller's own profile."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import auth
from api.responses import JsonResponse, read_json
from core.validation import Reader
from profiles import accounts, repository
from profiles.models import Operator, Person


async def login(request: Request) -> Response:
    r = Reader(await read_json(request))
    r.reject_unknown({"phone", "password"})
    phone = r.string("phone", max_length=16)
    password = r.string("password", max_length=128)
    r.raise_if_failed()
    assert phone and password
    return JsonResponse((await accounts.login_person(phone, password)).as_dict())


async def operator_login(request: Request) -> Response:
    r = Reader(await read_json(request))
    r.reject_unknown({"username", "password"})
    username = r.string("username", max_length=64)
    password = r.string("password", max_length=128)
    r.raise_if_failed()
    assert username and password
    return JsonResponse((await accounts.login_operator(username, password)).as_dict())


def _refresh_token(payload: object) -> str:
    r = Reader(payload)
    r.reject_unknown({"refresh_token"})
    token = r.string("refresh_token", max_length=200)
    r.raise_if_failed()
    assert token
    return token


async def refresh(request: Request) -> Response:
    token = _refresh_token(await read_json(request))
    return JsonResponse((await accounts.refresh(token)).as_dict())


async def logout(request: Request) -> Response:
    await accounts.logout(_refresh_token(await read_json(request)))
    return Response(status_code=204)


async def me(request: Request) -> Response:
    caller = await auth.principal(request)
    if caller.kind == "person":
        person = await Person.get(id=caller.id)
        return JsonResponse({
            "kind": "person", "id": person.id, "name": person.name, "phone": person.phone,
            "locale": person.locale,
            "enterprises": await repository.memberships_of(person.id),
        })
    if caller.kind == "operator":
        op = await Operator.get(id=caller.id)
        return JsonResponse({
            "kind": "operator", "id": op.id, "username": op.username, "name": op.display_name,
            "role": op.role, "department": op.department,
            "jurisdiction": {"zones": op.jurisdiction_zones, "regions": op.jurisdiction_regions},
        })
    return JsonResponse({"kind": caller.kind, "id": caller.id})


routes = [
    Route("/v1/auth/login", login, methods=["POST"]),
    Route("/v1/auth/operator-login", operator_login, methods=["POST"]),
    Route("/v1/auth/refresh", refresh, methods=["POST"]),
    Route("/v1/auth/logout", logout, methods=["POST"]),
    Route("/v1/me", me, methods=["GET"]),
]
