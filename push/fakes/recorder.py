"""What a fake saw: counts by outcome and a bounded ring of recently accepted messages, so a demo
user can watch pushes arrive and memory stays flat however many are sent."""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any


class Recorder:
    def __init__(self, *, keep_messages: int = 1000) -> None:
        self.counts: Counter[str] = Counter()
        self._recent: deque[dict[str, Any]] = deque(maxlen=max(1, keep_messages))
        self._started = time.time()

    def count(self, event: str) -> None:
        self.counts[event] += 1

    def remember(self, entry: dict[str, Any]) -> None:
        self._recent.append(entry)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """Newest first."""
        if limit <= 0:
            return []
        newest_first = reversed(self._recent)
        return [entry for _, entry in zip(range(limit), newest_first, strict=False)]

    def stats(self) -> dict[str, Any]:
        return {
            "counts": dict(sorted(self.counts.items())),
            "kept_messages": len(self._recent),
            "uptime_s": round(time.time() - self._started, 3),
        }

    def reset(self) -> None:
        self.counts.clear()
        self._recent.clear()
        self._started = time.time()
