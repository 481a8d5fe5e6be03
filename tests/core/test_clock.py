"""`today_shanghai` is remembered per day, and the day turns at midnight in Shanghai."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from core import clock


@pytest.fixture(autouse=True)
def _release_clock() -> Iterator[None]:
    yield
    clock.freeze(None)


def _at(text: str) -> dt.date:
    clock.freeze(dt.datetime.fromisoformat(text))
    return clock.today_shanghai()


def test_the_day_turns_at_shanghai_midnight_both_ways() -> None:
    assert _at("2026-11-21T15:59:59.999999+00:00") == dt.date(2026, 11, 21)  # 23:59:59 CST
    assert _at("2026-11-21T16:00:00+00:00") == dt.date(2026, 11, 22)  # midnight CST
    assert _at("2026-11-21T15:00:00+00:00") == dt.date(2026, 11, 21)  # a clock set back
    assert _at("2027-01-01T00:00:00+08:00") == dt.date(2027, 1, 1)
    assert _at("2026-12-31T23:59:59+08:00") == dt.date(2026, 12, 31)


def test_the_real_clock_agrees_with_a_fresh_conversion() -> None:
    expected = dt.datetime.now(dt.UTC).astimezone(clock.SHANGHAI).date()
    assert clock.today_shanghai() in (expected, expected + dt.timedelta(days=1))
