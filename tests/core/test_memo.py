"""BoundedMemo: one build per key, shared; everything forgotten past the bound."""

from __future__ import annotations

from core.memo import BoundedMemo


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
