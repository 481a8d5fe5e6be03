"""The ASGI application, built from lists of routes and middleware."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from api.errors import EXCEPTION_HANDLERS
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.openapi import openapi
from api.page_shortcut import PageRouteShortcut
from api.routes import admin, auth, enterprises, health
from api.routes import console as console_routes
from api.routes import devices as device_routes
from api.routes import kiosk as kiosk_routes
from api.routes import notices as notice_routes
from api.routes import policies as policy_routes
from api.routes import publishers as publisher_routes
from api.routes import reference as reference_routes
from api.routes import stream as stream_routes
from core.db import close_db, init_db
from core.logging import configure_logging
from core.redis import close_redis, get_redis, init_redis
from core.settings import Settings, get_settings
from core.signatures import SignatureWorker
from core.tokens import get_tokens, init_tokens
from notices import page_sections as _notice_page_sections  # noqa: F401  (registers sections)
from profiles.page_cache import init_page_cache
from push import service as _push_hooks  # noqa: F401  (deliveries are created on publish)
from push.stream import close_hub

log = logging.getLogger(__name__)


def all_routes() -> list[BaseRoute]:
    # Starlette tries routes in order: the enterprise page, by far the hottest, comes first
    # (no other route shares its paths, so the order changes nothing else).
    return [
        *enterprises.routes,
        *health.routes,
        Route("/openapi.json", openapi, methods=["GET"]),
        *auth.routes,
        *admin.routes,
        *notice_routes.routes,
        *policy_routes.routes,
        *publisher_routes.routes,
        *reference_routes.routes,
        *console_routes.routes,
        *stream_routes.routes,
        *kiosk_routes.routes,
        *device_routes.routes,
    ]


def create_app(settings: Settings | None = None, *, manage_resources: bool = True) -> Starlette:
    """`manage_resources=False` leaves database and Redis to the caller (the test suite)."""
    settings = settings or get_settings()
    init_tokens(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_resources:
            configure_logging(level=settings.log_level, json_lines=settings.log_json)
            await init_db(settings)
            init_redis(settings)
        page_cache = init_page_cache(get_redis(), ttl_s=settings.page_cache_ttl_s)
        await page_cache.start_listener()
        tokens = get_tokens()
        signature_worker = None
        public_keys = tokens.public_keys()
        if manage_resources and settings.signature_worker and public_keys:
            signature_worker = SignatureWorker(public_keys)
            try:
                await signature_worker.start()
                tokens.signature_worker = signature_worker
            except Exception:  # serve anyway: signatures are then checked in this process
                log.exception("api.signature_worker_unavailable")
                await signature_worker.close()
                signature_worker = None
        if manage_resources:
            # Everything built so far (modules, the ORM's metadata, the industry table) lives
            # as long as the server: keep it out of the collector's full passes, which
            # otherwise stopped every request in flight for 60–90 ms under load (25–30 ms
            # after this; bench/page.py). Not in tests: they build many apps in one process.
            gc.freeze()
            # A request's garbage dies young, but at the default 700 allocations a cold page
            # render alone triggered young collections and promoted its objects, and full
            # passes over the page caches followed every few hundred pages (12–40 ms each,
            # stalling every request in flight). 50,000 lets request garbage die first.
            gc.set_threshold(50_000, 20, 10)
        log.info("api.started", extra={"database": settings.database_url.split("://")[0],
                                       "redis": "embedded" if settings.is_embedded_redis
                                       else "server"})
        try:
            async with contextlib.AsyncExitStack() as stack:
                if manage_resources and settings.run_worker_in_process:
                    # Embedded default: the in-process Redis is per process, so the worker
                    # runs here (docs/adr/0002).
                    from push.worker import in_process_worker

                    await stack.enter_async_context(in_process_worker())
                    log.info("api.worker_in_process")
                yield
        finally:
            await page_cache.written()  # the Redis writes behind first views, before Redis goes
            if signature_worker is not None:
                tokens.signature_worker = None
                await signature_worker.close()
            await page_cache.stop_listener()
            if manage_resources:
                await close_hub()  # the live stream's listeners, before their Redis goes
                await close_redis()
                await close_db()

    if not manage_resources:
        init_page_cache(get_redis(), ttl_s=settings.page_cache_ttl_s)
    return Starlette(
        routes=all_routes(),
        middleware=[
            Middleware(RequestContextMiddleware),
            Middleware(PageRouteShortcut),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
