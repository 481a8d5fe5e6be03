"""Explanations shown on the enterprise page ("why you see this") and in the policy library."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from notices.targeting import EnterpriseFacts, explain, format_yuan, parse_rule
from tests.notices.targeting.strategies import Json

SMALL_MAKER = EnterpriseFacts(
    id=1,
    uscc="91350100M000100Y43",
    zone="nansha",
    region_code="440115",
    industry_code="C3911",
    size="small",
    registered_capital_yuan=5_000_000,
    established_on=date(2020, 5, 1),
    status="active",
    credit_level="A",
    tags=frozenset({"高新技术企业", "外资企业"}),
)
BARE = EnterpriseFacts(
    id=2,
    uscc="91350100M000101Y43",
    zone="qianhai",
    region_code="440305",
    industry_code="I6511",
    size=None,
    registered_capital_yuan=None,
    established_on=None,
    status="active",
    credit_level=None,
)


def leaf(field: str, op: str, value: Any) -> Json:
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    ("rule", "reasons"),
    [
        (leaf("industry", "prefix", "C"), ["行业 C3911 属于 C 制造业"]),
        (leaf("industry", "prefix", "c39"), ["行业 C3911 属于 C39 计算机、通信和其他电子设备制造业"]),
        (leaf("industry", "eq", "C3911"), ["行业：C3911 计算机整机制造"]),
        (leaf("size", "eq", "small"), ["规模：小型"]),
        (leaf("size", "in", ["small", "micro"]), ["规模：小型"]),
        (leaf("zone", "in", ["nansha", "hengqin"]), ["片区：南沙"]),
        (leaf("region", "prefix", "440100"), ["地区 440115 属于 4401"]),
        (leaf("status", "eq", "active"), ["经营状态：存续"]),
        (leaf("credit_level", "in", ["a", "b"]), ["信用等级：A"]),
        (leaf("tags", "any", ["高新技术企业", "专精特新"]), ["标签：高新技术企业"]),
        (leaf("tags", "all", ["高新技术企业", "外资企业"]), ["标签：外资企业、高新技术企业"]),
        (
            leaf("registered_capital", "range", {"gte": 1_000_000}),
            ["注册资本 500万元 ≥ 100万元"],
        ),
        (
            leaf("registered_capital", "range", {"gt": 1_000_000, "lt": 150_000_000}),
            ["注册资本 500万元 > 100万元 且 < 1.5亿元"],
        ),
        (
            leaf("established", "range", {"gte": "2019-01-01", "lte": "2020-12-31"}),
            ["成立日期 2020-05-01 ≥ 2019-01-01 且 ≤ 2020-12-31"],
        ),
        (leaf("uscc", "in", ["91350100m000100y43"]), ["统一社会信用代码 91350100M000100Y43 在指定名单中"]),
        ({"all": []}, ["面向全部企业"]),
        ({"not": {"any": []}}, ["面向全部企业"]),
        ({"not": leaf("zone", "eq", "qianhai")}, ["片区不是 前海蛇口（实际：南沙）"]),
        ({"not": leaf("credit_level", "in", ["C", "D"])}, ["信用等级不属于 C、D（实际：A）"]),
        ({"not": leaf("region", "prefix", "4403")}, ["地区 440115 不属于 4403"]),
        ({"not": leaf("tags", "any", ["专精特新"])}, ["没有标签：专精特新"]),
        ({"not": leaf("tags", "all", ["专精特新", "外资企业"])}, ["缺少标签：专精特新"]),
        (
            {"not": leaf("registered_capital", "range", {"lt": 1_000_000})},
            ["注册资本 500万元 ≥ 100万元"],
        ),
        (
            {"not": leaf("established", "range", {"gt": "2021-01-01"})},
            ["成立日期 2020-05-01 ≤ 2021-01-01"],
        ),
        (
            {
                "all": [
                    leaf("zone", "eq", "nansha"),
                    {"any": [leaf("size", "eq", "large"), leaf("tags", "any", ["高新技术企业"])]},
                    {"not": {"all": [leaf("size", "eq", "small"), leaf("credit_level", "eq", "D")]}},
                ]
            },
            ["片区：南沙", "标签：高新技术企业", "信用等级不是 D（实际：A）"],
        ),
    ],
)
def test_reasons_for_a_match(rule: Json, reasons: list[str]) -> None:
    assert explain(parse_rule(rule), SMALL_MAKER) == reasons


@pytest.mark.parametrize(
    ("rule", "reasons"),
    [
        ({"not": leaf("size", "eq", "large")}, ["规模不是 大型（未登记）"]),
        ({"not": leaf("registered_capital", "range", {"gte": 1})}, ["注册资本未登记"]),
        ({"not": leaf("established", "range", {"gte": "2000-01-01"})}, ["成立日期未登记"]),
        ({"not": leaf("credit_level", "eq", "A")}, ["信用等级不是 A（未登记）"]),
        ({"not": leaf("industry", "prefix", "C")}, ["行业 I6511 不属于 C 制造业"]),
    ],
)
def test_reasons_for_missing_values_under_not(rule: Json, reasons: list[str]) -> None:
    assert explain(parse_rule(rule), BARE) == reasons


def test_no_reasons_when_the_rule_does_not_match() -> None:
    assert explain(parse_rule(leaf("size", "eq", "large")), SMALL_MAKER) == []
    assert explain(parse_rule({"any": []}), SMALL_MAKER) == []
    assert explain(parse_rule(leaf("size", "eq", "small")), BARE) == []


def test_a_repeated_condition_is_explained_once() -> None:
    size = leaf("size", "eq", "small")
    assert explain(parse_rule({"all": [size, {"all": [size]}]}), SMALL_MAKER) == ["规模：小型"]


def test_a_caller_supplied_industry_label_is_used() -> None:
    rule = parse_rule(leaf("industry", "prefix", "C39"))
    reasons = explain(rule, SMALL_MAKER, industry_label=lambda code: f"<{code}>")
    assert reasons == ["行业 C3911 属于 <C39>"]


def test_long_value_lists_are_shortened() -> None:
    regions = [f"{440101 + n}" for n in range(8)]
    rule = parse_rule({"not": leaf("region", "in", regions)})
    assert explain(rule, BARE) == [
        "地区不属于 440101、440102、440103、440104、440105 等 8 项（实际：440305）"
    ]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, "0元"),
        (999, "999元"),
        (10_000, "1万元"),
        (1_234_500, "123.45万元"),
        (1_234_567, "1234567元"),
        (5_000_000, "500万元"),
        (100_000_000, "1亿元"),
        (150_000_000, "1.5亿元"),
        (123_456_780_000, "1234.5678亿元"),
    ],
)
def test_money_is_written_in_wan_and_yi(amount: int, text: str) -> None:
    assert format_yuan(amount) == text
