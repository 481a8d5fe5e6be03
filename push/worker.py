"""The delivery worker: claims batches of due deliveries, streams them to FCM and WeChat with
bounded concurrency, and records outcomes set-based. Any number of workers may run (`entpage
worker`, `python -m push.worker`), and one runs in-process on the embedded default
(`in_process_worker()`).

Inside one worker:
- the claimer takes a batch (`repository.claim`: FOR UPDATE SKIP LOCKED on PostgreSQL) when
  fewer than `batch_size` claimed rows are unrecorded, so at most 2 × batch_size rows are ever
  claimed-but-unrecorded — the most a `kill -9` can leave as `possibly_duplicate`;
- `concurrency` senders pull jobs and call the provider clients (which pool their HTTP
  connections), so a slow device never holds up a batch;
- the recorder writes every outcome of the last `flush_interval_s` with one UPDATE and applies
  side effects (dead devices, consent refunds, channel pauses) in the same transaction;
- a heartbeat extends the leases of rows still in hand; expired leases of dead workers are
  released as pending + possibly_duplicate;
- housekeeping relays outbox events to Redis, publishes due scheduled notices
  (`notices.service.publish_due`), runs the reminder scheduler, re-runs matching for
  enterprises changed since the last sweep (repairing a failed profile-change listener; one
  worker sweeps each interval for all, `push.sweeps`) and forgets Idempotency-Keys older than
  a day.
Redis only wakes the claimer early (`entpage:push:wake`); PostgreSQL is polled regardless, so
a flushed or restarted Redis loses nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from firebase_admin import credentials
from tortoise.transactions import in_transaction

from core import clock
from core.redis import close_pubsub, end_if_cancel_lost, get_redis
from core.settings import Settings, get_settings
from push import events, repository, sweeps
from push.config import PushConfig, push_config
from push.models import CHANNELS
from push.pipeline import Effects, Job, MessageCache, apply_effects, deferred, prepare_batch, settle
from push.providers.base import SendOutcome, SendStatus
from push.providers.factory import fcm_client_from_settings, wechat_client_from_settings
from push.providers.fcm import FcmClient
from push.providers.wechat import WeChatClient
from push.repository import Outcome
from push.retry import RetryPolicy

log = logging.getLogger(__name__)

IDEMPOTENCY_SWEEP_S = 3600.0


@dataclass(slots=True)
class WorkerStats:
    claimed: int = 0
    batches: int = 0
    provider_calls: int = 0
    sent: int = 0
    failed: int = 0  # scheduled for another try
    dead: int = 0
    skipped: int = 0
    deferred: int = 0
    pauses: int = 0
    flushes: int = 0
    leases_released: int = 0
    lost_on_record: int = 0  # outcomes whose row was no longer ours (lease expired)
    by_reason: dict[str, int] = field(default_factory=dict)


class Providers:
    """The clients this worker sends with; a channel without a client is not claimed."""

    def __init__(self, *, fcm: FcmClient | None, wechat: WeChatClient | None) -> None:
        self.fcm = fcm
        self.wechat = wechat

    @property
    def channels(self) -> list[str]:
        return [c for c, client in (("fcm", self.fcm), ("wechat", self.wechat)) if client]

    async def send(self, job: Job) -> SendOutcome:
        if job.channel == "fcm" and self.fcm is not None and job.message.fcm is not None:
            return await self.fcm.send(job.message.fcm, job.token)
        if job.channel == "wechat" and self.wechat is not None and job.message.wechat is not None:
            return await self.wechat.subscribe_send(job.message.wechat, job.token)
        return SendOutcome.failed(SendStatus.REJECTED, error_code="no_client",
                                  error_message=f"no client for channel {job.channel}")


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Wait for `event` at most `seconds`; True if it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True


WAKE_STOP_S = 5.0  # how long a stopping worker waits for its wake-up listener


class _Worker:
    def __init__(self, *, worker_id: str, providers: Providers, batch_size: int,
                 concurrency: int, lease_s: float, poll_interval_s: float,
                 flush_interval_s: float, policy: RetryPolicy, redis: aioredis.Redis | None,
                 config: PushConfig, run_scheduler: bool, scheduler_interval_s: float,
                 reminder_interval_s: float, relay_interval_s: float,
                 rng: random.Random) -> None:
        self.worker_id = worker_id
        self.providers = providers
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.lease = dt.timedelta(seconds=lease_s)
        self.poll_interval_s = poll_interval_s
        self.flush_interval_s = flush_interval_s
        self.policy = policy
        self.redis = redis
        self.run_scheduler = run_scheduler
        self.scheduler_interval_s = scheduler_interval_s
        self.reminder_interval_s = reminder_interval_s
        self.relay_interval_s = relay_interval_s
        self.rng = rng
        self.cache = MessageCache(config)
        self.stats = WorkerStats()
        self.queue: asyncio.Queue[Job | None] = asyncio.Queue()
        self.unrecorded = 0  # claimed rows whose outcome is not written yet
        self.space = asyncio.Event()
        self.buffer: list[Outcome] = []
        self.effects = Effects()
        self.flush_now = asyncio.Event()
        self.wake = asyncio.Event()
        self.paused: dict[str, dt.datetime] = {}

    # ------------------------------------------------------------------------ outcomes
    def add(self, outcomes: Sequence[Outcome], effects: Effects | None = None) -> None:
        self.buffer.extend(outcomes)
        if effects:
            self.effects.merge(effects)
            for channel, (until, reason) in effects.pauses.items():
                if self.paused.get(channel, until) <= until:
                    self.paused[channel] = until
                    self.stats.pauses += 1
                    log.warning("push.channel.paused", extra={
                        "channel": channel, "until": until.isoformat(), "reason": reason,
                        "worker": self.worker_id})
        if len(self.buffer) >= self.batch_size // 2:
            self.flush_now.set()

    async def flush(self) -> None:
        if not self.buffer and not self.effects:
            return
        outcomes, effects = self.buffer, self.effects
        self.buffer, self.effects = [], Effects()
        now = clock.now()
        try:
            async with in_transaction():
                await apply_effects(effects, now=now)
                written = await repository.record(self.worker_id, outcomes, now)
        except Exception:
            # Keep them: the rows stay leased (the heartbeat holds them) until a flush works.
            self.buffer[:0] = outcomes
            self.effects.merge(effects)
            raise
        self.unrecorded -= len(outcomes)
        self.space.set()
        stats = self.stats
        stats.flushes += 1
        stats.lost_on_record += len(outcomes) - written
        for outcome in outcomes:
            if outcome.status == "sent":
                stats.sent += 1
            elif outcome.status == "failed":
                stats.failed += 1
            elif outcome.status == "dead":
                stats.dead += 1
            elif outcome.status == "skipped":
                stats.skipped += 1
            else:
                stats.deferred += 1
            if outcome.status != "sent" and outcome.reason:
                stats.by_reason[outcome.reason] = stats.by_reason.get(outcome.reason, 0) + 1
        if effects.dead_devices:
            log.info("push.devices.deactivated", extra={
                "devices": len(effects.dead_devices),
                "reasons": sorted(set(effects.dead_devices.values()))})

    # -------------------------------------------------------------------------- claimer
    async def claim_once(self) -> int:
        now = clock.now()
        self.paused = {c: u for c, u in self.paused.items() if u > now}
        for channel, until in (await repository.channel_pauses(now)).items():
            if self.paused.get(channel, until) <= until:
                self.paused[channel] = until
        channels = [c for c in self.providers.channels if c not in self.paused]
        claimed = await repository.claim(self.worker_id, limit=self.batch_size,
                                         channels=channels, now=now, lease_until=now + self.lease)
        if not claimed:
            return 0
        self.unrecorded += len(claimed)
        self.stats.claimed += len(claimed)
        self.stats.batches += 1
        try:
            jobs, outcomes = await prepare_batch(claimed, now=now, cache=self.cache,
                                                 paused=self.paused)
        except Exception:
            # Nothing was sent: hand the rows back a little later.
            later = clock.now() + dt.timedelta(seconds=self.poll_interval_s)
            self.add([deferred(c.id, later, "prepare_failed") for c in claimed])
            raise
        self.add(outcomes)
        for job in jobs:
            self.queue.put_nowait(job)
        reclaimed = sum(c.possibly_duplicate for c in claimed)
        if reclaimed:
            log.info("push.worker.reclaimed", extra={"worker": self.worker_id,
                                                     "possibly_duplicate": reclaimed})
        return len(claimed)

    async def claim_loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            while self.unrecorded > self.batch_size and not stop.is_set():
                self.space.clear()
                await _wait(self.space, 1.0)
            if stop.is_set():
                return
            self.wake.clear()
            try:
                claimed = await self.claim_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("push.worker.claim_failed", extra={"worker": self.worker_id})
                await _wait(stop, min(30.0, self.poll_interval_s * 2 ** failures))
                continue
            if claimed == 0:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Nothing due: sleep until woken (new deliveries, a released lease) or the poll
        interval, whichever comes first; retries and deferrals are found by that poll."""
        timeout = self.poll_interval_s
        waiter = asyncio.ensure_future(self.wake.wait())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, timeout=timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()

    # --------------------------------------------------------------------------- senders
    async def sender(self) -> None:
        while True:
            job = await self.queue.get()
            if job is None:
                return
            now = clock.now()
            until = self.paused.get(job.channel)
            if until is not None and until > now:
                effects = Effects()
                if job.consent is not None:
                    effects.refunds.append(job.consent)
                self.add([deferred(job.id, until, "channel_paused")], effects)
                continue
            try:
                result = await self.providers.send(job)
            except Exception as error:  # a client bug must not lose the row
                log.exception("push.worker.send_failed", extra={"channel": job.channel})
                result = SendOutcome.failed(SendStatus.RETRY, error_code="worker_error",
                                            error_message=repr(error)[:200])
            self.stats.provider_calls += 1
            outcome, effects = settle(job, result, policy=self.policy, now=clock.now(),
                                      rng=self.rng)
            self.add([outcome], effects)

    # -------------------------------------------------------------------------- recorder
    async def record_loop(self, closing: asyncio.Event) -> None:
        failures = 0
        while True:
            await _wait(self.flush_now, self.flush_interval_s)
            self.flush_now.clear()
            try:
                await self.flush()
                failures = 0
            except Exception:
                failures += 1
                log.exception("push.worker.record_failed", extra={"worker": self.worker_id,
                                                                  "pending": len(self.buffer)})
                await asyncio.sleep(min(10.0, 0.1 * 2 ** failures))
            if closing.is_set() and not self.buffer and not self.effects:
                return

    # ------------------------------------------------------------------------ background
    # Background loops end when `done` is set, never by cancellation: a task cancelled while
    # entering a SQLite transaction would keep Tortoise's connection lock forever.
    async def heartbeat_loop(self, done: asyncio.Event) -> None:
        interval = self.lease.total_seconds() / 3
        while not await _wait(done, interval):
            try:
                await repository.extend_leases(self.worker_id,
                                               lease_until=clock.now() + self.lease)
            except Exception:
                log.exception("push.worker.heartbeat_failed", extra={"worker": self.worker_id})

    async def housekeeping_loop(self, done: asyncio.Event) -> None:
        sweep_every = max(0.5, self.lease.total_seconds() / 3)
        last: dict[str, float] = {}
        jobs: list[tuple[str, float, Callable[[], Awaitable[Any]]]] = [
            ("sweep", sweep_every, self._sweep),
            ("relay", self.relay_interval_s, self._relay),
        ]
        if self.run_scheduler:
            jobs += [("publish_due", self.scheduler_interval_s, self._publish_due),
                     ("reminders", self.reminder_interval_s, self._reminders),
                     ("idempotency_expiry", IDEMPOTENCY_SWEEP_S, self._expire_idempotency),
                     ("rematch_sweep", sweeps.REMATCH_SWEEP_CHECK_S, self._rematch_sweep)]
        tick = min(interval for _, interval, _ in jobs)
        while not done.is_set():
            for name, interval, run in jobs:
                if time.monotonic() - last.get(name, float("-inf")) < interval:
                    continue
                last[name] = time.monotonic()
                try:
                    await run()
                except Exception:
                    log.exception("push.worker.housekeeping_failed",
                                  extra={"task": name, "worker": self.worker_id})
            await _wait(done, tick)

    async def _sweep(self) -> None:
        released = await repository.release_expired_leases(clock.now())
        if released:
            self.stats.leases_released += released
            self.wake.set()
            log.warning("push.leases.expired", extra={"released": released,
                                                      "worker": self.worker_id})

    async def _relay(self) -> None:
        if self.redis is not None:
            while await events.relay(self.redis) == 200:
                pass

    async def _publish_due(self) -> None:
        from notices.service import publish_due

        if await publish_due():
            self.wake.set()

    async def _rematch_sweep(self) -> None:
        run = await sweeps.rematch_sweep(holder=self.worker_id)
        if run is not None and run.result:
            self.wake.set()

    async def _expire_idempotency(self) -> None:
        from notices.service import expire_idempotency_keys

        await expire_idempotency_keys()

    async def _reminders(self) -> None:
        from push.reminders import schedule_reminders

        run = await schedule_reminders()
        if run.deliveries:
            self.wake.set()

    async def wake_loop(self, stop: asyncio.Event) -> None:
        """Subscribe to wake-ups until `stop`, reconnecting meanwhile (a restarted Redis is only
        a delay). It ends on `stop` as well as on cancellation, which redis-py can lose."""
        assert self.redis is not None
        backoff = 0.5
        while not stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                end_if_cancel_lost()
                await pubsub.subscribe(events.WAKE_CHANNEL)
                backoff = 0.5
                while not stop.is_set():
                    end_if_cancel_lost()
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=1.0)
                    if message is not None:
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.info("push.worker.wake_reconnect", extra={"error": repr(error)[:200]})
            finally:
                await close_pubsub(pubsub, event="push.worker.wake_close_failed")
            if not stop.is_set():  # only after a failure: wait before reconnecting
                await _wait(stop, backoff)
                backoff = min(30.0, backoff * 2)

    # ------------------------------------------------------------------------------ run
    async def run(self, stop: asyncio.Event) -> WorkerStats:
        closing = asyncio.Event()
        senders = [asyncio.create_task(self.sender()) for _ in range(self.concurrency)]
        recorder = asyncio.create_task(self.record_loop(closing))
        done = asyncio.Event()
        background = [asyncio.create_task(self.heartbeat_loop(done)),
                      asyncio.create_task(self.housekeeping_loop(done))]
        waker = (asyncio.create_task(self.wake_loop(done), name="push-worker-wake")
                 if self.redis is not None else None)
        log.info("push.worker.started", extra={
            "worker": self.worker_id, "channels": self.providers.channels,
            "batch_size": self.batch_size, "concurrency": self.concurrency,
            "lease_s": self.lease.total_seconds()})
        try:
            await self.claim_loop(stop)
        finally:
            # Unsent jobs go back untouched; in-flight sends finish and are recorded.
            released = []
            while not self.queue.empty():
                job = self.queue.get_nowait()
                if job is not None:
                    released.append(deferred(job.id, clock.now(), "released"))
                    if job.consent is not None:
                        self.effects.refunds.append(job.consent)
            self.add(released)
            for _ in senders:
                self.queue.put_nowait(None)
            await asyncio.gather(*senders, return_exceptions=True)
            closing.set()
            self.flush_now.set()
            try:
                await asyncio.wait_for(recorder, timeout=30)
            except TimeoutError:
                log.error("push.worker.unrecorded_at_stop", extra={
                    "worker": self.worker_id, "outcomes": len(self.buffer)})
            done.set()
            await asyncio.gather(*background, return_exceptions=True)
            if waker is not None:
                waker.cancel()  # Redis only, no database work to interrupt
                # Bounded: a listener stuck in Redis I/O must not keep the worker from stopping.
                finished, _ = await asyncio.wait({waker}, timeout=WAKE_STOP_S)
                if not finished:
                    log.error("push.worker.wake_loop.stop_timeout", extra={
                        "worker": self.worker_id, "waited_s": WAKE_STOP_S})
                elif not waker.cancelled() and waker.exception() is not None:
                    log.error("push.worker.wake_loop.failed", exc_info=waker.exception(),
                              extra={"worker": self.worker_id})
            log.info("push.worker.stopped", extra={
                "worker": self.worker_id, "claimed": self.stats.claimed,
                "sent": self.stats.sent, "failed": self.stats.failed,
                "dead": self.stats.dead, "skipped": self.stats.skipped,
                "deferred": self.stats.deferred, "provider_calls": self.stats.provider_calls})
        return self.stats


