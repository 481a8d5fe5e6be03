"""The profile facts a targeting rule may read about one enterprise, loaded set-based.

`EnterpriseFacts` holds exactly the whitelisted fields, so the Python evaluator cannot read
anything the SQL compiler does not also read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from profiles.models import Enterprise, EnterpriseTag

# Far below SQLite's historic 999-variable limit, and few round trips for big audiences.
LOAD_CHUNK = 500

FIELD_SOURCES: Mapping[str, str] = {
    "zone": "enterprises.zone",
    "region": "enterprises.region_code",
    "industry": "enterprises.industry_code",
    "size": "enterprises.size",
    "registered_capital": "enterprises.registered_capital_yuan",
    "established": "enterprises.established_on",
    "status": "enterprises.status",
    "credit_level": "enterprises.credit_level",
    "tags": "enterprise_tags.tag",
    "uscc": "enterprises.uscc",
}
"""Rule field → the column it reads (for re-matching when a profile column changes)."""

_COLUMNS = (
    "id",
    "uscc",
    "zone",
    "region_code",
    "industry_code",
    "size",
    "registered_capital_yuan",
    "established_on",
    "status",
    "credit_level",
)

Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class EnterpriseFacts:
    id: int
    uscc: str
    zone: str
    region_code: str
    industry_code: str
    size: str | None
    registered_capital_yuan: int | None
    established_on: date | None
    status: str
    credit_level: str | None
    tags: frozenset[str] = frozenset()

    def code(self, field: str) -> str | None:
        """The stored text of a code-valued rule field (zone, region, industry, size, status,
        credit_level, uscc)."""
        match field:
            case "zone":
                return self.zone
            case "region":
                return self.region_code
            case "industry":
                return self.industry_code
            case "size":
                return self.size
            case "status":
                return self.status
            case "credit_level":
                return self.credit_level
            case "uscc":
                return self.uscc
        raise KeyError(field)


async def load_facts(enterprise_ids: Iterable[int]) -> dict[int, EnterpriseFacts]:
    """Facts by enterprise id; ids with no enterprise are simply absent."""
    facts: dict[int, EnterpriseFacts] = {}
    for chunk in _chunks(sorted(set(enterprise_ids)), LOAD_CHUNK):
        rows = await Enterprise.filter(id__in=chunk).values(*_COLUMNS)
        facts.update((item.id, item) for item in await _with_tags(rows))
    return facts


async def load_facts_by_uscc(usccs: Iterable[str]) -> dict[str, EnterpriseFacts]:
    """Facts by USCC (exact, as stored); unknown codes are simply absent."""
    facts: dict[str, EnterpriseFacts] = {}
    for chunk in _chunks(sorted(set(usccs)), LOAD_CHUNK):
        rows = await Enterprise.filter(uscc__in=chunk).values(*_COLUMNS)
        facts.update((item.uscc, item) for item in await _with_tags(rows))
    return facts


async def _with_tags(rows: Sequence[dict[str, Any]]) -> list[EnterpriseFacts]:
    if not rows:
        return []
    tags: dict[int, set[str]] = {row["id"]: set() for row in rows}
    pairs = await EnterpriseTag.filter(enterprise_id__in=list(tags)).values_list("enterprise_id", "tag")
    for enterprise_id, tag in pairs:
        tags[enterprise_id].add(tag)
    return [EnterpriseFacts(**row, tags=frozenset(tags[row["id"]])) for row in rows]


def _chunks(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
