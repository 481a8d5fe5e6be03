"""Per-person push preferences: switches per kind × channel (no row = on) and quiet hours.

Switches are applied where deliveries are written (the fan-out INSERT … SELECT joins them and
writes opted-out devices as `skipped`/`preference_off`). Quiet hours are applied when a worker
claims a delivery: a non-urgent one inside the window goes back to `pending` with
next_attempt_at = the end of the window (deferred, never dropped); urgent ones go through.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from core import clock
from push import repository
from push.models import CHANNELS, PUSH_KINDS
from push.repository import QuietWindow
from push.schemas import PreferencesInput

DEFAULT_TIMEZONE = "Asia/Shanghai"


def quiet_until(window: QuietWindow, now: dt.datetime) -> dt.datetime | None:
    """When `now` falls inside the window, the instant (UTC) it ends; otherwise None. A window
    whose start is after its end wraps midnight (22:00–07:00)."""
    tz = ZoneInfo(window.timezone)
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    start, end = window.start_minute, window.end_minute
    if start == end:
        return None
    if start < end:
        if not start <= minute < end:
            return None
        end_day = local.date()
    else:
        if not (minute >= start or minute < end):
            return None
        end_day = local.date() + dt.timedelta(days=1) if minute >= start else local.date()
    end_local = dt.datetime.combine(end_day, dt.time(end // 60, end % 60), tzinfo=tz)
    return end_local.astimezone(dt.UTC)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


async def get_preferences(person_id: int) -> dict[str, Any]:
    stored = {(k, c): e for k, c, e in await repository.preferences_of(person_id)}
    window = await repository.quiet_window_of(person_id)
    return {
        "preferences": [
            {"kind": kind, "channel": channel, "enabled": stored.get((kind, channel), True)}
            for kind in PUSH_KINDS for channel in CHANNELS
        ],
        "quiet_hours": None if window is None else {
            "start": _hhmm(window.start_minute), "end": _hhmm(window.end_minute),
            "timezone": window.timezone,
        },
        "urgent_bypasses_quiet_hours": True,
    }


async def put_preferences(person_id: int, data: PreferencesInput) -> dict[str, Any]:
    now = clock.now()
    async with in_transaction():
        await repository.put_preferences(person_id, list(data.switches), now)
        if data.quiet_hours_given:
            window = None if data.quiet_hours is None else QuietWindow(
                data.quiet_hours.start_minute, data.quiet_hours.end_minute,
                data.quiet_hours.timezone)
            await repository.put_quiet_window(person_id, window, now)
    return await get_preferences(person_id)