# ------------------------------------------------------------------------------ clients


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fcm_from_settings(settings: Settings, *, max_in_flight: int) -> FcmClient | None:
    """The configured FCM client. Without a service-account file, a loopback endpoint (the
    fake FCM of the demo) gets a throw-away key whose token_uri is the fake's; a real endpoint
    without credentials disables the channel (its deliveries wait, nothing is lost)."""
    if settings.fcm_credentials_file:
        return fcm_client_from_settings(settings, max_in_flight=max_in_flight)
    if not _is_loopback(settings.fcm_endpoint):
        log.warning("push.fcm.unconfigured", extra={"endpoint": settings.fcm_endpoint})
        return None
    from push.fakes.credentials import write_fake_service_account

    path = write_fake_service_account(
        settings.data_dir / "fake-fcm-service-account.json",
        token_uri=f"{settings.fcm_endpoint}/token", project_id=settings.fcm_project_id)
    return FcmClient(credential=credentials.Certificate(str(path)),
                     project_id=settings.fcm_project_id, endpoint=settings.fcm_endpoint,
                     max_in_flight=max_in_flight)


async def run_worker(
    *,
    stop: asyncio.Event,
    worker_id: str,
    batch_size: int = 1000,
    concurrency: int = 256,
    lease_s: float = 30.0,
    poll_interval_s: float = 1.0,
    flush_interval_s: float = 0.05,
    retry: RetryPolicy | None = None,
    fcm: FcmClient | None = None,
    wechat: WeChatClient | None = None,
    channels: Sequence[str] | None = None,
    redis: aioredis.Redis | None = None,
    settings: Settings | None = None,
    config: PushConfig | None = None,
    run_scheduler: bool = True,
    scheduler_interval_s: float = 5.0,
    reminder_interval_s: float = 300.0,
    relay_interval_s: float = 0.5,
    seed: int | None = None,
) -> WorkerStats:
    """Run one worker until `stop` is set; returns its counters.

    Clients passed in are used as they are (and left open); missing ones are built from the
    settings (ENTPAGE_FCM_ENDPOINT, ENTPAGE_FCM_CREDENTIALS_FILE, ENTPAGE_WECHAT_API_BASE …)
    and closed at the end. `channels` limits what is claimed (default: every channel with a
    client). `redis` defaults to the process's Redis (`core.redis.get_redis()`).
    """
    settings = settings or get_settings()
    redis = redis if redis is not None else get_redis()
    wanted = list(channels) if channels is not None else list(CHANNELS)
    owned: list[FcmClient | WeChatClient] = []
    if fcm is None and "fcm" in wanted:
        fcm = fcm_from_settings(settings, max_in_flight=concurrency)
        if fcm is not None:
            owned.append(fcm)
    if wechat is None and "wechat" in wanted:
        wechat = wechat_client_from_settings(settings, redis=redis,
                                             max_in_flight=min(concurrency, 64))
        owned.append(wechat)
    providers = Providers(fcm=fcm if "fcm" in wanted else None,
                          wechat=wechat if "wechat" in wanted else None)
    worker = _Worker(
        worker_id=worker_id, providers=providers, batch_size=batch_size,
        concurrency=concurrency, lease_s=lease_s, poll_interval_s=poll_interval_s,
        flush_interval_s=flush_interval_s, policy=retry or RetryPolicy(), redis=redis,
        config=config or push_config(), run_scheduler=run_scheduler,
        scheduler_interval_s=scheduler_interval_s, reminder_interval_s=reminder_interval_s,
        relay_interval_s=relay_interval_s, rng=random.Random(seed),
    )
    try:
        return await worker.run(stop)
    finally:
        for client in owned:
            await client.aclose()


