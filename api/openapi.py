"""The OpenAPI 3.1 document, built from the route table so it cannot miss a route."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.responses import JsonResponse

_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")

# Request body schemas for the calls other systems integrate against.
REQUEST_SCHEMAS: dict[str, dict[str, Any]] = {
    "put_enterprise": {
        "type": "object",
        "required": ["name", "zone", "region_code", "industry_code"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "zone": {"enum": ["nansha", "qianhai", "hengqin", "other"]},
            "region_code": {"type": "string", "pattern": "^[0-9]{6}$"},
            "industry_code": {"type": "string", "description": "GB/T 4754-2017, e.g. C3911"},
            "size": {"enum": ["large", "medium", "small", "micro"]},
            "registered_capital_yuan": {"type": "integer", "minimum": 0},
            "established_on": {"type": "string", "format": "date"},
            "status": {"enum": ["active", "abnormal", "revoked", "cancelled"]},
            "credit_level": {"enum": ["A", "B", "M", "C", "D"]},
            "legal_representative": {"type": "string"},
            "address": {"type": "string"},
            "last_annual_report_year": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 32}},
            "licences": {"type": "array", "items": {
                "type": "object", "required": ["kind", "number", "name"],
                "properties": {
                    "kind": {"type": "string"}, "number": {"type": "string"},
                    "name": {"type": "string"}, "issuer": {"type": "string"},
                    "issued_on": {"type": "string", "format": "date"},
                    "expires_on": {"type": "string", "format": "date"},
                },
            }},
        },
    },
    "put_matter": {
        "type": "object",
        "required": ["uscc", "title", "state", "updated_at"],
        "additionalProperties": False,
        "properties": {
            "uscc": {"type": "string", "minLength": 18, "maxLength": 18},
            "title": {"type": "string", "maxLength": 200},
            "state": {"enum": ["submitted", "in_review", "needs_supplement", "approved",
                               "rejected", "closed"]},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "progress_label": {"type": "string"},
            "due_on": {"type": "string", "format": "date"},
            "action_url": {"type": "string", "format": "uri"},
            "updated_at": {"type": "string", "format": "date-time",
                           "description": "source version; older versions are ignored"},
        },
    },
    "login": {
        "type": "object", "required": ["phone", "password"],
        "properties": {"phone": {"type": "string"}, "password": {"type": "string"}},
    },
}

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def build_document(routes: list[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in _flatten(routes):
        if not isinstance(route, Route) or not route.methods:
            continue
        path = _PARAM.sub(r"{\1}", route.path)
        for method in sorted(route.methods - {"HEAD"}):
            doc = (route.endpoint.__doc__ or route.name).strip().splitlines()[0]
            operation: dict[str, Any] = {
                "operationId": f"{route.name}_{method.lower()}",
                "summary": doc,
                "parameters": [
                    {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                    for n in _PARAM.findall(route.path)
                ],
                "responses": {
                    "200": {"description": "OK"},
                    "default": {"description": "Problem",
                                "content": {"application/problem+json": {"schema": PROBLEM}}},
                },
            }
            if route.name in REQUEST_SCHEMAS:
                operation["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": REQUEST_SCHEMAS[route.name]}}}
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "entpage", "version": "1", "description":
                 "企业专属网页 backend: enterprise pages, targeted notices, proactive push."},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "Authorization",
                       "description": "ApiKey <key> for department systems"},
        }},
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": paths,
    }


def _flatten(routes: list[BaseRoute]) -> list[BaseRoute]:
    flat: list[BaseRoute] = []
    for route in routes:
        sub = getattr(route, "routes", None)
        if sub and not isinstance(route, Route):
            flat.extend(_flatten(list(sub)))
        else:
            flat.append(route)
    return flat


async def openapi(request: Request) -> Response:
    return JsonResponse(build_document(list(request.app.routes)))
