"""The ceiling: a plain Starlette JSON endpoint, served with the same uvicorn settings."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def hello(request: Request) -> Response:
    return JSONResponse({"hello": "world"})


def create_app() -> Starlette:
    return Starlette(routes=[Route("/hello", hello, methods=["GET"])])
