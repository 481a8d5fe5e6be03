"""The one place that knows what time it is, so tests can move it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Current instant, timezone-aware UTC."""
    return _frozen if _frozen is not None else dt.datetime.now(dt.UTC)


def today_shanghai() -> dt.date:
    return now().astimezone(SHANGHAI).date()


def freeze(at: dt.datetime | None) -> None:
    """Pin the clock (tests and demos); None releases it."""
    global _frozen
    _frozen = at
