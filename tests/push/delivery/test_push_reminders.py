"""Deadline reminders become pushes exactly once per (enterprise, reminder, offset), however
many schedulers run and however often."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import httpx

from core import clock
from core.db import conn
from push.reminders import schedule_reminders, windows
from tests import factories as f
from tests.notices.helpers import World
from tests.push.helpers import deliveries, register


def _at_shanghai_noon(day: dt.date) -> None:
    clock.freeze(dt.datetime(day.year, day.month, day.day, 4, 0, tzinfo=dt.UTC))


async def _sends() -> Counter[tuple[str, int]]:
    rows = await conn().execute_query_dict(
        "SELECT kind, offset_days, COUNT(*) AS n FROM reminder_sends GROUP BY kind, offset_days")
    return Counter({(str(r["kind"]), int(r["offset_days"])): int(r["n"]) for r in rows})


def test_offset_windows() -> None:
    assert windows((30, 7, 1)) == [(1, 0, 1), (7, 2, 7), (30, 8, 30)]
    assert windows((3,)) == [(3, 0, 3)]


async def test_reminders_fire_once_per_offset(client: httpx.AsyncClient, world: World) -> None:
    today = dt.date(2026, 6, 23)  # the annual report (2025) is due 30 June: 7 days left
    uscc = world.enterprises["南沙甲"]
    resp = await f.put_enterprise(client, world.key, uscc, name="南沙甲有限公司", licences=[
        {"kind": "food", "number": "F-1", "name": "食品经营许可证",
         "expires_on": (today + dt.timedelta(days=1)).isoformat()},
        {"kind": "env", "number": "E-9", "name": "排污许可证",
         "expires_on": (today + dt.timedelta(days=27)).isoformat()},
        {"kind": "trade", "number": "T-3", "name": "对外贸易经营者备案登记表",
         "expires_on": (today + dt.timedelta(days=90)).isoformat()},
    ], last_annual_report_year=2024)
    assert resp.status_code == 200, resp.text
    resp = await client.put("/v1/matters/samr/M-1", headers={"Authorization": f"ApiKey {world.key}"},
                            json={"uscc": uscc, "title": "食品经营许可证延续", "state": "in_review",
                                  "due_on": (today + dt.timedelta(days=5)).isoformat(),
                                  "updated_at": "2026-06-01T00:00:00Z"})
    assert resp.status_code == 201, resp.text
    # 南沙乙 filed its 2025 report; 前海丙 has not (established 2019, reports never filed).
    await world.update_enterprise("南沙乙", last_annual_report_year=2025)
    for label in ("南沙甲", "南沙乙", "前海丙"):
        await register(client, world.staff[label])

    _at_shanghai_noon(today)
    runs = await asyncio.gather(*(schedule_reminders() for _ in range(3)))
    assert sum(r.deliveries for r in runs) == 5
    assert await _sends() == {("annual_report", 7): 2, ("licence_expiry", 1): 1,
                              ("licence_expiry", 30): 1, ("matter_due", 7): 1}
    # 南沙甲: the report, two licences and the matter; 前海丙: the report; 南沙乙: nothing.
    rows = await deliveries(source="reminder")
    assert sorted(Counter(int(r["enterprise_id"]) for r in rows).values()) == [1, 4]

    # Later runs the same day and the next day add nothing: same windows, same keys.
    assert (await schedule_reminders()).deliveries == 0
    _at_shanghai_noon(today + dt.timedelta(days=1))
    assert (await schedule_reminders()).deliveries == 0
    # Six days on, the report is 1 day from due: the 1-day reminder goes out once.
    _at_shanghai_noon(today + dt.timedelta(days=6))
    run = await schedule_reminders()
    assert run.sends.get("annual_report") == 2
    assert (await schedule_reminders()).deliveries == 0
    messages = await conn().execute_query_dict(
        "SELECT title, body FROM push_messages WHERE source = 'reminder' ORDER BY id")
    assert any("请于2026年6月30日前报送2025年度报告" in m["body"] for m in messages)


async def test_configured_offsets_and_opted_out_people(client: httpx.AsyncClient,
                                                       world: World) -> None:
    today = dt.date(2026, 6, 28)
    staff = world.staff["前海丙"]
    await register(client, staff)
    await client.put("/v1/me/push-preferences", headers=f.bearer(staff), json={
        "preferences": [{"kind": "reminder", "channel": "fcm", "enabled": False}]})
    _at_shanghai_noon(today)
    run = await schedule_reminders(offsets=(3,))
    assert run.sends == {"annual_report": 3}
    [row] = await deliveries(source="reminder")
    assert (row["status"], row["reason"]) == ("skipped", "preference_off")
