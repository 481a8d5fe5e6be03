"""The policy library (政策信息集装箱): public search and detail for anyone, drafting,
publishing (matching) and withdrawing for publishers and admins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import auth
from api.responses import JsonResponse, read_json
from api.routes.notices import actor, idempotency_key, idempotent_response, page_response, path_int
from core.errors import ValidationFailed
from notices import policies
from notices.models import POLICY_STATUSES
from notices.policy_schemas import parse_policy, parse_search
from notices.schemas import decode_cursor, parse_limit, reject_unknown_params


async def search(request: Request) -> Response:
    """Search published policies by text, category, department and open window (public)."""
    page = await policies.search_policies(parse_search(request.query_params))
    return JsonResponse(page.as_dict(), headers={"Cache-Control": "public, max-age=60"})


async def categories(request: Request) -> Response:
    """The policy categories, in display order (public)."""
    return JsonResponse({"items": policies.categories_view()},
                        headers={"Cache-Control": "public, max-age=3600"})


async def get_policy(request: Request) -> Response:
    """One policy: public once published; drafts only for whoever manages them."""
    caller = await auth.principal(request) if request.headers.get("authorization") else None
    return JsonResponse(await policies.get_policy(caller, path_int(request, "policy_id")))


async def create_policy(request: Request) -> Response:
    """Create a policy draft (publishers, admins); honours Idempotency-Key."""
    who = await actor(request)
    key = idempotency_key(request)
    payload = await read_json(request)
    data = parse_policy(payload, partial=False)
    body, replayed = await policies.create_policy(who, data, idempotency_key=key,
                                                  payload=payload)
    return idempotent_response(body, replayed, status=201)


async def managed(request: Request) -> Response:
    """The department's policies in every status (publishers; admins see all)."""
    who = await actor(request)
    params = request.query_params
    reject_unknown_params(params, {"status", "cursor", "limit"})
    status = params.get("status") or None
    if status is not None and status not in POLICY_STATUSES:
        raise ValidationFailed(f"status must be one of: {', '.join(POLICY_STATUSES)}",
                               field="status")
    return page_response(await policies.list_managed(
        who, status=status,
        cursor=decode_cursor(params.get("cursor"), kind="managed-policies", arity=1),
        limit=parse_limit(params.get("limit")),
    ))


async def update_policy(request: Request) -> Response:
    """Edit a draft; after publishing only descriptive fields (publishers, admins)."""
    who = await actor(request)
    data = parse_policy(await read_json(request), partial=True)
    return JsonResponse(await policies.update_policy(who, path_int(request, "policy_id"), data))


async def publish_policy(request: Request) -> Response:
    """Publish a policy and match qualifying enterprises; honours Idempotency-Key."""
    who = await actor(request)
    key = idempotency_key(request)
    body, replayed = await policies.publish_policy(who, path_int(request, "policy_id"),
                                                   idempotency_key=key)
    return idempotent_response(body, replayed, status=200)


async def withdraw_policy(request: Request) -> Response:
    """Withdraw a published policy: it leaves pages and search; matches are kept."""
    return JsonResponse(await policies.withdraw_policy(await actor(request),
                                                       path_int(request, "policy_id")))


async def policy_stats(request: Request) -> Response:
    """How many enterprises a policy matched, at publishing and since (managers)."""
    return JsonResponse(await policies.policy_stats(await actor(request),
                                                    path_int(request, "policy_id")))


_POLICY = "/v1/policies/{policy_id:int}"

routes = [
    Route("/v1/policies", search, methods=["GET"]),
    Route("/v1/policies", create_policy, methods=["POST"]),
    Route("/v1/policies/categories", categories, methods=["GET"]),
    Route("/v1/policies/managed", managed, methods=["GET"]),
    Route(_POLICY, get_policy, methods=["GET"]),
    Route(_POLICY, update_policy, methods=["PATCH"]),
    Route(f"{_POLICY}/publish", publish_policy, methods=["POST"]),
    Route(f"{_POLICY}/withdraw", withdraw_policy, methods=["POST"]),
    Route(f"{_POLICY}/stats", policy_stats, methods=["GET"]),
]
