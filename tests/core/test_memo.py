"""BoundedMemo: one build per key, shared; everything forgotten past the bound."""

from __future__ import annotations

from core.memo import BoundedMemo, split_remembered


def test_a_value_is_built_once_and_shared_until_the_bound_is_passed() -> None:
    builds: list[int] = []

    def build(n: int) -> list[int]:
        builds.append(n)
        return [n]

    memo: BoundedMemo[int, list[int]] = BoundedMemo(max_entries=2)
    first = memo.get(1, lambda: build(1))
    assert memo.get(1, lambda: build(1)) is first and builds == [1]
    assert memo.get(2, lambda: build(2)) == [2]
    assert memo.get(3, lambda: build(3)) == [3]  # three kept: the bound is passed, not reached
    assert memo.get(4, lambda: build(4)) == [4]  # past it: all forgotten, then 4 kept
    assert memo.get(1, lambda: build(1)) == [1] and builds == [1, 2, 3, 4, 1]
    assert memo.get(4, lambda: build(4)) == [4] and builds == [1, 2, 3, 4, 1]


def test_split_remembered_asks_each_key_once_and_keeps_the_first_row_to_read() -> None:
    memo: BoundedMemo[str, str] = BoundedMemo(max_entries=10)
    memo.get("known", lambda: "value")
    asked: list[str] = []

    def recall(key: str) -> str | None:
        asked.append(key)
        return memo.peek(key)

    found, missing = split_remembered(
        [("known", 1), ("new", 2), ("known", 3), ("new", 4), ("other", 5)], recall)
    assert found == {"known": "value"}
    assert missing == {"new": 2, "other": 5}
    assert asked == ["known", "new", "other"]
