"""The one place that knows what time it is, so tests can move it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Current instant, timezone-aware UTC."""
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


_today: tuple[float, float, dt.date] | None = None  # [start, end) in POSIX seconds, that day


def today_shanghai() -> dt.date:
    """Today's date in Shanghai; remembered until the next midnight (every page request asks)."""
    global _today
    stamp = now().timestamp()
    if _today is not None and _today[0] <= stamp < _today[1]:
        return _today[2]
    day = dt.datetime.fromtimestamp(stamp, SHANGHAI).date()
    start = dt.datetime.combine(day, dt.time(), SHANGHAI).timestamp()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), SHANGHAI).timestamp()
    _today = (start, end, day)
    return day


def freeze(at: dt.datetime | None) -> None:
    """Pin the clock (tests and demos); None releases it."""
    global _frozen
    _frozen = at
