"""FCM send throughput, side by side in one run: the stock firebase-admin path
(`messaging.send_each`, 500-message batches) against our pooled aiohttp client, both sending to
the fake FCM running in a separate process with simulated per-request latency.

    .venv/bin/python bench/fcm_client.py            # 50,000 fast, 5,000 stock, 20 ms latency
    .venv/bin/python bench/fcm_client.py --messages 20000 --latency-ms 50

It also reports the CPU each side spent per message, and the fake's capacity (messages per
CPU-second), to show the fake is not what limits the client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import firebase_admin
from firebase_admin import credentials, messaging
from yarl import URL

from bench.common import process_cpu_seconds, process_rss_mib
from push.fakes.control_client import FakeControl
from push.fakes.credentials import write_fake_service_account
from push.fakes.process import spawned_fake
from push.providers.base import SendStatus
from push.providers.fcm import (
    FcmClient,
    FcmMessageTemplate,
    route_messaging_to_endpoint,
    send_each_in_batches,
)

PROJECT_ID = "entpage-bench"


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    messages: int
    sent: int
    seconds: float
    client_cpu_s: float
    fake_cpu_s: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    def row(self) -> str:
        client_us = self.client_cpu_s / self.messages * 1e6
        fake_us = self.fake_cpu_s / self.messages * 1e6
        fake_capacity = self.messages / self.fake_cpu_s if self.fake_cpu_s else float("inf")
        return (
            f"{self.label:<34} {self.messages:>8,} {self.sent:>8,} {self.seconds:>8.2f} "
            f"{self.per_second:>10,.0f} {client_us:>10.0f} {fake_us:>8.0f} {fake_capacity:>12,.0f}"
        )


def notice() -> messaging.Message:
    return messaging.Message(
        notification=messaging.Notification(
            title="年报报送提醒", body="请于6月30日前通过企业专属网页报送2025年度年报。"
        ),
        data={"notice_id": "bench-1", "kind": "reminder"},
        android=messaging.AndroidConfig(priority="high"),
    )


def tokens(count: int, prefix: str) -> list[str]:
    return [f"{prefix}-{i:07d}-{secrets.token_hex(8)}" for i in range(count)]


def run_stock(app: firebase_admin.App, *, count: int, fake_pid: int) -> Run:
    template = notice()
    batch = [
        messaging.Message(
            notification=template.notification, data=template.data, android=template.android, fid=t
        )
        for t in tokens(count, "stock")
    ]
    send_each_in_batches(batch[:500], app=app)  # warm-up: token fetch, connection pool
    cpu, fake_cpu, started = time.process_time(), process_cpu_seconds(fake_pid), time.perf_counter()
    outcomes = send_each_in_batches(batch, app=app)
    seconds = time.perf_counter() - started
    return Run(
        "firebase-admin send_each (500/batch)",
        count,
        Counter(o.status for o in outcomes)[SendStatus.SENT],
        seconds,
        time.process_time() - cpu,
        process_cpu_seconds(fake_pid) - fake_cpu,
    )


async def run_fast(
    credential: credentials.Certificate,
    *,
    endpoint: str,
    count: int,
    max_in_flight: int,
    fake_pid: int,
) -> Run:
    template = FcmMessageTemplate.from_message(notice())
    recipients = tokens(count, "fast")
    async with FcmClient(
        credential=credential, project_id=PROJECT_ID, endpoint=endpoint, max_in_flight=max_in_flight
    ) as client:
        await client.send_batch(template, tokens(max_in_flight * 4, "warm"))  # token, connections
        cpu, fake_cpu, started = time.process_time(), process_cpu_seconds(fake_pid), time.perf_counter()
        outcomes = await client.send_batch(template, recipients)
        seconds = time.perf_counter() - started
        client_cpu, fake_spent = time.process_time() - cpu, process_cpu_seconds(fake_pid) - fake_cpu
    return Run(
        f"entpage FcmClient ({max_in_flight} in flight)",
        count,
        Counter(o.status for o in outcomes)[SendStatus.SENT],
        seconds,
        client_cpu,
        fake_spent,
    )


async def run_bare_aiohttp(
    credential: credentials.Certificate,
    *,
    endpoint: str,
    count: int,
    max_in_flight: int,
    fake_pid: int,
) -> Run:
    """The ceiling for any aiohttp-based client: the same requests with nothing else done per
    message (no outcome mapping, no token handling, no semaphore)."""
    body = FcmMessageTemplate.from_message(notice()).body_for("bare-token")
    access_token = (await asyncio.to_thread(credential.get_access_token)).access_token
    headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}
    url = URL(f"{endpoint}/v1/projects/{PROJECT_ID}/messages:send")
    sent = 0
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        pending = iter(range(count))

        async def drain() -> None:
            nonlocal sent
            for _ in pending:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    sent += response.status == 200

        await asyncio.gather(*(drain() for _ in range(max_in_flight)))  # warm-up
        sent, pending = 0, iter(range(count))
        cpu, fake_cpu, started = time.process_time(), process_cpu_seconds(fake_pid), time.perf_counter()
        await asyncio.gather(*(drain() for _ in range(max_in_flight)))
        seconds = time.perf_counter() - started
        client_cpu, fake_spent = time.process_time() - cpu, process_cpu_seconds(fake_pid) - fake_cpu
    return Run("bare aiohttp loop (reference)", count, sent, seconds, client_cpu, fake_spent)


def _event_loop_runner(*, use_uvloop: bool) -> tuple[Callable[[Coroutine[Any, Any, Run]], Run], str]:
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run, "uvloop"
    return asyncio.run, "asyncio"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000, help="for the fast client")
    parser.add_argument("--stock-messages", type=int, default=5_000, help="for send_each")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-in-flight", type=int, default=384)
    parser.add_argument(
        "--uvloop",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the fast client on uvloop when installed (the worker does)",
    )
    parser.add_argument(
        "--reference",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time a bare aiohttp loop, the ceiling for this machine right now",
    )
    args = parser.parse_args()

    fake_args = ["--latency-ms", str(args.latency_ms), "--keep-messages", "1000"]
    with (
        spawned_fake("push.fakes.fcm", args=fake_args) as fake,
        tempfile.TemporaryDirectory() as workdir,
    ):
        key_file = write_fake_service_account(
            Path(workdir) / "service-account.json",
            token_uri=f"{fake.base_url}/token",
            project_id=PROJECT_ID,
        )
        credential = credentials.Certificate(str(key_file))
        app = firebase_admin.initialize_app(credential, name="bench-stock")
        route_messaging_to_endpoint(app, fake.base_url)
        print(
            f"fake FCM at {fake.base_url} (pid {fake.pid}), {args.latency_ms:g} ms latency; "
            f"{os.cpu_count()} cores",
            flush=True,
        )

        rss_at_start = process_rss_mib(fake.pid)
        stock = run_stock(app, count=args.stock_messages, fake_pid=fake.pid)
        options = {
            "endpoint": fake.base_url,
            "count": args.messages,
            "max_in_flight": args.max_in_flight,
            "fake_pid": fake.pid,
        }
        runner, loop_name = _event_loop_runner(use_uvloop=args.uvloop)
        fast = runner(run_fast(credential, **options))
        bare = runner(run_bare_aiohttp(credential, **options)) if args.reference else None
        stats = asyncio.run(FakeControl(fake.base_url).stats())
        rss_at_end = process_rss_mib(fake.pid)
        firebase_admin.delete_app(app)

    print(f"fast client event loop: {loop_name}")
    print(
        f"{'path':<34} {'messages':>8} {'sent':>8} {'seconds':>8} {'msg/s':>10} "
        f"{'client µs':>10} {'fake µs':>8} {'fake cap/s':>12}"
    )
    print(stock.row())
    print(fast.row())
    if bare is not None:
        print(bare.row())
    print(f"speed-up over send_each: {fast.per_second / stock.per_second:.1f}x")
    if bare is not None:
        print(f"FcmClient reaches {fast.per_second / bare.per_second:.0%} of the bare aiohttp loop")
    print(f"fake counted: {stats}")
    print(
        f"fake memory: {rss_at_start:.1f} MiB at start, {rss_at_end:.1f} MiB after "
        f"{stats.get('send.requests', 0):,} sends (recent-message ring keeps 1,000)"
    )
    if stock.sent != stock.messages or fast.sent != fast.messages:
        sys.exit("not every message was accepted by the fake")


if __name__ == "__main__":
    main()
