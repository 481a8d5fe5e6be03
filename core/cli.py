"""The `entpage` command: serve, worker, migrate, seed, import (fixed points other tools use)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from core.settings import Settings, get_settings, reset_settings_cache


def _say(message: str) -> None:
    print(f"entpage: {message}", file=sys.stderr, flush=True)


def _progress_printer(label: str) -> Callable[[str, int, int], None]:
    started = time.perf_counter()
    last = [0.0]

    def report(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] < 0.5 and done != total:
            return
        last[0] = now
        share = f" ({done * 100 // total}%)" if total else ""
        rate = done / max(now - started, 1e-9)
        _say(f"{label}: {stage} {done:,}{'/' + format(total, ',') if total else ''}{share} "
             f"· {now - started:.1f}s · {rate:,.0f}/s")

    return report


async def _with_db(settings: Settings, work: Callable[[], Awaitable[int]]) -> int:
    # Profile writes re-match policies and standing notices; deliveries follow publishes.
    import notices.page_sections
    import push.service  # noqa: F401
    from core.db import close_db, init_db
    from core.redis import close_redis, init_redis
    from profiles.page_cache import init_page_cache

    notices.page_sections.install()
    await init_db(settings)
    redis = init_redis(settings)
    init_page_cache(redis, ttl_s=settings.page_cache_ttl_s)
    try:
        return await work()
    finally:
        await close_redis()
        await close_db()


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from core import migrate

    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    _say(f"migrating {settings.database_url.split('://')[0]} database to {args.revision}")
    if args.downgrade:
        migrate.downgrade(settings.database_url, args.downgrade)
    else:
        migrate.upgrade(settings.database_url, args.revision)
    _say("schema is up to date")
    return 0


def _seed_steps() -> list[Any]:
    try:
        from push.seed import seed_devices  # devices exist once the push domain is installed
    except ImportError:
        return []
    return [seed_devices]


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from profiles.seed import seed

    async def work() -> int:
        _say(f"seeding {args.enterprises:,} enterprises (random seed {args.seed})")
        summary = await seed(enterprises=args.enterprises, random_seed=args.seed,
                             reset=args.reset, progress=_progress_printer("seed"),
                             extra_steps=_seed_steps())
        _say(f"seeded {summary.enterprises:,} enterprises, {summary.people:,} people, "
             f"{summary.devices:,} devices, {summary.licences:,} licences, "
             f"{summary.matters:,} matters in {summary.seconds:.1f}s")
        for who, login in summary.demo_logins.items():
            _say(f"  demo login — {who}: {login}")
        return 0

    return asyncio.run(_with_db(settings, work))


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from profiles.importer import import_file

    path = Path(args.file)
    if not path.exists():
        _say(f"no such file: {path}")
        return 2

    async def work() -> int:
        _say(f"importing {path} as source system {args.source_system!r}")
        result = await import_file(path, source_system=args.source_system,
                                   allow_legacy=args.registry, skip_invalid=args.skip_invalid,
                                   progress=_progress_printer("import"))
        for error in result.errors[:200]:
            print(f"row {error.row}: {error.field}: {error.reason}", file=sys.stdout)
        if len(result.errors) > 200:
            print(f"… and {len(result.errors) - 200} more problems", file=sys.stdout)
        if not result.written:
            _say(f"{len(result.errors)} problem(s) in {result.rows:,} rows; nothing was written "
                 "(fix the file, or pass --skip-invalid to load only the valid rows)")
            return 1
        _say(f"{result.rows:,} rows: {result.created:,} created, {result.updated:,} updated, "
             f"{result.unchanged:,} unchanged, {len(result.errors):,} skipped as invalid")
        return 0

    return asyncio.run(_with_db(settings, work))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if args.with_fakes:
        _start_fakes_in_background()
    _say(f"serving on http://{args.host}:{args.port} (database: "
         f"{settings.database_url.split('://')[0]}, redis: "
         f"{'embedded' if settings.is_embedded_redis else 'server'})")
    uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, http="httptools", access_log=False, log_level="warning",
                # Live streams (/v1/stream) never finish on their own: give them 5 s, then close.
                lifespan="on", timeout_graceful_shutdown=5)
    return 0


def _start_fakes_in_background() -> None:
    """Demo mode: run the fake FCM and WeChat servers beside the API so pushes are visible."""
    import subprocess

    fcm_port, wechat_port = 9101, 9102
    for module, port in (("push.fakes.fcm", fcm_port), ("push.fakes.wechat", wechat_port)):
        subprocess.Popen([sys.executable, "-m", module, "--host", "127.0.0.1", "--port",
                          str(port)])
    os.environ.setdefault("ENTPAGE_FCM_ENDPOINT", f"http://127.0.0.1:{fcm_port}")
    os.environ.setdefault("ENTPAGE_WECHAT_API_BASE", f"http://127.0.0.1:{wechat_port}")
    reset_settings_cache()
    _say(f"fake FCM on :{fcm_port}, fake WeChat on :{wechat_port} "
         f"(recent pushes: http://127.0.0.1:{fcm_port}/_fake/messages)")


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from push.worker import main as worker_main
    except ImportError:
        _say("the push worker is not installed in this build")
        return 2
    return int(worker_main(worker_id=args.id) or 0)


def cmd_create_integration(args: argparse.Namespace, settings: Settings) -> int:
    from profiles import accounts

    async def work() -> int:
        issued = await accounts.create_integration(
            name=args.name, source_system=args.source_system,
            scopes=["enterprises:write", "matters:write"], is_registry=args.registry,
        )
        print(issued.api_key)
        _say("store this key now; only its hash is kept")
        return 0

    return asyncio.run(_with_db(settings, work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="entpage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    serve.add_argument("--host", default=os.environ.get("ENTPAGE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("ENTPAGE_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--with-fakes", action="store_true",
                       help="also run the fake FCM and WeChat servers (demo)")
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser("worker", help="run a delivery worker")
    worker.add_argument("--id", default=f"worker-{os.getpid()}")
    worker.set_defaults(handler=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply Alembic migrations")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--downgrade", metavar="REV")
    migrate.set_defaults(handler=cmd_migrate)

    seed = sub.add_parser("seed", help="create a reproducible synthetic population")
    seed.add_argument("--enterprises", type=int, required=True)
    seed.add_argument("--seed", type=int, default=20261121)
    seed.add_argument("--reset", action="store_true", help="empty every table first")
    seed.set_defaults(handler=cmd_seed)

    importer = sub.add_parser("import", help="bulk-load enterprises from CSV or JSON Lines")
    importer.add_argument("file")
    importer.add_argument("--source-system", default="import")
    importer.add_argument("--registry", action="store_true",
                          help="registry feed: accept legacy USCCs that fail the check digit")
    importer.add_argument("--skip-invalid", action="store_true")
    importer.set_defaults(handler=cmd_import)

    integration = sub.add_parser("create-integration", help="issue an API key for a department")
    integration.add_argument("--name", required=True)
    integration.add_argument("--source-system", required=True)
    integration.add_argument("--registry", action="store_true")
    integration.set_defaults(handler=cmd_create_integration)
    return parser


def main(argv: list[str] | None = None) -> int:
    from core.logging import configure_logging

    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    return int(args.handler(args, settings))


if __name__ == "__main__":
    raise SystemExit(main())
