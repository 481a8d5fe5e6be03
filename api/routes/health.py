"""Liveness, readiness, metrics, JWKS and the problem-type documentation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.errors import HTTP_CODES
from api.metrics import metrics
from api.responses import JsonResponse
from core.db import conn
from core.errors import DomainError
from core.redis import get_redis
from core.tokens import get_tokens


async def healthz(request: Request) -> Response:
    return JsonResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        await conn().execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports; it must not raise
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ready" if ready else "not-ready", "checks": checks},
                        status_code=200 if ready else 503)


async def metrics_endpoint(request: Request) -> Response:
    return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")


async def jwks(request: Request) -> Response:
    return JsonResponse(get_tokens().jwks(), headers={"Cache-Control": "public, max-age=300"})


def _domain_error_titles(cls: type[DomainError] = DomainError) -> dict[str, str]:
    titles = {cls.code: cls.title}
    for sub in cls.__subclasses__():
        titles.update(_domain_error_titles(sub))
    return titles


async def problem_type(request: Request) -> Response:
    """Documents every stable problem `type` this API returns."""
    code = request.path_params["code"]
    titles = {c: t for c, t in HTTP_CODES.values()}
    titles.update(_domain_error_titles())
    titles["invalid-uscc"] = "Invalid unified social credit code"
    if code not in titles:
        return JsonResponse({"type": f"/problems/{code}", "title": "Unknown problem type"},
                            status_code=404)
    return JsonResponse({"type": f"/problems/{code}", "title": titles[code]})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics_endpoint, methods=["GET"]),
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    Route("/problems/{code}", problem_type, methods=["GET"]),
]
