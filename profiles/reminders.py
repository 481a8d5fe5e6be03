"""Deadline reminders computed from the profile: annual report, licence expiry, matter due dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["overdue", "critical", "warning", "info"]

LICENCE_HORIZON_DAYS = 90
MATTER_HORIZON_DAYS = 30
ANNUAL_REPORT_DUE = (6, 30)  # previous year's report: 1 Jan – 30 Jun


@dataclass(frozen=True, slots=True)
class Reminder:
    kind: Literal["annual_report", "licence_expiry", "matter_due"]
    title: str
    due_on: str
    days_left: int
    severity: Severity
    ref: str | None = None

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, slow on every cold page.
        return {"kind": self.kind, "title": self.title, "due_on": self.due_on,
                "days_left": self.days_left, "severity": self.severity, "ref": self.ref}


def severity_for(days_left: int) -> Severity:
    if days_left < 0:
        return "overdue"
    if days_left <= 7:
        return "critical"
    if days_left <= 30:
        return "warning"
    return "info"


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def annual_report_reminder(
    *, today: dt.date, established_on: dt.date | None, last_reported_year: int | None
) -> Reminder | None:
    report_year = today.year - 1
    if established_on is not None and established_on.year > report_year:
        return None  # founded this year: the first report is due next year
    if last_reported_year is not None and last_reported_year >= report_year:
        return None
    due = dt.date(today.year, *ANNUAL_REPORT_DUE)
    days_left = (due - today).days
    if days_left < 0:
        title = f"{report_year}年度报告逾期未报，可能已被列入经营异常名录"
    else:
        title = f"请于{due.month}月{due.day}日前报送{report_year}年度报告"
    return Reminder("annual_report", title, due.isoformat(), days_left, severity_for(days_left),
                    str(report_year))


def compute_reminders(enterprise: dict[str, Any], *, today: dt.date) -> list[Reminder]:
    reminders: list[Reminder] = []
    annual = annual_report_reminder(
        today=today,
        established_on=_as_date(enterprise.get("established_on")),
        last_reported_year=enterprise.get("last_annual_report_year"),
    )
    if annual:
        reminders.append(annual)
    for lic in enterprise.get("licences", []):
        expires = _as_date(lic.get("expires_on"))
        if expires is None:
            continue
        days_left = (expires - today).days
        if days_left <= LICENCE_HORIZON_DAYS:
            verb = "已过期" if days_left < 0 else "即将到期"
            reminders.append(Reminder(
                "licence_expiry", f"{lic['name']}（{lic['number']}）{verb}", expires.isoformat(),
                days_left, severity_for(days_left), f"{lic['kind']}:{lic['number']}",
            ))
    for matter in enterprise.get("matters", []):
        due = _as_date(matter.get("due_on"))
        if due is None:
            continue
        days_left = (due - today).days
        if days_left <= MATTER_HORIZON_DAYS:
            reminders.append(Reminder(
                "matter_due", f"办件「{matter['title']}」办理期限", due.isoformat(), days_left,
                severity_for(days_left), f"{matter['source_system']}:{matter['external_id']}",
            ))
    reminders.sort(key=lambda r: (r.days_left, r.kind))
    return reminders
