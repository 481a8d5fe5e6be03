"""Deadline reminders as pushes: the annual report (previous year's report due 30 June, see
`profiles.standards.calendar`), licence expiry and matter due dates, at configurable offsets
(`ENTPAGE_REMINDER_OFFSETS`, default 30, 7 and 1 days before).

Exactly once per (enterprise, reminder key, offset), with any number of workers and across
restarts: each run inserts into `reminder_sends` (unique on those three) with
INSERT … SELECT … ON CONFLICT DO NOTHING, stamping the rows it actually inserted with a batch id,
and creates deliveries from that batch only — in the same transaction.

Which offset applies: a deadline `d` days away (d ≥ 0) falls in the window of the smallest
offset ≥ d. So a reminder entering the 30-day window is pushed once, again on entering the
7-day window, and once more at 1 day; a scheduler that was down for a while sends only the
current window's reminder, never a burst of stale ones. Overdue deadlines are not pushed (the
page shows them).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from core import clock
from core.db import Sql, new_sql
from notices.repository import insert_count, typed
from profiles.standards.calendar import annual_report_window
from push import events, repository
from push.config import push_config
from push.repository import Fanout, as_text, reminder_insert

log = logging.getLogger(__name__)

ACTIVE_ENTERPRISE = "e.status IN ('active', 'abnormal')"
OPEN_MATTER_STATES = ("submitted", "in_review", "needs_supplement")


@dataclass(frozen=True, slots=True)
class ReminderRun:
    batch: str
    sends: dict[str, int] = field(default_factory=dict)  # kind → reminder_sends inserted
    deliveries: int = 0


def windows(offsets: Sequence[int]) -> list[tuple[int, int, int]]:
    """(offset, first day, last day) with days counted from today: the 30/7/1 offsets give
    (1, 0, 1), (7, 2, 7), (30, 8, 30)."""
    ordered = sorted(set(offsets))
    result, previous = [], -1
    for offset in ordered:
        result.append((offset, previous + 1, offset))
        previous = offset
    return result


def _message_text(kind: str, *, due: dt.date, days_left: int,
                  report_year: int | None) -> tuple[str, str]:
    date_text = f"{due.year}年{due.month}月{due.day}日"
    if kind == "annual_report":
        return ("企业年报提醒",
                f"请于{date_text}前报送{report_year}年度报告（剩余{days_left}天），"
                "逾期将被列入经营异常名录。")
    if kind == "licence_expiry":
        return ("证照到期提醒", f"贵企业有证照将于{date_text}到期（剩余{days_left}天），请及时办理延续。")
    return ("办件期限提醒", f"贵企业有办件将于{date_text}到期（剩余{days_left}天），请及时处理。")


def _selects(*, today: dt.date, first: int,
             last: int) -> list[tuple[str, Callable[[Sql], str]]]:
    """The deadline sources whose reminders fall `first`..`last` days from today."""
    def window(column: str) -> Callable[[Sql], str]:
        def bound(sql: Sql) -> str:
            return (f"{column} >= {sql.p(today + dt.timedelta(days=first))} "
                    f"AND {column} <= {sql.p(today + dt.timedelta(days=last))}")
        return bound

    selects: list[tuple[str, Callable[[Sql], str]]] = []
    due = annual_report_window(today.year)[1]
    if first <= (due - today).days <= last:
        selects.append(("annual_report", lambda sql: _annual_report_select(sql, today=today)))
    licence_window, matter_window = window("l.expires_on"), window("m.due_on")
    selects.append(("licence_expiry", lambda sql: _licence_select(sql, licence_window)))
    selects.append(("matter_due", lambda sql: _matter_select(sql, matter_window)))
    return selects


def _annual_report_select(sql: Sql, *, today: dt.date) -> str:
    report_year = today.year - 1
    due = annual_report_window(today.year)[1]
    return (
        f"SELECT e.id AS enterprise_id, {typed(sql, f'annual_report:{report_year}', 'VARCHAR')} "
        f"AS reminder_key, {typed(sql, due, 'DATE')} AS due_on FROM enterprises e "
        f"WHERE {ACTIVE_ENTERPRISE} AND (e.last_annual_report_year IS NULL OR "
        f"e.last_annual_report_year < {sql.p(report_year)}) AND (e.established_on IS NULL OR "
        f"e.established_on < {sql.p(dt.date(report_year + 1, 1, 1))})"
    )


def _licence_select(sql: Sql, window: Callable[[Sql], str]) -> str:
    return (
        "SELECT l.enterprise_id AS enterprise_id, 'licence_expiry:' || l.kind || ':' || "
        f"l.number || ':' || {as_text('l.expires_on')} AS reminder_key, "
        "l.expires_on AS due_on FROM licences l JOIN enterprises e ON e.id = l.enterprise_id "
        f"WHERE {ACTIVE_ENTERPRISE} AND {window(sql)}"
    )


def _matter_select(sql: Sql, window: Callable[[Sql], str]) -> str:
    states = ", ".join(f"'{state}'" for state in OPEN_MATTER_STATES)
    return (
        "SELECT m.enterprise_id AS enterprise_id, 'matter_due:' || m.source_system || ':' || "
        f"m.external_id || ':' || {as_text('m.due_on')} AS reminder_key, "
        "m.due_on AS due_on FROM matters m JOIN enterprises e ON e.id = m.enterprise_id "
        f"WHERE {ACTIVE_ENTERPRISE} AND m.state IN ({states}) AND {window(sql)}"
    )


async def schedule_reminders(*, today: dt.date | None = None,
                             offsets: Sequence[int] | None = None) -> ReminderRun:
    """One scheduler pass (idempotent; run it as often as you like)."""
    today = today or clock.today_shanghai()
    config = push_config()
    offsets = tuple(offsets) if offsets is not None else config.reminder_offsets
    batch = uuid.uuid4().hex
    now = clock.now()
    sends: dict[str, int] = {}
    async with in_transaction():
        for offset, first, last in windows(offsets):
            for kind, select in _selects(today=today, first=first, last=last):
                sql = new_sql()
                text = reminder_insert(sql, kind=kind, select=select, offset_days=offset,
                                       batch=batch, now=now)
                inserted = await insert_count(text, sql.params)
                if inserted:
                    sends[kind] = sends.get(kind, 0) + inserted
        if not sends:
            return ReminderRun(batch)
        for kind, offset, due, _ in await repository.reminder_due_dates(batch):
            title, body = _message_text(kind, due=due, days_left=(due - today).days,
                                        report_year=today.year - 1)
            message_id = await repository.ensure_message(
                dedupe_key=f"reminder:{kind}:{due.isoformat()}:{offset}", source="reminder",
                source_id=None, kind="reminder", urgent=False, title=title, body=body,
                data={"reminder": kind, "due_on": due.isoformat(), "offset_days": str(offset)},
                now=now)
            await repository.set_reminder_message(batch, kind=kind, offset_days=offset,
                                                  due_on=due, message_id=message_id)

        def where(sql: Sql) -> str:
            return f"rs.batch = {sql.p(batch)} AND rs.message_id IS NOT NULL"

        deliveries = await repository.insert_deliveries(Fanout(
            source="reminder", table="reminder_sends", alias="rs", where=where,
            source_column="id", enterprise_column="enterprise_id", kind="reminder",
            urgent=False, template_id=config.template_for("reminder"),
            message_column="rs.message_id",
        ), now=now)
        if deliveries:
            await events.enqueue(events.WAKE_CHANNEL, {"source": "reminder", "batch": batch})
    events.kick()
    log.info("push.reminders.scheduled", extra={"batch": batch, "sends": sends,
                                                "deliveries": deliveries,
                                                "today": today.isoformat()})
    return ReminderRun(batch, sends, deliveries)
