"""Dates of record: Asia/Shanghai, the annual-report window and Chinese working days.

企业年报: the report on year Y is filed between 1 January and 30 June of Y+1; an enterprise that
misses it is put on the 经营异常名录. 即时信息 must be published within 20 working days, counted
with weekends, public holidays and the official make-up working days (调休) of data/cn_holidays.csv.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("Asia/Shanghai")
HOLIDAYS_FILE = "cn_holidays.csv"
INSTANT_INFORMATION_WORKING_DAYS = 20
_PACKAGE = __name__.rpartition(".")[0]

AnnualReportState = Literal["not_required", "done", "due", "overdue"]


def today_in_shanghai(now: datetime | None = None) -> date:
    """The calendar date of record for an instant (default: now); naive datetimes are refused."""
    if now is None:
        return datetime.now(TIMEZONE).date()
    if now.tzinfo is None:
        raise ValueError("a naive datetime has no defined date of record")
    return now.astimezone(TIMEZONE).date()


def annual_report_window(year: int) -> tuple[date, date]:
    """The filing window in `year` (for the report on year-1): 1 January – 30 June, inclusive."""
    return date(year, 1, 1), date(year, 6, 30)


@dataclass(frozen=True, slots=True)
class AnnualReportStatus:
    state: AnnualReportState
    report_year: int | None
    """The report at stake: the oldest one outstanding, else the latest one required."""
    deadline: date | None
    days_left: int | None
    """Days from today to `deadline` (0 on the last day, negative once overdue); None if moot."""
    outstanding_years: tuple[int, ...]

    @property
    def abnormal_list_risk(self) -> bool:
        """A missed deadline puts the enterprise on the 经营异常名录."""
        return self.state == "overdue"


def annual_report_status(
    today: date, *, last_reported_year: int | None, established_on: date | None = None
) -> AnnualReportStatus:
    """Where an enterprise stands on its 企业年报.

    Without `established_on`, a missing `last_reported_year` only puts last year's report at
    stake: older gaps cannot be told apart from the enterprise not existing yet.
    """
    latest_required = today.year - 1
    if established_on is not None and established_on.year > latest_required:
        first = established_on.year
        return AnnualReportStatus("not_required", first, _deadline_for(first), None, ())
    if last_reported_year is not None:
        first_outstanding = last_reported_year + 1
    elif established_on is not None:
        first_outstanding = established_on.year
    else:
        first_outstanding = latest_required
    if established_on is not None:
        # No report is owed for years before the enterprise existed.
        first_outstanding = max(first_outstanding, established_on.year)
    outstanding = tuple(range(first_outstanding, latest_required + 1))
    if not outstanding:
        return AnnualReportStatus("done", latest_required, _deadline_for(latest_required), None, ())
    deadline = _deadline_for(outstanding[0])
    days_left = (deadline - today).days
    state: AnnualReportState = "due" if days_left >= 0 else "overdue"
    return AnnualReportStatus(state, outstanding[0], deadline, days_left, outstanding)


def _deadline_for(report_year: int) -> date:
    return annual_report_window(report_year + 1)[1]


@dataclass(frozen=True, slots=True)
class HolidaySchedule:
    days_off: frozenset[date]
    make_up_working_days: frozenset[date]
    scheduled_years: frozenset[int]
    """Years whose official schedule the data file holds; other years count weekends only."""

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_working_days:
            return True
        return day.weekday() < 5 and day not in self.days_off


def parse_holiday_csv(text: str) -> HolidaySchedule:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    days_off: set[date] = set()
    working: set[date] = set()
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        day = date.fromisoformat(row["date"])
        if row["kind"] == "holiday":
            days_off.add(day)
        elif row["kind"] == "workday":
            if day.weekday() < 5:
                raise ValueError(f"{day} is a weekday; only weekend days can be 调休 working days")
            working.add(day)
        else:
            raise ValueError(f"unknown kind {row['kind']!r} on {day}")
    if days_off & working:
        raise ValueError(f"days both off and working: {sorted(days_off & working)}")
    return HolidaySchedule(
        days_off=frozenset(days_off),
        make_up_working_days=frozenset(working),
        scheduled_years=frozenset(day.year for day in days_off | working),
    )


@lru_cache(maxsize=1)
def holiday_schedule() -> HolidaySchedule:
    text = (resources.files(_PACKAGE) / "data" / HOLIDAYS_FILE).read_text(encoding="utf-8")
    return parse_holiday_csv(text)


def is_working_day(day: date) -> bool:
    return holiday_schedule().is_working_day(day)


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after `start` (before it when n < 0); `start` itself is not counted,
    as in 期间开始的当日不计算在期间内. n == 0 returns `start`."""
    schedule = holiday_schedule()
    step = timedelta(days=1 if n >= 0 else -1)
    day, remaining = start, abs(n)
    while remaining:
        day += step
        if schedule.is_working_day(day):
            remaining -= 1
    return day


def count_working_days(start: date, end: date) -> int:
    """Working days in the half-open span (start, end]; negative when end precedes start."""
    if end < start:
        return -count_working_days(end, start)
    schedule = holiday_schedule()
    return sum(
        schedule.is_working_day(start + timedelta(days=offset))
        for offset in range(1, (end - start).days + 1)
    )


def instant_information_deadline(formed_on: date) -> date:
    """Last day to publish 即时信息 formed on `formed_on` (20 working days)."""
    return add_working_days(formed_on, INSTANT_INFORMATION_WORKING_DAYS)
