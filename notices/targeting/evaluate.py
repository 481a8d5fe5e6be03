"""Evaluate a rule for one enterprise in Python, and say in Simplified Chinese why it matched.

`matches` is the reference semantics the SQL compiler must agree with: a missing (NULL) value
never satisfies eq, in, prefix or range, so `not` of such a condition is satisfied.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal

from notices.targeting.facts import EnterpriseFacts
from notices.targeting.schema import (
    AllOf,
    AnyOf,
    Bound,
    CapitalRange,
    Equals,
    EstablishedRange,
    Not,
    OneOf,
    Orderable,
    Prefix,
    Rule,
    Tags,
)
from profiles.standards.industry import UnknownIndustry, industry_table

IndustryLabel = Callable[[str], str]

EVERYONE = "面向全部企业"

FIELD_NAMES: Mapping[str, str] = {
    "zone": "片区",
    "region": "地区",
    "industry": "行业",
    "size": "规模",
    "status": "经营状态",
    "credit_level": "信用等级",
    "uscc": "统一社会信用代码",
}
ZONE_NAMES: Mapping[str, str] = {
    "nansha": "南沙",
    "qianhai": "前海蛇口",
    "hengqin": "横琴",
    "other": "其他片区",
}
SIZE_NAMES: Mapping[str, str] = {
    "large": "大型",
    "medium": "中型",
    "small": "小型",
    "micro": "微型",
}
STATUS_NAMES: Mapping[str, str] = {
    "active": "存续",
    "abnormal": "经营异常",
    "revoked": "吊销",
    "cancelled": "注销",
}
LISTED_VALUES = 5  # longer value lists are shortened to "a、b、c、d、e 等 12 项"


def matches(rule: Rule, facts: EnterpriseFacts) -> bool:
    match rule:
        case AllOf(rules=children):
            return all(matches(child, facts) for child in children)
        case AnyOf(rules=children):
            return any(matches(child, facts) for child in children)
        case Not(rule=child):
            return not matches(child, facts)
        case Equals(field=field, value=value):
            return facts.code(field) == value
        case OneOf(field=field, values=values):
            code = facts.code(field)
            return code is not None and code in values
        case Prefix(field=field, value=value):
            code = facts.code(field)
            return code is not None and code.startswith(value)
        case CapitalRange(lower=lower, upper=upper):
            return _in_range(facts.registered_capital_yuan, lower, upper)
        case EstablishedRange(lower=lower, upper=upper):
            return _in_range(facts.established_on, lower, upper)
        case Tags(match="any", tags=tags):
            return not facts.tags.isdisjoint(tags)
        case Tags(match="all", tags=tags):
            return facts.tags.issuperset(tags)
    raise AssertionError(f"unhandled rule node {rule!r}")


def explain(rule: Rule, facts: EnterpriseFacts, *, industry_label: IndustryLabel | None = None) -> list[str]:
    """Reasons the enterprise matches, e.g. ["行业 C3911 属于 C 制造业", "规模：小型"];
    an empty list exactly when it does not match."""
    if not matches(rule, facts):
        return []
    reasons = _Explainer(facts, industry_label or table_industry_label).why_true(rule)
    return list(dict.fromkeys(reasons)) or [EVERYONE]


@functools.lru_cache(maxsize=4096)
def table_industry_label(code: str) -> str:
    """The GB/T 4754 label ("C39 计算机、通信和其他电子设备制造业"); the bare code if unknown."""
    try:
        return industry_table().label(code)
    except UnknownIndustry:
        return code


def format_yuan(amount: int) -> str:
    """500万元, 1.5亿元, 123.45万元, 999元: how capital is written in Chinese notices."""
    if abs(amount) >= 100_000_000 and amount % 10_000 == 0:
        return f"{Decimal(amount) / 100_000_000:f}亿元"
    if abs(amount) >= 10_000 and amount % 100 == 0:
        return f"{Decimal(amount) / 10_000:f}万元"
    return f"{amount}元"


def _in_range(
    value: Orderable | None, lower: Bound[Orderable] | None, upper: Bound[Orderable] | None
) -> bool:
    return value is not None and _violated_bound(value, lower, upper) is None


def _violated_bound(
    value: Orderable, lower: Bound[Orderable] | None, upper: Bound[Orderable] | None
) -> tuple[Bound[Orderable], bool] | None:
    """The first bound the value breaks and whether it is the lower one; None when in range."""
    if lower is not None and not (value >= lower.value if lower.inclusive else value > lower.value):
        return lower, True
    if upper is not None and not (value <= upper.value if upper.inclusive else value < upper.value):
        return upper, False
    return None


def _symbol(bound: Bound[object], lower: bool) -> str:
    if lower:
        return "≥" if bound.inclusive else ">"
    return "≤" if bound.inclusive else "<"


def _negated_symbol(bound: Bound[object], lower: bool) -> str:
    if lower:
        return "<" if bound.inclusive else "≤"
    return ">" if bound.inclusive else "≥"


class _Explainer:
    """why_true / why_false follow De Morgan: `not` swaps them, `all` needs every child true
    but only one false child, `any` needs one true child but every child false."""

    def __init__(self, facts: EnterpriseFacts, industry_label: IndustryLabel) -> None:
        self.facts = facts
        self.industry_label = industry_label

    def why_true(self, rule: Rule) -> list[str]:
        match rule:
            case AllOf(rules=children):
                return [reason for child in children for reason in self.why_true(child)]
            case AnyOf(rules=children):
                first = next(child for child in children if matches(child, self.facts))
                return self.why_true(first)
            case Not(rule=child):
                return self.why_false(child)
        return [self.leaf_true(rule)]

    def why_false(self, rule: Rule) -> list[str]:
        match rule:
            case AllOf(rules=children):
                first = next(child for child in children if not matches(child, self.facts))
                return self.why_false(first)
            case AnyOf(rules=children):
                return [reason for child in children for reason in self.why_false(child)]
            case Not(rule=child):
                return self.why_true(child)
        return [self.leaf_false(rule)]

    def leaf_true(self, rule: Rule) -> str:
        facts = self.facts
        match rule:
            case Prefix(field="region", value=prefix):
                return f"地区 {facts.region_code} 属于 {prefix}"
            case Prefix(field="industry", value=prefix):
                return f"行业 {facts.industry_code} 属于 {self.industry_label(prefix)}"
            case OneOf(field="uscc"):
                return f"统一社会信用代码 {facts.uscc} 在指定名单中"
            case Equals(field=field) | OneOf(field=field):
                return f"{FIELD_NAMES[field]}：{self.display(field, facts.code(field))}"
            case CapitalRange(lower=lower, upper=upper):
                amount = facts.registered_capital_yuan
                assert amount is not None
                return f"注册资本 {format_yuan(amount)} " + _bounds_text(lower, upper, format_yuan)
            case EstablishedRange(lower=lower, upper=upper):
                day = facts.established_on
                assert day is not None
                return f"成立日期 {day.isoformat()} " + _bounds_text(lower, upper, _iso)
            case Tags(tags=tags):
                return "标签：" + "、".join(sorted(facts.tags.intersection(tags)))
        raise AssertionError(f"not a leaf: {rule!r}")

    def leaf_false(self, rule: Rule) -> str:
        facts = self.facts
        match rule:
            case Prefix(field="region", value=prefix):
                return f"地区 {facts.region_code} 不属于 {prefix}"
            case Prefix(field="industry", value=prefix):
                return f"行业 {facts.industry_code} 不属于 {self.industry_label(prefix)}"
            case OneOf(field="uscc"):
                return f"统一社会信用代码 {facts.uscc} 不在指定名单中"
            case Equals(field=field, value=value):
                return f"{FIELD_NAMES[field]}不是 {self.display(field, value)}（{self.actual(field)}）"
            case OneOf(field=field, values=values):
                listed = self.listing(field, values)
                return f"{FIELD_NAMES[field]}不属于 {listed}（{self.actual(field)}）"
            case CapitalRange(lower=lower, upper=upper):
                amount = facts.registered_capital_yuan
                if amount is None:
                    return "注册资本未登记"
                broken = _violated_bound(amount, lower, upper)
                assert broken is not None
                symbol = _negated_symbol(*broken)
                return f"注册资本 {format_yuan(amount)} {symbol} {format_yuan(broken[0].value)}"
            case EstablishedRange(lower=lower, upper=upper):
                day = facts.established_on
                if day is None:
                    return "成立日期未登记"
                broken_day = _violated_bound(day, lower, upper)
                assert broken_day is not None
                symbol = _negated_symbol(*broken_day)
                return f"成立日期 {day.isoformat()} {symbol} {broken_day[0].value.isoformat()}"
            case Tags(match="any", tags=tags):
                return "没有标签：" + "、".join(tags)
            case Tags(match="all", tags=tags):
                return "缺少标签：" + "、".join(sorted(set(tags) - facts.tags))
        raise AssertionError(f"not a leaf: {rule!r}")

    def display(self, field: str, value: str | None) -> str:
        if value is None:
            return "未登记"
        names = {"zone": ZONE_NAMES, "size": SIZE_NAMES, "status": STATUS_NAMES}.get(field, {})
        if field == "industry":
            return self.industry_label(value)
        return names.get(value, value)

    def actual(self, field: str) -> str:
        value = self.facts.code(field)
        return "未登记" if value is None else f"实际：{self.display(field, value)}"

    def listing(self, field: str, values: Iterable[str]) -> str:
        shown = list(values)
        text = "、".join(self.display(field, value) for value in shown[:LISTED_VALUES])
        return text if len(shown) <= LISTED_VALUES else f"{text} 等 {len(shown)} 项"


def _bounds_text(
    lower: Bound[Orderable] | None,
    upper: Bound[Orderable] | None,
    show: Callable[[Orderable], str],
) -> str:
    parts = []
    if lower is not None:
        parts.append(f"{_symbol(lower, True)} {show(lower.value)}")
    if upper is not None:
        parts.append(f"{_symbol(upper, False)} {show(upper.value)}")
    return " 且 ".join(parts)


def _iso(day: date) -> str:
    return day.isoformat()
