"""A bounded memo for values many requests share: built once per key, forgotten all at once.

For keys that change rarely and whose values every page repeats (a policy per edit and day, a
notice per revision, reasons per rule and facts): an LRU's bookkeeping would cost more than the
occasional rebuild after a clear.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    """`get(key, build)`: the value built for `key`, shared with every caller, who must not
    change it. Past `max_entries` everything is forgotten at once."""

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        self._values: dict[K, V] = {}

    def peek(self, key: K) -> V | None:
        """The value built for `key`, if it is still remembered."""
        return self._values.get(key)

    def get(self, key: K, build: Callable[[], V]) -> V:
        try:
            return self._values[key]
        except KeyError:
            if len(self._values) > self.max_entries:
                self._values.clear()
            value = self._values[key] = build()
            return value
