"""The enterprise dedicated page: profile summary, pending items, reminders, badges, and the
sections other domains contribute (notices, policies)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core import clock
from core.batching import Batcher
from core.db import is_postgres
from profiles import repository
from profiles.reminders import compute_reminders
from profiles.repository import PageQuery
from profiles.standards.industry import industry_table

ACTION_STATES = ("needs_supplement",)
IN_PROGRESS_STATES = ("submitted", "in_review")
_STATE_PROGRESS = {"submitted": 25, "in_review": 60, "needs_supplement": 40}
STATE_LABELS = {
    "submitted": "已提交", "in_review": "审核中", "needs_supplement": "待补正",
    "approved": "已办结（通过）", "rejected": "未通过", "closed": "已关闭",
}

Rows = Sequence[Sequence[Any]]  # a section's rows for one page, in the section's own shape


@dataclass(frozen=True, slots=True)
class Section:
    """A page section another domain contributes (profiles never imports it).

    - `postgres_rows`: a scalar subquery giving the section's rows for the enterprise `e` as one
      JSON array (`$3` is the current instant): on PostgreSQL it rides in the page's statement;
    - `fetch_rows(enterprise, now)`: the same rows on any database, for one enterprise;
    - `details(rows of each page in a batch)`: what those rows refer to, from this process's
      memory or one query for what it lacks (rows carry only ids and versions: every cold page
      decodes them, and what they refer to is the same on thousands of pages);
    - `build(enterprise, rows, details)`: the section and its badge counts.
    """

    name: str
    postgres_rows: str
    fetch_rows: Callable[[Mapping[str, Any], dt.datetime], Awaitable[Rows]]
    details: Callable[[Sequence[Rows]], Awaitable[Any]]
    build: Callable[[Mapping[str, Any], Rows, Any], tuple[dict[str, Any], dict[str, int]]]


_sections: dict[str, Section] = {}


def register_section(section: Section) -> None:
    _sections[section.name] = section


@dataclass(frozen=True, slots=True)
class Rendered:
    page: dict[str, Any] | None  # None: no such enterprise
    role: str | None  # the asking person's membership role; None: not a member, or not asked


def _iso(value: Any) -> str | None:
    """RFC 3339 in UTC for instants, YYYY-MM-DD for dates, whatever the database returned."""
    if value is None:
        return None
    if isinstance(value, str):  # inside PostgreSQL's JSON arrays, and everything from SQLite
        if len(value) == 10:
            return dt.date.fromisoformat(value).isoformat()
        if value.endswith("+00:00") and value[10] == "T":  # PostgreSQL's JSON in UTC
            return value[:-6] + "Z"
        value = dt.datetime.fromisoformat(value)
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
    return {"code": code, "label": _industry_label(code)}


@functools.lru_cache(maxsize=4096)
def _industry_label(code: str) -> str:
    table = industry_table()
    return table.label(code) if table.get(code) else code


@dataclass(frozen=True, slots=True)
class Loaded:
    """A page as read from the database, before rendering."""
    enterprise: dict[str, Any] | None  # None: no such enterprise
    role: str | None  # the asking person's membership role; None: not a member, or not asked
    sections: list[tuple[Section, Rows, Any]]  # each section, its rows and their details


async def load_pages(queries: Sequence[PageQuery]) -> list[Loaded]:
    """What a batch of pages is made of, each with the asking person's membership checked on
    the way: one statement on PostgreSQL, whatever the batch size (and one more for section
    details this process has not seen yet)."""
    now = clock.now()
    sections = list(_sections.values())
    if is_postgres():
        rows = await repository.page_rows(
            queries, sections=[s.postgres_rows for s in sections], now=now)
        found = [row for row in rows if row.enterprise is not None]
        details = [await s.details([row.sections[i] for row in found])
                   for i, s in enumerate(sections)]
        return [Loaded(row.enterprise, row.role,
                       list(zip(sections, row.sections, details, strict=True))
                       if row.enterprise is not None else [])
                for row in rows]
    loaded: list[Loaded] = []
    for query in queries:
        role = (await repository.membership_role(query.person_id, query.uscc)
                if query.person_id is not None else None)
        enterprise = await repository.page_row(query.uscc)
        parts = []
        if enterprise is not None:
            for section in sections:
                section_rows = await section.fetch_rows(enterprise, now)
                parts.append((section, section_rows, await section.details([section_rows])))
        loaded.append(Loaded(enterprise, role, parts))
    return loaded


async def render_pages(queries: Sequence[PageQuery]) -> list[Rendered]:
    """Pages for a batch of enterprises (`load_pages`), rendered."""
    return [Rendered(_page(page.enterprise, page.sections)
                     if page.enterprise is not None else None, page.role)
            for page in await load_pages(queries)]


# Concurrent cold pages share one statement per loop turn (core.batching).
_render_batch: Batcher[PageQuery, Rendered] = Batcher(render_pages, name="page.render")


async def render_page(uscc: str, *, person_id: int | None) -> Rendered:
    return await _render_batch(PageQuery(uscc, person_id))


async def build_page(uscc: str) -> dict[str, Any] | None:
    return (await render_page(uscc, person_id=None)).page


def _page(enterprise: dict[str, Any],
          sections: Iterable[tuple[Section, Rows, Any]]) -> dict[str, Any]:
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
    for section, rows, details in sections:
        page[section.name], counts = section.build(enterprise, rows, details)
        badges.update(counts)
    return page