@contextlib.asynccontextmanager
async def in_process_worker(**options: Any) -> AsyncIterator[None]:
    """Run a worker beside the API in this process (the embedded default): `async with
    in_process_worker(): …` in the app's lifespan. Options as for `run_worker`."""
    stop = asyncio.Event()
    options.setdefault("worker_id", f"embedded-{os.getpid()}")
    task = asyncio.create_task(run_worker(stop=stop, **options))
    try:
        yield
    finally:
        stop.set()
        await task


# ---------------------------------------------------------------------------------- CLI


async def _serve(worker_id: str, options: dict[str, Any]) -> int:
    from core.db import close_db, init_db
    from core.redis import close_redis, init_redis
    from profiles.page_cache import init_page_cache

    settings = get_settings()
    await init_db(settings)
    redis = init_redis(settings)
    init_page_cache(redis, ttl_s=settings.page_cache_ttl_s)
    import push.service  # noqa: F401  (installs the publish hooks publish_due fires)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await run_worker(stop=stop, worker_id=worker_id, settings=settings, redis=redis,
                         **options)
    finally:
        await close_redis()
        await close_db()
    return 0


def main(*, worker_id: str | None = None, argv: Sequence[str] | None = None) -> int:
    """`entpage worker` (the CLI passes worker_id) and `python -m push.worker [options]`."""
    parser = argparse.ArgumentParser(prog="python -m push.worker",
                                     description="Run one push delivery worker.")
    parser.add_argument("--id", default=worker_id or f"worker-{os.getpid()}")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--lease-s", type=float, default=30.0)
    parser.add_argument("--poll-interval-s", type=float, default=1.0)
    parser.add_argument("--channels", default=",".join(CHANNELS))
    parser.add_argument("--no-scheduler", action="store_true",
                        help="do not run publish_due / reminders in this worker")
    args = parser.parse_args(list(argv) if argv is not None else [])
    options: dict[str, Any] = {
        "batch_size": args.batch_size, "concurrency": args.concurrency,
        "lease_s": args.lease_s, "poll_interval_s": args.poll_interval_s,
        "channels": [c for c in args.channels.split(",") if c],
        "run_scheduler": not args.no_scheduler,
    }
    try:
        import uvloop  # a faster event loop when installed; the worker works without it
    except ImportError:
        return asyncio.run(_serve(args.id, options))
    return uvloop.run(_serve(args.id, options))


if __name__ == "__main__":
    import sys

    from core.logging import configure_logging

    _settings = get_settings()
    configure_logging(level=_settings.log_level, json_lines=_settings.log_json)
    raise SystemExit(main(argv=sys.argv[1:]))
