"""Enterprise size under 统计上大中小微型企业划分办法（2017） (国统字〔2017〕213号).

The rule, quoted from the 附表 说明: "大型、中型和小型企业须同时满足所列指标的下限，否则下划一档；
微型企业只须满足所列指标中的一项即可。" So an enterprise is large (then medium, then small) only
when every indicator listed for its industry reaches that class's lower bound; failing any one
moves it down a class, and it is micro as soon as one indicator is below the small bound.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Literal

from profiles.standards.industry import industry_table

SizeClass = Literal["large", "medium", "small", "micro"]
Indicator = Literal["staff", "revenue", "assets"]

VERSION = "统计上大中小微型企业划分办法（2017） 国统字〔2017〕213号"
THRESHOLDS_FILE = "size_thresholds_2017.csv"
SCOPE_FILE = "size_industry_scope_2017.csv"
_PACKAGE = __name__.rpartition(".")[0]
_GRADED: tuple[SizeClass, ...] = ("large", "medium", "small")
_INDICATORS: tuple[Indicator, ...] = ("staff", "revenue", "assets")


@dataclass(frozen=True, slots=True)
class Threshold:
    indicator: Indicator
    large: Decimal
    medium: Decimal
    small: Decimal

    def lower_bound(self, size: SizeClass) -> Decimal:
        return {"large": self.large, "medium": self.medium, "small": self.small}[size]


@dataclass(frozen=True, slots=True)
class SizeGroup:
    key: str
    name: str
    thresholds: tuple[Threshold, ...]


class SizeStandard:
    def __init__(self, groups: Mapping[str, SizeGroup], scope: Mapping[str, str]) -> None:
        unknown = set(scope.values()) - set(groups)
        if unknown:
            raise ValueError(f"scope names unknown size groups: {sorted(unknown)}")
        self.groups = dict(groups)
        # Longest prefix first, so K7010 wins over a broader K row should one ever be added.
        self._scope = sorted(scope.items(), key=lambda item: -len(item[0]))

    def group_for(self, industry_code: str) -> SizeGroup | None:
        """The size group of a canonical GB/T 4754 code; None when the 办法 does not cover it."""
        for prefix, key in self._scope:
            if industry_code.startswith(prefix):
                return self.groups[key]
        return None


def classify_size(
    *,
    industry_code: str,
    staff: int | None,
    revenue_wan: Decimal | None,
    assets_wan: Decimal | None,
) -> SizeClass | None:
    """large/medium/small/micro, or None when the industry is outside the 办法 or a missing
    indicator leaves the class undecided. Indicators the industry does not use are ignored."""
    industry = industry_table().validate(industry_code)
    group = size_standard().group_for(industry.code)
    if group is None:
        return None
    values: dict[Indicator, Decimal | int | None] = {
        "staff": staff,
        "revenue": revenue_wan,
        "assets": assets_wan,
    }
    for indicator, value in values.items():
        if value is not None and value < 0:
            raise ValueError(f"{indicator} must not be negative, got {value}")
    for size in _GRADED:
        verdicts = [_reaches(values[t.indicator], t.lower_bound(size)) for t in group.thresholds]
        if all(verdict is True for verdict in verdicts):
            return size
        if False not in verdicts:
            return None  # nothing failed, but an unknown indicator might: undecided
        # 下划一档: some indicator is below this class's lower bound.
    return "micro"


def _reaches(value: Decimal | int | None, bound: Decimal) -> bool | None:
    return None if value is None else value >= bound


def parse_size_standard(thresholds_text: str, scope_text: str) -> SizeStandard:
    grouped: dict[str, tuple[str, list[Threshold]]] = {}
    for row in _rows(thresholds_text):
        indicator = _as_indicator(row["indicator"])
        threshold = Threshold(
            indicator=indicator,
            large=Decimal(row["large"]),
            medium=Decimal(row["medium"]),
            small=Decimal(row["small"]),
        )
        if not threshold.large > threshold.medium > threshold.small > 0:
            raise ValueError(f"bounds out of order for {row['group']}/{indicator}")
        grouped.setdefault(row["group"], (row["name"], []))[1].append(threshold)
    groups = {
        key: SizeGroup(key=key, name=name, thresholds=tuple(thresholds))
        for key, (name, thresholds) in grouped.items()
    }
    scope = {row["prefix"]: row["group"] for row in _rows(scope_text)}
    return SizeStandard(groups, scope)


def _as_indicator(text: str) -> Indicator:
    for indicator in _INDICATORS:
        if indicator == text:
            return indicator
    raise ValueError(f"unknown indicator {text!r}")


def _rows(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@lru_cache(maxsize=1)
def size_standard() -> SizeStandard:
    data = resources.files(_PACKAGE) / "data"
    return parse_size_standard(
        (data / THRESHOLDS_FILE).read_text(encoding="utf-8"),
        (data / SCOPE_FILE).read_text(encoding="utf-8"),
    )
