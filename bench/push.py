"""Push delivery end to end: publish a notice to every enterprise, one worker process sends
every FCM delivery to the fake FCM (a separate process, 20 ms per request), measured from the
publish call to the last message the fake accepts; next to it, in the same run, the stock path
(firebase-admin `send_each` in batches of 500) on a sample of the same messages and fake.

    .venv/bin/python bench/push.py                      # 199,000 enterprises, 20 ms latency
    .venv/bin/python bench/push.py --enterprises 20000 --latency-ms 20 --stock-messages 5000

PostgreSQL + Redis (bench/common.py: the local `entpage_bench` database, Redis db 14). The
population comes from `entpage seed --enterprises N` (seeded if smaller than asked); devices
are added with `push.seed.seed_devices` if the population has none. The worker runs as
`python -m push.worker` (uvloop) with FCM only; its RSS is sampled every half second.

Targets (issue 4): ≥ 8,000 FCM messages/s end to end on one worker process, ≥ 10× the stock
path, flat worker memory. Earlier runs' bench notices and all deliveries are removed first.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, bench_env, process_cpu_seconds, process_rss_mib

BENCH_TITLE = "【压测】关于报送2025年度企业年报的提醒"
PROJECT_ID = "entpage-bench"


@dataclass
class Measured:
    fcm_deliveries: int = 0
    all_deliveries: int = 0
    publish_s: float = 0.0
    end_to_end_s: float = 0.0
    worker_cpu_s: float = 0.0
    fake_sent: int = 0
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MiB)
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.fcm_deliveries / self.end_to_end_s if self.end_to_end_s else 0.0


async def prepare(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Migrate, seed if needed, add devices if missing; returns the FCM device count."""
    from core.db import close_db, conn, init_db
    from core.settings import get_settings

    await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "core.cli", "migrate"],
                            env=env, check=True, capture_output=True)
    settings = get_settings()
    await init_db(settings)
    try:
        count = (await conn().execute_query_dict("SELECT COUNT(*) AS n FROM enterprises"))[0]["n"]
        if count < args.enterprises:
            await close_db()
            print(f"bench: seeding {args.enterprises:,} enterprises (found {count:,})",
                  file=sys.stderr)
            await asyncio.to_thread(subprocess.run, [
                sys.executable, "-m", "core.cli", "seed", "--enterprises",
                str(args.enterprises), "--reset"], env=env, check=True)
            await init_db(settings)
        devices = (await conn().execute_query_dict("SELECT COUNT(*) AS n FROM devices"))[0]["n"]
        if not devices:
            from push.seed import seed_devices

            print("bench: adding devices to the population", file=sys.stderr)
            started = time.perf_counter()
            devices = await seed_devices(random.Random(20261121))
            await conn().execute_script("ANALYZE")
            print(f"bench: {devices:,} devices in {time.perf_counter() - started:.0f}s",
                  file=sys.stderr)
        # Start clean: earlier bench notices (recipients cascade) and every delivery.
        await conn().execute_script(
            f"DELETE FROM notices WHERE title = '{BENCH_TITLE}'; "
            "TRUNCATE deliveries, push_messages, push_outbox, push_channel_pauses")
        for table in ("deliveries", "notice_recipients", "devices"):
            await conn().execute_script(f"VACUUM ANALYZE {table}")  # one per call: no tx block
        rows = await conn().execute_query_dict(
            "SELECT COUNT(*) AS n FROM devices WHERE channel = 'fcm' AND active")
        return int(rows[0]["n"])
    finally:
        await close_db()


