"""What to do after each provider outcome, as data.

Exponential backoff with full jitter (a uniform draw in [0, min(cap, base·2^(attempt−1))]),
never sooner than the provider's Retry-After; QUOTA_EXCEEDED pauses the whole channel for at
least `quota_pause_s` (DESIGN.md: ≥ 60 s); after `max_attempts` a delivery is dead. Tests shrink
the numbers through keyword options, never by patching code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from push.providers.base import SendOutcome, SendStatus

# Provider error codes after which the whole channel waits, not just the one delivery.
CHANNEL_PAUSE_CODES = frozenset({"QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "45009"})

Decision = Literal["sent", "retry", "dead", "dead_token", "skipped"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 2.0
    cap_s: float = 900.0
    max_attempts: int = 8
    # FCM QUOTA_EXCEEDED / WeChat 45009: how long the whole channel stops (a floor).
    quota_pause_s: float = 60.0
    # Upper bound applied to a provider's Retry-After (None: honour it fully). The FCM client
    # already floors QUOTA_EXCEEDED at 60 s; tests cap it to stay short.
    retry_after_cap_s: float | None = None

    def backoff_s(self, attempt: int, *, retry_after_s: float | None = None,
                  rng: random.Random | None = None) -> float:
        """Delay before the next try after `attempt` (1-based) failed."""
        ceiling = min(self.cap_s, self.base_s * (2 ** max(0, attempt - 1)))
        delay = (rng or random).uniform(0.0, ceiling)
        if retry_after_s is not None:
            delay = max(delay, self.capped(retry_after_s))
        return delay

    def capped(self, retry_after_s: float) -> float:
        if self.retry_after_cap_s is None:
            return retry_after_s
        return min(retry_after_s, self.retry_after_cap_s)

    def channel_pause_s(self, outcome: SendOutcome) -> float | None:
        """Seconds the whole channel must wait after this outcome, or None."""
        if outcome.status is not SendStatus.RETRY or outcome.error_code not in CHANNEL_PAUSE_CODES:
            return None
        return max(self.quota_pause_s, self.capped(outcome.retry_after_s or 0.0))

    def decide(self, outcome: SendOutcome, *, attempt: int) -> Decision:
        if outcome.status is SendStatus.SENT:
            return "sent"
        if outcome.status is SendStatus.DEAD_TOKEN:
            return "dead_token"
        if outcome.status is SendStatus.CONSENT_REFUSED:
            return "skipped"
        if outcome.status is SendStatus.RETRY and attempt < self.max_attempts:
            return "retry"
        return "dead"  # rejected, or retried max_attempts times
