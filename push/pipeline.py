"""The steps between a claimed batch and a provider call, and between a provider's answer and
the row written back. The worker (`push.worker`) runs them; each is set-based per batch.

Claimed batch → `prepare_batch`: device tokens, quiet hours, message templates and stale sources
in one query each; WeChat credits consumed with one conditional UPDATE. Rows that must not be
sent now become outcomes at once (skipped with a reason, or deferred back to pending); the rest
become `Job`s for the senders.

Provider answer → `settle`: the `RetryPolicy` decides; side effects (dead device, consent
refund or refusal, channel pause) are collected in `Effects` and written with the batch.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from push import repository
from push.config import PushConfig
from push.messages import PreparedMessage, prepare
from push.preferences import quiet_until
from push.providers.base import SendOutcome, SendStatus
from push.repository import Claimed, Outcome
from push.retry import RetryPolicy

# A second delivery for the same (device, template) in one batch waits this long: its credit
# is taken by the next claim, never two at once.
SAME_TEMPLATE_DEFER_S = 1.0


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    channel: str
    token: str
    device_id: int
    attempt: int
    message: PreparedMessage
    consent: tuple[int, str] | None  # the WeChat credit this send consumed


@dataclass(slots=True)
class Effects:
    dead_devices: dict[int, str] = field(default_factory=dict)  # device id → reason
    refunds: list[tuple[int, str]] = field(default_factory=list)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    pauses: dict[str, tuple[dt.datetime, str]] = field(default_factory=dict)

    def merge(self, other: Effects) -> None:
        self.dead_devices.update(other.dead_devices)
        self.refunds.extend(other.refunds)
        self.refusals.extend(other.refusals)
        for channel, (until, reason) in other.pauses.items():
            self.pause(channel, until, reason)

    def pause(self, channel: str, until: dt.datetime, reason: str) -> None:
        current = self.pauses.get(channel)
        if current is None or current[0] < until:
            self.pauses[channel] = (until, reason)

    def __bool__(self) -> bool:
        return bool(self.dead_devices or self.refunds or self.refusals or self.pauses)


class MessageCache:
    """Prepared messages by id (LRU): each message is encoded once per worker, not per send."""

    def __init__(self, config: PushConfig, *, size: int = 512) -> None:
        self._config = config
        self._size = size
        self._items: OrderedDict[int, PreparedMessage] = OrderedDict()

    async def get_many(self, ids: set[int]) -> dict[int, PreparedMessage]:
        missing = [i for i in ids if i not in self._items]
        for row in await repository.load_messages(missing):
            self._items[row.id] = prepare(row, self._config)
        found = {}
        for message_id in ids:
            prepared = self._items.get(message_id)
            if prepared is not None:
                self._items.move_to_end(message_id)
                found[message_id] = prepared
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return found


def deferred(delivery_id: int, until: dt.datetime, reason: str) -> Outcome:
    """Back to pending without counting an attempt: nothing was sent."""
    return Outcome(delivery_id, "pending", reason=reason, next_attempt_at=until, attempt_adjust=-1)


def channel_problem(message: PreparedMessage, channel: str) -> str | None:
    if channel == "fcm":
        return message.fcm_problem if message.fcm is None else None
    return message.wechat_problem if message.wechat is None else None


async def prepare_batch(
    claimed: Sequence[Claimed], *, now: dt.datetime, cache: MessageCache,
    paused: Mapping[str, dt.datetime],
) -> tuple[list[Job], list[Outcome]]:
    targets = await repository.targets(sorted({c.device_id for c in claimed}))
    messages = await cache.get_many({c.message_id for c in claimed})
    stale = await repository.stale_sources(
        sorted({c.source_id for c in claimed if c.source == "notice"}),
        sorted({c.source_id for c in claimed if c.source == "policy"}), now)
    jobs: list[Job] = []
    outcomes: list[Outcome] = []
    wechat: dict[tuple[int, str], list[tuple[Claimed, str, PreparedMessage]]] = {}
    for c in claimed:
        target = targets.get(c.device_id)
        message = messages.get(c.message_id)
        if target is None or not target.active:
            outcomes.append(Outcome(c.id, "skipped", reason="device_inactive"))
        elif target.person_id != c.person_id:
            outcomes.append(Outcome(c.id, "skipped", reason="device_reassigned"))
        elif (reason := stale.get((c.source, c.source_id))) is not None:
            outcomes.append(Outcome(c.id, "skipped", reason=reason))
        elif message is None:
            outcomes.append(Outcome(c.id, "dead", reason="message_missing"))
        elif (problem := channel_problem(message, c.channel)) is not None:
            outcomes.append(Outcome(c.id, "dead", reason=f"rejected:{problem}"[:40]))
        elif c.channel in paused and paused[c.channel] > now:
            outcomes.append(deferred(c.id, paused[c.channel], "channel_paused"))
        elif not c.urgent and target.quiet is not None and \
                (until := quiet_until(target.quiet, now)) is not None:
            outcomes.append(deferred(c.id, until, "quiet_hours"))
        elif c.channel == "wechat":
            pair = (c.device_id, message.template_id)
            wechat.setdefault(pair, []).append((c, target.token, message))
        else:
            jobs.append(Job(c.id, c.channel, target.token, c.device_id, c.attempts, message,
                            None))
    if wechat:
        granted = await repository.consume_consents(list(wechat), now)
        later = now + dt.timedelta(seconds=SAME_TEMPLATE_DEFER_S)
        for pair, group in wechat.items():
            first, token, message = group[0]
            if pair in granted:
                jobs.append(Job(first.id, "wechat", token, first.device_id, first.attempts,
                                message, pair))
            else:
                outcomes.append(Outcome(first.id, "skipped", reason="no_consent"))
            outcomes.extend(deferred(c.id, later, "consent_queue") for c, _, _ in group[1:])
    return jobs, outcomes


def settle(job: Job, result: SendOutcome, *, policy: RetryPolicy, now: dt.datetime,
           rng: random.Random) -> tuple[Outcome, Effects]:
    """The row to write for one provider answer, and what else must change."""
    effects = Effects()
    decision = policy.decide(result, attempt=job.attempt)
    code = result.error_code
    error = None if result.error_message is None else result.error_message[:200]
    if job.consent is not None and result.status not in (SendStatus.SENT,
                                                        SendStatus.CONSENT_REFUSED,
                                                        SendStatus.DEAD_TOKEN):
        effects.refunds.append(job.consent)  # the user's consent was not used up
    pause_s = policy.channel_pause_s(result)
    if pause_s is not None:
        effects.pause(job.channel, now + dt.timedelta(seconds=pause_s), code or "quota")
    if decision == "sent":
        return Outcome(job.id, "sent", provider_message_id=result.provider_message_id), effects
    if decision == "retry":
        delay = policy.backoff_s(job.attempt, retry_after_s=result.retry_after_s, rng=rng)
        if pause_s is not None:
            delay = max(delay, pause_s)
        return Outcome(job.id, "failed", reason=code, error=error,
                       next_attempt_at=now + dt.timedelta(seconds=delay)), effects
    if decision == "dead_token":
        effects.dead_devices[job.device_id] = f"token:{code}"[:32]
        return Outcome(job.id, "dead", reason=f"token:{code}"[:40], error=error), effects
    if decision == "skipped":  # WeChat 43101: the user refused; nothing more is spent
        if job.consent is not None:
            effects.refusals.append(job.consent)
        return Outcome(job.id, "skipped", reason="consent_refused", error=error), effects
    exhausted = result.status is SendStatus.RETRY
    reason = f"{'retries_exhausted' if exhausted else 'rejected'}:{code}"[:40]
    return Outcome(job.id, "dead", reason=reason, error=error), effects


async def apply_effects(effects: Effects, *, now: dt.datetime) -> None:
    """Side effects of a flush, in the flush's transaction."""
    by_reason: dict[str, list[int]] = {}
    for device_id, reason in effects.dead_devices.items():
        by_reason.setdefault(reason, []).append(device_id)
    for reason, device_ids in by_reason.items():
        await repository.deactivate_devices(device_ids, reason=reason, now=now)
    # Distinct pairs per statement: two refunds of one pair in a flush are two statements.
    for chunk in _distinct_chunks(effects.refunds):
        await repository.refund_consents(chunk, now)
    await repository.refuse_consents(sorted(set(effects.refusals)), now)
    for channel, (until, reason) in effects.pauses.items():
        await repository.pause_channel(channel, until=until, reason=reason, now=now)


def _distinct_chunks(pairs: Sequence[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """[[each pair once], [pairs seen twice], …]: each chunk has distinct pairs."""
    counts = Counter(pairs)
    return [[pair for pair, n in counts.items() if n > k]
            for k in range(max(counts.values(), default=0))]
