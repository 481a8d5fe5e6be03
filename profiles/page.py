"""The enterprise dedicated page: profile summary, pending items, reminders, badges, and the
sections other domains contribute (notices, policies)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from core import clock
from core.db import pinned_connection
from profiles import repository
from profiles.reminders import compute_reminders
from profiles.standards.industry import industry_table

ACTION_STATES = ("needs_supplement",)
IN_PROGRESS_STATES = ("submitted", "in_review")
_STATE_PROGRESS = {"submitted": 25, "in_review": 60, "needs_supplement": 40}
STATE_LABELS = {
    "submitted": "已提交", "in_review": "审核中", "needs_supplement": "待补正",
    "approved": "已办结（通过）", "rejected": "未通过", "closed": "已关闭",
}

# A section provider gets the enterprise row and returns (section, badge counts).
SectionProvider = Callable[[dict[str, Any]], Awaitable[tuple[dict[str, Any], dict[str, int]]]]
_sections: dict[str, SectionProvider] = {}


def register_section(name: str, provider: SectionProvider) -> None:
    _sections[name] = provider


def _iso(value: Any) -> str | None:
    """RFC 3339 in UTC for instants, YYYY-MM-DD for dates, whatever the database returned."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns text
        value = dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _matter(m: dict[str, Any]) -> dict[str, Any]:
    progress = m["progress"] if m["progress"] is not None else _STATE_PROGRESS.get(m["state"])
    return {
        "source_system": m["source_system"],
        "external_id": m["external_id"],
        "title": m["title"],
        "state": m["state"],
        "state_label": STATE_LABELS[m["state"]],
        "progress": progress,
        "progress_label": m["progress_label"],
        "due_on": _iso(m["due_on"]),
        "action_url": m["action_url"],
        "updated_at": _iso(m["source_updated_at"]),
    }


def _industry(code: str) -> dict[str, str]:
    table = industry_table()
    return {"code": code, "label": table.label(code) if table.get(code) else code}


async def build_page(uscc: str) -> dict[str, Any] | None:
    # One connection for every section's queries, without BEGIN/COMMIT: each pool release costs
    # asyncpg a reset round trip, and a page has several queries across domains.
    async with pinned_connection():
        return await _build_page(uscc)


async def _build_page(uscc: str) -> dict[str, Any] | None:
    enterprise = await repository.page_rows(uscc)
    if enterprise is None:
        return None
    today = clock.today_shanghai()
    matters = enterprise["matters"]
    action = [_matter(m) for m in matters if m["state"] in ACTION_STATES]
    in_progress = [_matter(m) for m in matters if m["state"] in IN_PROGRESS_STATES]
    reminders = compute_reminders(enterprise, today=today)
    badges = {
        "action_required": len(action),
        "in_progress": len(in_progress),
        "reminders_urgent": sum(r.severity in ("overdue", "critical") for r in reminders),
        "notices_unread": 0,
        "policies_open": 0,
    }
    page: dict[str, Any] = {
        "enterprise": {
            "uscc": enterprise["uscc"],
            "name": enterprise["name"],
            "zone": enterprise["zone"],
            "region_code": enterprise["region_code"],
            "industry": _industry(enterprise["industry_code"]),
            "size": enterprise["size"],
            "registered_capital_yuan": enterprise["registered_capital_yuan"],
            "established_on": _iso(enterprise["established_on"]),
            "status": enterprise["status"],
            "credit_level": enterprise["credit_level"],
            "legal_representative": enterprise["legal_representative"],
            "tags": enterprise["tags"],
            "legacy_uscc": bool(enterprise["legacy_uscc"]),
        },
        "pending": {"action_required": action, "in_progress": in_progress},
        "reminders": [r.as_dict() for r in reminders],
        "notices": {"unread": 0, "items": []},
        "policies": {"items": []},
        "badges": badges,
        "as_of": today.isoformat(),
    }
    for name, provider in _sections.items():
        section, counts = await provider(enterprise)
        page[name] = section
        badges.update(counts)
    return page
