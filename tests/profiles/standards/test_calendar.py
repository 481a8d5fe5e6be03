from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from profiles.standards.calendar import (
    TIMEZONE,
    add_working_days,
    annual_report_status,
    annual_report_window,
    count_working_days,
    holiday_schedule,
    instant_information_deadline,
    is_working_day,
    parse_holiday_csv,
    today_in_shanghai,
)


def test_time_zone_of_record() -> None:
    assert str(TIMEZONE) == "Asia/Shanghai"
    # 16:30 UTC on 30 June is already 1 July in Shanghai: the window has closed.
    assert today_in_shanghai(datetime(2026, 6, 30, 16, 30, tzinfo=UTC)) == date(2026, 7, 1)
    assert today_in_shanghai(datetime(2026, 6, 30, 15, 59, tzinfo=UTC)) == date(2026, 6, 30)
    with pytest.raises(ValueError):
        today_in_shanghai(datetime(2026, 6, 30, 12, 0))


def test_annual_report_window() -> None:
    assert annual_report_window(2026) == (date(2026, 1, 1), date(2026, 6, 30))
    assert annual_report_window(2024) == (date(2024, 1, 1), date(2024, 6, 30))


def test_report_is_due_through_30_june() -> None:
    opening = annual_report_status(date(2026, 1, 1), last_reported_year=2024)
    assert (opening.state, opening.report_year, opening.deadline) == (
        "due",
        2025,
        date(2026, 6, 30),
    )
    assert opening.days_left == 180
    last_day = annual_report_status(date(2026, 6, 30), last_reported_year=2024)
    assert (last_day.state, last_day.days_left) == ("due", 0)
    assert not last_day.abnormal_list_risk


def test_missing_the_deadline_risks_the_abnormal_operations_list() -> None:
    status = annual_report_status(date(2026, 7, 1), last_reported_year=2024)
    assert status.state == "overdue"
    assert status.days_left == -1
    assert status.abnormal_list_risk


def test_filed_report_is_done() -> None:
    status = annual_report_status(date(2026, 3, 1), last_reported_year=2025)
    assert (status.state, status.report_year, status.outstanding_years) == ("done", 2025, ())
    assert not status.abnormal_list_risk


def test_an_older_gap_is_overdue_even_inside_the_window() -> None:
    status = annual_report_status(date(2026, 3, 1), last_reported_year=2023)
    assert status.state == "overdue"
    assert status.report_year == 2024
    assert status.deadline == date(2025, 6, 30)
    assert status.outstanding_years == (2024, 2025)


def test_establishment_date_decides_which_reports_exist() -> None:
    new = annual_report_status(
        date(2026, 3, 1), last_reported_year=None, established_on=date(2026, 1, 5)
    )
    assert new.state == "not_required"
    assert (new.report_year, new.deadline) == (2026, date(2027, 6, 30))
    first = annual_report_status(
        date(2026, 3, 1), last_reported_year=None, established_on=date(2025, 11, 2)
    )
    assert (first.state, first.outstanding_years) == ("due", (2025,))
    silent = annual_report_status(
        date(2026, 3, 1), last_reported_year=None, established_on=date(2023, 5, 1)
    )
    assert (silent.state, silent.outstanding_years) == ("overdue", (2023, 2024, 2025))
    unknown = annual_report_status(date(2026, 3, 1), last_reported_year=None)
    assert (unknown.state, unknown.outstanding_years) == ("due", (2025,))


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 2, 4), True),  # Sunday, 春节调休上班
        (date(2024, 2, 12), False),  # Monday, 春节
        (date(2024, 2, 18), True),  # Sunday, 春节调休上班
        (date(2024, 10, 7), False),  # Monday, 国庆节
        (date(2025, 1, 28), False),  # Tuesday, 除夕 (holiday since the 2024 amendment)
        (date(2025, 2, 8), True),  # Saturday, 春节调休上班
        (date(2025, 5, 2), False),  # Friday, 劳动节
        (date(2025, 10, 8), False),  # Wednesday, 国庆节、中秋节
        (date(2026, 1, 4), True),  # Sunday, 元旦调休上班
        (date(2026, 2, 23), False),  # Monday, 春节
        (date(2026, 2, 28), True),  # Saturday, 春节调休上班
        (date(2026, 9, 25), False),  # Friday, 中秋节
        (date(2026, 10, 10), True),  # Saturday, 国庆节调休上班
        (date(2026, 11, 20), True),  # an ordinary Friday
        (date(2026, 11, 21), False),  # an ordinary Saturday
    ],
)
def test_working_days_follow_the_official_schedule(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_schedule_coverage_is_explicit() -> None:
    schedule = holiday_schedule()
    assert schedule.scheduled_years == {2024, 2025, 2026}
    # 2027 is not published in the data yet: it counts weekends only until rows are added.
    assert all(day.year != 2027 for day in schedule.days_off)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 9, 30), 1, date(2026, 10, 8)),  # across 国庆节
        (date(2026, 10, 8), -1, date(2026, 9, 30)),
        (date(2025, 1, 27), 1, date(2025, 2, 5)),  # across 春节
        (date(2024, 2, 9), 1, date(2024, 2, 18)),  # the make-up Sunday counts
        (date(2026, 11, 20), 1, date(2026, 11, 23)),  # over a plain weekend
        (date(2026, 11, 21), 0, date(2026, 11, 21)),
    ],
)
def test_add_working_days(start: date, n: int, expected: date) -> None:
    assert add_working_days(start, n) == expected


def test_instant_information_within_20_working_days() -> None:
    # From Tue 15 Sep 2026: 16-18 Sep, Sun 20 Sep (调休), 21-24 Sep, 28-30 Sep, 8-9 Oct,
    # Sat 10 Oct (调休), 12-16 Oct and 19 Oct make twenty.
    assert instant_information_deadline(date(2026, 9, 15)) == date(2026, 10, 19)


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@given(days, st.integers(min_value=0, max_value=80))
def test_counting_inverts_adding(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert count_working_days(start, end) == n
    assert count_working_days(end, start) == -n
    if n:
        assert is_working_day(end)
        assert add_working_days(end, -n) <= start
    if n and is_working_day(start):
        assert add_working_days(end, -n) == start


@given(days, days)
def test_count_matches_a_day_by_day_walk(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    walked = sum(
        is_working_day(start + timedelta(days=k)) for k in range(1, (end - start).days + 1)
    )
    assert count_working_days(start, end) == walked


def test_holiday_file_rules() -> None:
    header = "date,kind,name\n"
    with pytest.raises(ValueError):
        parse_holiday_csv(header + "2026-11-20,workday,not a weekend\n")
    with pytest.raises(ValueError):
        parse_holiday_csv(header + "2026-11-21,day-off,unknown kind\n")
    with pytest.raises(ValueError):
        parse_holiday_csv(header + "2026-11-21,holiday,x\n2026-11-21,workday,y\n")
    schedule = parse_holiday_csv("# comment\n" + header + "2026-11-20,holiday,x\n")
    assert not schedule.is_working_day(date(2026, 11, 20))
    assert schedule.scheduled_years == {2026}


def test_every_make_up_day_is_a_weekend_and_every_year_has_its_seven_festivals() -> None:
    schedule = holiday_schedule()
    assert all(day.weekday() >= 5 for day in schedule.make_up_working_days)
    for year in schedule.scheduled_years:
        weekday_holidays = [d for d in schedule.days_off if d.year == year and d.weekday() < 5]
        # 11 statutory days before 2025, 13 after; 调休 only moves days, it never removes them.
        assert len(weekday_holidays) >= 11, year