async def publish_and_watch(args: argparse.Namespace, *, worker_pid: int,
                            fake_url: str) -> Measured:
    import aiohttp

    from core.audit import Origin
    from core.db import close_db, conn, init_db
    from core.principals import Principal
    from core.redis import close_redis, init_redis
    from core.settings import get_settings
    from notices import service as notices_service
    from notices.schemas import Actor, parse_notice
    from profiles import accounts
    from profiles.models import Operator
    from profiles.page_cache import init_page_cache
    from push import service as _push_hooks  # noqa: F401  (deliveries are made on publish)

    settings = get_settings()
    await init_db(settings)
    redis = init_redis(settings)
    init_page_cache(redis, ttl_s=settings.page_cache_ttl_s)
    measured = Measured()
    try:
        op = await Operator.get_or_none(username="bench.push")
        if op is None:
            op = await accounts.create_operator(
                username="bench.push", display_name="推送压测", password="bench-password",
                role="admin", department="数据管理局", zones=[], regions=[])
        actor = Actor(Principal("operator", op.id, role="admin"),
                      Origin(user_agent="bench/push.py"))
        draft, _ = await notices_service.create_notice(actor, parse_notice({
            "kind": "notice", "title": BENCH_TITLE, "rule": {"all": []},
            "body": "请于 **6月30日** 前通过企业专属网页报送2025年度年报，逾期将被列入经营异常名录。",
        }, partial=False), idempotency_key=None, payload={})

        async def fake_sent(session: aiohttp.ClientSession) -> int:
            async with session.get(f"{fake_url}/_fake/stats") as response:
                counts: dict[str, int] = (await response.json())["counts"]
            return counts.get("send.sent", 0)

        async with aiohttp.ClientSession() as session:
            sent_before = await fake_sent(session)
            cpu_before = process_cpu_seconds(worker_pid)
            started = time.perf_counter()
            await notices_service.publish_notice(actor, int(draft["id"]), idempotency_key=None)
            measured.publish_s = time.perf_counter() - started
            rows = await conn().execute_query_dict(
                "SELECT channel, status, COUNT(*) AS n FROM deliveries GROUP BY 1, 2")
            measured.fcm_deliveries = sum(int(r["n"]) for r in rows
                                          if r["channel"] == "fcm" and r["status"] != "skipped")
            measured.all_deliveries = sum(int(r["n"]) for r in rows)
            print(f"bench: published in {measured.publish_s:.1f}s: "
                  f"{measured.all_deliveries:,} deliveries, {measured.fcm_deliveries:,} FCM",
                  file=sys.stderr, flush=True)
            next_report = 0.0
            while True:
                now = time.perf_counter() - started
                measured.rss.append((now, process_rss_mib(worker_pid)))
                sent = await fake_sent(session) - sent_before
                if sent >= measured.fcm_deliveries:
                    measured.end_to_end_s = time.perf_counter() - started
                    measured.fake_sent = sent
                    break
                if now >= next_report:
                    print(f"bench: {now:6.1f}s {sent:>9,} sent, worker RSS "
                          f"{measured.rss[-1][1]:.0f} MiB", file=sys.stderr, flush=True)
                    next_report = now + 10
                if now > args.max_seconds:
                    raise SystemExit(f"bench: gave up after {args.max_seconds}s ({sent:,} sent)")
                await asyncio.sleep(0.05)
            measured.worker_cpu_s = process_cpu_seconds(worker_pid) - cpu_before
            await asyncio.sleep(1.0)  # the last outcomes reach the record
            rows = await conn().execute_query_dict(
                "SELECT status, COUNT(*) AS n FROM deliveries WHERE channel = 'fcm' "
                "GROUP BY status")
            measured.statuses = {str(r["status"]): int(r["n"]) for r in rows}
    finally:
        await close_redis()
        await close_db()
    return measured


def sample_messages(count: int) -> list[Any]:
    """The very messages the worker sent (same template), addressed to `count` tokens."""
    import copy

    from firebase_admin import messaging

    from push.messages import MessageRow, fcm_message

    row = MessageRow(id=1, source="notice", source_id=1, kind="notice", urgent=False,
                     title=BENCH_TITLE, body="请于6月30日前通过企业专属网页报送2025年度年报。",
                     data={"notice_id": "1"}, created_at=dt.datetime.now(dt.UTC))
    template = fcm_message(row)
    messages = []
    for i in range(count):
        message = copy.copy(template)
        target = "fid" if hasattr(message, "fid") else "token"
        setattr(message, target, f"stock-{i:07d}:APA91b{'s' * 140}")
        messages.append(message)
    assert isinstance(messages[0], messaging.Message)
    return messages


def run_stock(fake_url: str, key_file: Path, count: int) -> tuple[float, int]:
    import firebase_admin
    from firebase_admin import credentials

    from push.providers.base import SendStatus
    from push.providers.fcm import route_messaging_to_endpoint, send_each_in_batches

    app = firebase_admin.initialize_app(credentials.Certificate(str(key_file)),
                                        name="bench-push-stock")
    try:
        route_messaging_to_endpoint(app, fake_url)
        messages = sample_messages(count + 500)
        send_each_in_batches(messages[:500], app=app)  # warm-up: token, connection pool
        started = time.perf_counter()
        outcomes = send_each_in_batches(messages[500:], app=app)
        seconds = time.perf_counter() - started
    finally:
        firebase_admin.delete_app(app)
    return count / seconds, sum(o.status is SendStatus.SENT for o in outcomes)


async def run_client_ceiling(fake_url: str, key_file: Path, count: int,
                             concurrency: int) -> float:
    """The FCM client alone on the same messages and fake (no database, no pipeline): what
    the worker's sends cost at best on this machine right now."""
    from firebase_admin import credentials

    from push.config import push_config
    from push.messages import MessageRow, prepare
    from push.providers.fcm import FcmClient

    row = MessageRow(id=1, source="notice", source_id=1, kind="notice", urgent=False,
                     title=BENCH_TITLE, body="请于6月30日前通过企业专属网页报送2025年度年报。",
                     data={"notice_id": "1"}, created_at=dt.datetime.now(dt.UTC))
    template = prepare(row, push_config()).fcm
    assert template is not None
    tokens = [f"ceiling-{i:07d}:APA91b{'c' * 140}" for i in range(count)]
    async with FcmClient(credential=credentials.Certificate(str(key_file)),
                         project_id=PROJECT_ID, endpoint=fake_url,
                         max_in_flight=concurrency) as client:
        await client.send_batch(template, tokens[:concurrency * 2])  # token, connections
        started = time.perf_counter()
        await client.send_batch(template, tokens)
        return count / (time.perf_counter() - started)


