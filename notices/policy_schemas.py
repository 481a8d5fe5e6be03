"""Policy library payloads (政策信息集装箱): validated into frozen dataclasses.

Categories are data (`notices/data/policy_categories.json`), not code, so adding 跨境合作 or a
zh-Hant label is a data change. The stored category is its zh-Hans name.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ValidationFailed
from core.validation import Reader
from notices.schemas import (
    MAX_LIMIT,
    decode_cursor,
    https_url,
    parse_limit,
    read_rule,
    reject_unknown_params,
)
from notices.targeting import Rule, to_json

DATA_FILE = Path(__file__).resolve().parent / "data" / "policy_categories.json"
TITLE_MAX = 120
SUMMARY_MAX = 1000
GUIDE_TEXT_MAX = 4000
CONTACT_MAX = 300
DEPARTMENT_MAX = 100
QUERY_MAX = 50

POLICY_FIELDS = ("title", "title_hant", "category", "department", "benefit_summary",
                 "benefit_summary_hant", "source_url", "guide", "guide_hant", "rule",
                 "opens_on", "closes_on")
# Once published, the eligibility rule and the issuing department are the record: changing
# who qualifies means withdrawing and publishing a new policy.
LOCKED_AFTER_PUBLISH = frozenset({"rule", "department"})
GUIDE_KEYS = ("who_qualifies", "how_to_apply", "contact")


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    name_hant: str
    en: str


@functools.cache
def categories() -> tuple[Category, ...]:
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return tuple(Category(c["name"], c["name_hant"], c["en"]) for c in document["categories"])


def category_names() -> tuple[str, ...]:
    return tuple(c.name for c in categories())


@dataclass(frozen=True, slots=True)
class PolicyFields:
    values: Mapping[str, Any]
    present: frozenset[str]
    rule: Rule | None = None


@dataclass(frozen=True, slots=True)
class PolicySearch:
    q: str | None
    category: str | None
    department: str | None
    open_only: bool
    limit: int
    cursor: int | None


def _guide(r: Reader, name: str, *, required: bool) -> dict[str, str] | None:
    if not r.has(name) or r.payload.get(name) is None:
        if required:
            r.fail(name, "is required", "required")
        return None
    g = Reader(r.payload[name], path=r.at(name), problems=r.problems)
    g.reject_unknown(GUIDE_KEYS)
    values = {
        "who_qualifies": g.string("who_qualifies", required=required, max_length=GUIDE_TEXT_MAX),
        "how_to_apply": g.string("how_to_apply", required=required, max_length=GUIDE_TEXT_MAX),
        "contact": g.string("contact", required=required, max_length=CONTACT_MAX),
    }
    return {k: v for k, v in values.items() if v is not None}


def parse_policy(payload: Any, *, partial: bool) -> PolicyFields:
    r = Reader(payload)
    r.reject_unknown(POLICY_FIELDS)
    present = frozenset(k for k in POLICY_FIELDS if r.has(k))
    required = not partial
    values: dict[str, Any] = {}

    def wanted(name: str) -> bool:
        return required or name in present

    if wanted("title"):
        values["title"] = r.string("title", max_length=TITLE_MAX)
    if "title_hant" in present:
        values["title_hant"] = r.string("title_hant", required=False, max_length=TITLE_MAX)
    if wanted("category"):
        values["category"] = r.choice("category", category_names())
    if "department" in present:
        values["department"] = r.string("department", required=False,
                                        max_length=DEPARTMENT_MAX)
    if wanted("benefit_summary"):
        values["benefit_summary"] = r.string("benefit_summary", max_length=SUMMARY_MAX)
    if "benefit_summary_hant" in present:
        values["benefit_summary_hant"] = r.string("benefit_summary_hant", required=False,
                                                  max_length=SUMMARY_MAX)
    if wanted("source_url"):
        values["source_url"] = https_url(r, "source_url")
    if wanted("guide"):
        values["guide"] = _guide(r, "guide", required=True)
    if "guide_hant" in present:
        values["guide_hant"] = _guide(r, "guide_hant", required=False) or None
    if wanted("opens_on"):
        values["opens_on"] = r.date("opens_on", required=False)
    if wanted("closes_on"):
        values["closes_on"] = r.date("closes_on", required=False)
    rule = None
    if wanted("rule"):
        rule = read_rule(r, required=True)
        if rule is not None:
            values["rule"] = to_json(rule)
    opens_on, closes_on = values.get("opens_on"), values.get("closes_on")
    if opens_on is not None and closes_on is not None and closes_on < opens_on:
        r.fail("closes_on", "must not be before opens_on", "range")
    r.raise_if_failed()
    return PolicyFields(values=values, present=present, rule=rule)


def parse_search(params: Mapping[str, str]) -> PolicySearch:
    reject_unknown_params(params, {"q", "category", "department", "open", "limit", "cursor"})
    q = (params.get("q") or "").strip() or None
    if q is not None and len(q) > QUERY_MAX:
        raise ValidationFailed(f"q must be at most {QUERY_MAX} characters", field="q")
    category = params.get("category") or None
    if category is not None and category not in category_names():
        raise ValidationFailed(f"category must be one of: {', '.join(category_names())}",
                               field="category")
    open_raw = (params.get("open") or "").lower()
    if open_raw not in ("", "true", "false", "1", "0"):
        raise ValidationFailed("open must be true or false", field="open")
    cursor = decode_cursor(params.get("cursor"), kind="policies", arity=1)
    return PolicySearch(
        q=q, category=category,
        department=(params.get("department") or "").strip()[:DEPARTMENT_MAX] or None,
        open_only=open_raw in ("true", "1"),
        limit=parse_limit(params.get("limit"), maximum=MAX_LIMIT),
        cursor=int(cursor[0]) if cursor else None,
    )


def window_state(opens_on: dt.date | None, closes_on: dt.date | None, today: dt.date) -> str:
    """open | upcoming | closed, by the application window in Asia/Shanghai dates."""
    if opens_on is not None and today < opens_on:
        return "upcoming"
    if closes_on is not None and today > closes_on:
        return "closed"
    return "open"
