"""GB/T 4754-2017 国民经济行业分类 as versioned data.

Codes are the section letter followed by the division/group/class digits (C, C39, C391, C3911),
so every code is a plain string prefix of its descendants; targeting matches by prefix.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TypedDict

VERSION = "GB/T 4754-2017 (incl. 第1号修改单, 2019)"
DATA_FILE = "gbt4754_2017.csv"

SECTION_DIVISIONS: dict[str, tuple[int, int]] = {
    "A": (1, 5),
    "B": (6, 12),
    "C": (13, 43),
    "D": (44, 46),
    "E": (47, 50),
    "F": (51, 52),
    "G": (53, 60),
    "H": (61, 62),
    "I": (63, 65),
    "J": (66, 69),
    "K": (70, 70),
    "L": (71, 72),
    "M": (73, 75),
    "N": (76, 79),
    "O": (80, 82),
    "P": (83, 83),
    "Q": (84, 85),
    "R": (86, 90),
    "S": (91, 96),
    "T": (97, 97),
}
"""Inclusive division ranges per section, as printed in the standard."""

LEVEL_NAMES = {1: "section", 2: "division", 3: "group", 4: "class"}
_CODE_PATTERN = re.compile(r"([A-Z]?)([0-9]{2,4})?")
_PACKAGE = __name__.rpartition(".")[0]


class UnknownIndustry(ValueError):
    """An industry code that is malformed or not in the shipped table."""

    def __init__(self, code: str) -> None:
        super().__init__(f"Unknown GB/T 4754-2017 industry code: {code!r}")
        self.code = code
        self.message_zh = f"未知的国民经济行业分类代码：{code}"
        self.message_en = f"Unknown GB/T 4754-2017 industry code: {code!r}"


@dataclass(frozen=True, slots=True)
class Industry:
    code: str
    level: int  # 1 section, 2 division, 3 group, 4 class
    name: str
    parent: str | None

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]


class IndustryNode(TypedDict):
    code: str
    name: str
    children: list[IndustryNode]


def section_for_division(division: int) -> str | None:
    for section, (first, last) in SECTION_DIVISIONS.items():
        if first <= division <= last:
            return section
    return None


class IndustryTable:
    def __init__(self, industries: Iterable[Industry]) -> None:
        self._by_code: dict[str, Industry] = {}
        self._children: dict[str | None, list[Industry]] = {}
        for industry in industries:
            if industry.code in self._by_code:
                raise ValueError(f"duplicate industry code {industry.code}")
            self._by_code[industry.code] = industry
            self._children.setdefault(industry.parent, []).append(industry)

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Industry]:
        return iter(self._by_code.values())

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.get(code) is not None

    def normalise(self, raw: str) -> str:
        """Canonical code for "C3911", "3911" (section inferred from the division), "c39", "C".

        Checks the form and the section/division pairing only; `validate` checks existence.
        """
        text = unicodedata.normalize("NFKC", raw).strip().upper()
        match = _CODE_PATTERN.fullmatch(text)
        if not text or match is None:
            raise UnknownIndustry(raw)
        letter, digits = match.group(1), match.group(2) or ""
        if not digits:
            if letter not in SECTION_DIVISIONS:
                raise UnknownIndustry(raw)
            return letter
        inferred = section_for_division(int(digits[:2]))
        if inferred is None or (letter and letter != inferred):
            raise UnknownIndustry(raw)
        return inferred + digits

    def get(self, code: str) -> Industry | None:
        try:
            return self._by_code.get(self.normalise(code))
        except UnknownIndustry:
            return None

    def validate(self, raw: str) -> Industry:
        industry = self.get(raw)
        if industry is None:
            raise UnknownIndustry(raw)
        return industry

    def ancestors(self, code: str) -> tuple[Industry, ...]:
        """Section first, direct parent last; the industry itself is not included."""
        chain: list[Industry] = []
        parent = self.validate(code).parent
        while parent is not None:
            industry = self._by_code[parent]
            chain.append(industry)
            parent = industry.parent
        return tuple(reversed(chain))

    def children(self, code: str) -> tuple[Industry, ...]:
        return tuple(self._children.get(self.validate(code).code, ()))

    def sections(self) -> tuple[Industry, ...]:
        return tuple(self._children.get(None, ()))

    def section_of(self, code: str) -> Industry:
        industry = self.validate(code)
        return self._by_code[industry.code[0]]

    def label(self, code: str) -> str:
        return self.validate(code).label

    def count_by_level(self) -> dict[int, int]:
        counts = dict.fromkeys(LEVEL_NAMES, 0)
        for industry in self._by_code.values():
            counts[industry.level] += 1
        return counts

    def tree(self) -> list[IndustryNode]:
        """Nested {code, name, children} dicts for a picker; a fresh copy on every call."""
        return [self._node(section) for section in self.sections()]

    def _node(self, industry: Industry) -> IndustryNode:
        return {
            "code": industry.code,
            "name": industry.name,
            "children": [self._node(child) for child in self._children.get(industry.code, ())],
        }


def parse_industry_csv(text: str) -> IndustryTable:
    """Rows of code,level,name,parent; lines starting with '#' carry provenance and are skipped."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return IndustryTable(
        Industry(
            code=row["code"],
            level=int(row["level"]),
            name=row["name"],
            parent=row["parent"] or None,
        )
        for row in csv.DictReader(io.StringIO("\n".join(lines)))
    )


@lru_cache(maxsize=1)
def industry_table() -> IndustryTable:
    text = (resources.files(_PACKAGE) / "data" / DATA_FILE).read_text(encoding="utf-8")
    return parse_industry_csv(text)
