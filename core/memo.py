"""A bounded memo for values many requests share: built once per key, forgotten all at once.

For keys that change rarely and whose values every page repeats (a policy per edit and day, a
notice per revision, reasons per rule and facts): an LRU's bookkeeping would cost more than the
occasional rebuild after a clear.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
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


def split_remembered(wanted: Iterable[tuple[K, int]], recall: Callable[[K], V | None],
                     ) -> tuple[dict[K, V], dict[K, int]]:
    """`wanted`: (key, id of the row to read if nothing is remembered under the key) pairs.
    Returns what `recall` remembers, by key, and the ids to read for the other keys, each key
    once."""
    found: dict[K, V] = {}
    missing: dict[K, int] = {}
    for key, row_id in wanted:
        if key not in found and key not in missing:
            value = recall(key)
            if value is None:
                missing[key] = row_id
            else:
                found[key] = value
    return found, missing