def report(args: argparse.Namespace, m: Measured, stock_rate: float, stock_sent: int,
           ceiling: float) -> None:
    rss = [mib for _, mib in m.rss]
    quarter = max(1, len(m.rss) // 4)
    samples = [m.rss[min(i * quarter, len(m.rss) - 1)] for i in range(5)]
    ratio = m.per_second / stock_rate if stock_rate else 0.0
    print()
    print(f"population: {args.enterprises:,} enterprises; {m.all_deliveries:,} deliveries "
          f"({m.fcm_deliveries:,} FCM to send); fake FCM latency {args.latency_ms:g} ms; "
          f"{os.cpu_count()} cores")
    print(f"{'path':<44} {'messages':>10} {'seconds':>9} {'msg/s':>9}")
    print(f"{'entpage: publish → last FCM send (1 worker)':<44} {m.fcm_deliveries:>10,} "
          f"{m.end_to_end_s:>9.1f} {m.per_second:>9,.0f}")
    print(f"{'  of which publish (recipients + deliveries)':<44} {'':>10} {m.publish_s:>9.1f}")
    print(f"{'firebase-admin send_each (500/batch), sample':<44} {stock_sent:>10,} "
          f"{stock_sent / stock_rate if stock_rate else 0:>9.1f} {stock_rate:>9,.0f}")
    print(f"{'FcmClient alone (no DB, no pipeline), sample':<44} {args.ceiling_messages:>10,} "
          f"{args.ceiling_messages / ceiling if ceiling else 0:>9.1f} {ceiling:>9,.0f}")
    print(f"ratio: {ratio:.1f}× the stock path; end to end at {m.per_second / ceiling:.0%} of the "
          f"bare client; worker CPU {m.worker_cpu_s / max(1, m.fcm_deliveries) * 1e6:.0f} µs "
          "per message")
    print("worker RSS (MiB) over the send: " + ", ".join(
        f"{t:.0f}s {mib:.0f}" for t, mib in samples) + f"; min {min(rss):.0f}, max {max(rss):.0f}")
    print(f"FCM delivery statuses after the run: {m.statuses}")
    print(f"targets: ≥ 8,000 msg/s {'PASS' if m.per_second >= 8000 else 'FAIL'}; "
          f"≥ 10× stock {'PASS' if ratio >= 10 else 'FAIL'}; "
          f"flat memory (max − min < 64 MiB) {'PASS' if max(rss) - min(rss) < 64 else 'FAIL'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=199_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--stock-messages", type=int, default=5_000)
    parser.add_argument("--ceiling-messages", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--max-seconds", type=float, default=1800)
    args = parser.parse_args()

    from push.fakes.credentials import write_fake_service_account
    from push.fakes.process import spawned_fake

    env = bench_env()
    os.environ.update(env)
    fcm_devices = asyncio.run(prepare(args, env))
    print(f"bench: {fcm_devices:,} active FCM devices", file=sys.stderr)
    fake_args = ["--latency-ms", str(args.latency_ms), "--keep-messages", "1000"]
    with spawned_fake("push.fakes.fcm", args=fake_args) as fake, \
            tempfile.TemporaryDirectory() as workdir:
        key = write_fake_service_account(Path(workdir) / "sa.json",
                                         token_uri=f"{fake.base_url}/token",
                                         project_id=PROJECT_ID)
        worker_env = {**env, "ENTPAGE_FCM_ENDPOINT": fake.base_url,
                      "ENTPAGE_FCM_CREDENTIALS_FILE": str(key),
                      "ENTPAGE_FCM_PROJECT_ID": PROJECT_ID}
        worker = subprocess.Popen([
            sys.executable, "-m", "push.worker", "--id", "bench", "--channels", "fcm",
            "--no-scheduler", "--batch-size", str(args.batch_size),
            "--concurrency", str(args.concurrency)], env=worker_env, cwd=ROOT)
        try:
            time.sleep(2.0)  # imports, pools, the first access token
            os.environ.update(worker_env)
            measured = asyncio.run(publish_and_watch(args, worker_pid=worker.pid,
                                                     fake_url=fake.base_url))
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        stock_rate, stock_sent = run_stock(fake.base_url, key, args.stock_messages)
        try:
            import uvloop  # the worker runs on uvloop: so does its ceiling
        except ImportError:
            ceiling = asyncio.run(run_client_ceiling(fake.base_url, key, args.ceiling_messages,
                                                     args.concurrency))
        else:
            ceiling = uvloop.run(run_client_ceiling(fake.base_url, key, args.ceiling_messages,
                                                    args.concurrency))
    report(args, measured, stock_rate, stock_sent, ceiling)


if __name__ == "__main__":
    main()
