"""Parsing: every error class reports the exact path; accepted input is normalised."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings

from core.errors import ValidationFailed
from notices.targeting import canonical_json, parse_rule, parse_rule_json, rule_fields, to_json
from notices.targeting.schema import (
    AllOf,
    AnyOf,
    Bound,
    CapitalRange,
    Equals,
    EstablishedRange,
    Not,
    OneOf,
    Prefix,
    Tags,
)
from tests.notices.targeting.strategies import Json, rule_documents

ZONE = {"field": "zone", "op": "eq", "value": "nansha"}
USCC = "91350100M000100Y43"


def problems_of(data: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse_rule(data)
    return [(problem.field, problem.code) for problem in caught.value.problems]


def leaf(field: str, op: str, value: Any) -> Json:
    return {"field": field, "op": op, "value": value}


# ------------------------------------------------------------------------------ structure


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**ZONE, "extra": 1}, [("rule/extra", "unknown_key")]),
        ({"all": [], "note": "x"}, [("rule/note", "unknown_key")]),
        ({"all": [], "any": []}, [("rule", "ambiguous_rule")]),
        ({"field": "zone", "op": "eq"}, [("rule/value", "missing_key")]),
        ({}, [("rule/field", "missing_key"), ("rule/op", "missing_key"), ("rule/value", "missing_key")]),
        ({"all": [ZONE, leaf("colour", "eq", "red")]}, [("rule/all/1/field", "unknown_field")]),
        ({"any": [ZONE, {"not": leaf("zone", "prefix", "nan")}]}, [("rule/any/1/not/op", "op_not_allowed")]),
        (leaf("tags", "eq", "x"), [("rule/op", "op_not_allowed")]),
        (leaf("uscc", "eq", USCC), [("rule/op", "op_not_allowed")]),
        (leaf("registered_capital", "gte", 1), [("rule/op", "op_not_allowed")]),
        (leaf("size", "prefix", "s"), [("rule/op", "op_not_allowed")]),
        ([ZONE], [("rule", "wrong_type")]),
        ({"not": [ZONE]}, [("rule/not", "wrong_type")]),
        ({"all": ZONE}, [("rule/all", "wrong_type")]),
        ({"all": [ZONE, "zone"]}, [("rule/all/1", "wrong_type")]),
        ({"a/b~": 1, "all": []}, [("rule/a~1b~0", "unknown_key")]),
    ],
)
def test_structural_errors_name_the_path(data: object, expected: list[tuple[str, str]]) -> None:
    assert problems_of(data) == expected


# ---------------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (leaf("zone", "eq", 5), ("rule/value", "wrong_type")),
        (leaf("zone", "eq", "mars"), ("rule/value", "invalid_value")),
        (leaf("zone", "in", "nansha"), ("rule/value", "wrong_type")),
        (leaf("zone", "in", ["nansha", None]), ("rule/value/1", "wrong_type")),
        (leaf("zone", "in", []), ("rule/value", "empty_list")),
        (leaf("zone", "eq", "n" * 65), ("rule/value", "string_too_long")),
        (leaf("region", "eq", "4401"), ("rule/value", "invalid_value")),
        (leaf("region", "eq", "44011５"), ("rule/value", "invalid_value")),
        (leaf("region", "prefix", "440"), ("rule/value", "invalid_value")),
        (leaf("region", "prefix", "000000"), ("rule/value", "invalid_value")),
        (leaf("industry", "prefix", "C3"), ("rule/value", "invalid_value")),
        (leaf("industry", "eq", "X99"), ("rule/value", "invalid_value")),
        (leaf("industry", "in", ["C39", "C9999"]), ("rule/value/1", "invalid_value")),
        (leaf("size", "eq", "huge"), ("rule/value", "invalid_value")),
        (leaf("status", "in", ["active", "closed"]), ("rule/value/1", "invalid_value")),
        (leaf("credit_level", "eq", "AAA"), ("rule/value", "invalid_value")),
        (leaf("uscc", "in", [USCC, "91350100I000100Y43"]), ("rule/value/1", "invalid_value")),
        (leaf("uscc", "in", [USCC[:17]]), ("rule/value/0", "invalid_value")),
        (leaf("tags", "any", "高新技术企业"), ("rule/value", "wrong_type")),
        (leaf("tags", "all", []), ("rule/value", "empty_list")),
        (leaf("tags", "any", ["ok", "x" * 33]), ("rule/value/1", "string_too_long")),
        (leaf("tags", "any", ["  "]), ("rule/value/0", "invalid_value")),
        (leaf("tags", "any", ["a\x00b"]), ("rule/value/0", "invalid_value")),
        (leaf("tags", "any", ["\ud800"]), ("rule/value/0", "invalid_value")),
        (leaf("registered_capital", "range", 100), ("rule/value", "wrong_type")),
        (leaf("registered_capital", "range", {}), ("rule/value", "missing_bound")),
        (leaf("registered_capital", "range", {"min": 1}), ("rule/value/min", "unknown_key")),
        (leaf("registered_capital", "range", {"gte": "100"}), ("rule/value/gte", "wrong_type")),
        (leaf("registered_capital", "range", {"gte": True}), ("rule/value/gte", "wrong_type")),
        (leaf("registered_capital", "range", {"lte": 1.5}), ("rule/value/lte", "wrong_type")),
        (leaf("registered_capital", "range", {"gte": -1}), ("rule/value/gte", "invalid_value")),
        (leaf("registered_capital", "range", {"lt": 2**63}), ("rule/value/lt", "invalid_value")),
        (leaf("registered_capital", "range", {"gte": 1, "gt": 0}), ("rule/value/gt", "conflicting_bounds")),
        (leaf("registered_capital", "range", {"lte": 1, "lt": 2}), ("rule/value/lt", "conflicting_bounds")),
        (leaf("registered_capital", "range", {"gte": 10, "lte": 9}), ("rule/value", "empty_range")),
        (leaf("registered_capital", "range", {"gt": 5, "lt": 6}), ("rule/value", "empty_range")),
        (leaf("registered_capital", "range", {"gt": 2**63 - 1}), ("rule/value", "empty_range")),
        (leaf("established", "range", {"gte": "2020/01/01"}), ("rule/value/gte", "invalid_value")),
        (leaf("established", "range", {"gte": "2021-02-29"}), ("rule/value/gte", "invalid_value")),
        (leaf("established", "range", {"gte": "20200101"}), ("rule/value/gte", "invalid_value")),
        (leaf("established", "range", {"lte": 20200101}), ("rule/value/lte", "wrong_type")),
        (
            leaf("established", "range", {"gt": "2020-01-01", "lt": "2020-01-02"}),
            ("rule/value", "empty_range"),
        ),
        (
            leaf("established", "range", {"gte": "2020-01-02", "lte": "2020-01-01"}),
            ("rule/value", "empty_range"),
        ),
        (leaf("established", "range", {"gt": "9999-12-31"}), ("rule/value", "empty_range")),
        (leaf("established", "range", {"lt": "0001-01-01"}), ("rule/value", "empty_range")),
    ],
)
def test_value_errors_name_the_path(data: Json, expected: tuple[str, str]) -> None:
    assert problems_of({"all": [ZONE, {"not": data}]}) == [
        (expected[0].replace("rule", "rule/all/1/not", 1), expected[1])
    ]


def test_ranges_that_hold_exactly_one_value_are_accepted() -> None:
    assert parse_rule(leaf("registered_capital", "range", {"gt": 5, "lt": 7})) == CapitalRange(
        Bound(5, False), Bound(7, False)
    )
    parse_rule(leaf("established", "range", {"gte": "2020-01-01", "lte": "2020-01-01"}))
    parse_rule(leaf("established", "range", {"gt": "9999-12-30", "lte": "9999-12-31"}))


def test_every_problem_is_reported_not_just_the_first() -> None:
    data = {"all": [leaf("zone", "eq", "mars"), leaf("size", "in", ["huge", "small", 3]), ZONE]}
    assert problems_of(data) == [
        ("rule/all/0/value", "invalid_value"),
        ("rule/all/1/value/0", "invalid_value"),
        ("rule/all/1/value/2", "wrong_type"),
    ]


def test_the_error_carries_the_first_path_and_a_chinese_and_english_reason() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_rule({"all": [ZONE, leaf("colour", "eq", "red")]})
    error = caught.value
    assert error.field == "rule/all/1/field"
    assert error.detail == error.problems[0].reason
    chinese, english = error.detail.split(" / ", 1)
    assert re.search(r"[\u4e00-\u9fff]", chinese) and "colour" in english


# ---------------------------------------------------------------------------------- bounds


def nested_nots(levels: int) -> Json:
    rule: Json = ZONE
    for _ in range(levels):
        rule = {"not": rule}
    return rule


def test_depth_is_limited_to_six() -> None:
    parse_rule(nested_nots(5))  # five nots around a condition: six levels
    assert problems_of(nested_nots(6)) == [("rule" + "/not" * 6, "too_deep")]


def test_node_count_is_limited_to_sixty_four() -> None:
    parse_rule({"any": [ZONE] * 63})
    assert problems_of({"any": [ZONE] * 64}) == [("rule/any/63", "too_many_nodes")]


def test_value_lists_are_limited_to_two_hundred_except_uscc() -> None:
    regions = [f"{440000 + n:06d}" for n in range(201)]
    parse_rule(leaf("region", "in", regions[:200]))
    assert problems_of(leaf("region", "in", regions)) == [("rule/value", "list_too_long")]
    codes = [f"{n:018d}" for n in range(10_001)]
    assert len(parse_rule(leaf("uscc", "in", codes[:10_000])).values) == 10_000  # type: ignore[union-attr]
    assert problems_of(leaf("uscc", "in", codes)) == [("rule/value", "list_too_long")]


def test_rule_json_is_limited_to_256_kib() -> None:
    codes = [f"{n:018d}" for n in range(10_000)]
    big = {"any": [leaf("uscc", "in", codes), leaf("uscc", "in", codes)]}  # ~420 KB, each part valid
    assert problems_of(big) == [("rule", "too_large")]
    with pytest.raises(ValidationFailed) as caught:
        parse_rule_json(json.dumps(big))
    assert caught.value.problems[0].code == "too_large"


def test_json_text_must_be_valid_and_free_of_duplicate_keys() -> None:
    assert parse_rule_json(json.dumps(ZONE)) == Equals("zone", "nansha")
    for text in ('{"field": "zone", "op": "eq"', '{"all": [], "all": []}'):
        with pytest.raises(ValidationFailed) as caught:
            parse_rule_json(text)
        assert [(p.field, p.code) for p in caught.value.problems] == [("rule", "invalid_json")]


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (leaf("zone", "eq", "NanSha"), Equals("zone", "nansha")),
        (leaf("credit_level", "in", ["a", "B", "A"]), OneOf("credit_level", ("A", "B"))),
        (leaf("industry", "prefix", "c39"), Prefix("industry", "C39")),
        (leaf("industry", "eq", "3911"), Equals("industry", "C3911")),
        (leaf("region", "prefix", "440100"), Prefix("region", "4401")),
        (leaf("region", "prefix", "440000"), Prefix("region", "44")),
        (leaf("region", "prefix", "440115"), Prefix("region", "440115")),
        (leaf("uscc", "in", [USCC.lower(), USCC]), OneOf("uscc", (USCC,))),
        (leaf("tags", "any", ["专精特新", "ABC", "abc", "ABC"]), Tags("any", ("ABC", "abc", "专精特新"))),
        (
            leaf("established", "range", {"gte": "2020-01-01"}),
            EstablishedRange(Bound(date(2020, 1, 1), True), None),
        ),
        ({"all": []}, AllOf(())),
        ({"not": {"any": []}}, Not(AnyOf(()))),
    ],
)
def test_values_are_normalised(data: Json, expected: object) -> None:
    assert parse_rule(data) == expected


def test_canonical_json_ignores_key_order_list_order_case_and_duplicates() -> None:
    first = {"all": [{"value": ["qianhai", "nansha"], "op": "in", "field": "zone"}]}
    second = {"all": [{"field": "zone", "op": "in", "value": ["NANSHA", "qianhai", "nansha"]}]}
    assert canonical_json(parse_rule(first)) == canonical_json(parse_rule(second))
    assert canonical_json(parse_rule(first)) == (
        '{"all":[{"field":"zone","op":"in","value":["nansha","qianhai"]}]}'
    )


def test_canonical_json_keeps_what_changes_the_meaning() -> None:
    gte = leaf("registered_capital", "range", {"gte": 100})
    gt = leaf("registered_capital", "range", {"gt": 100})
    assert canonical_json(parse_rule(gte)) != canonical_json(parse_rule(gt))
    assert canonical_json(parse_rule({"all": [ZONE]})) != canonical_json(parse_rule({"any": [ZONE]}))


@settings(max_examples=300, deadline=None)
@given(rule_json=rule_documents())
def test_serialising_and_parsing_again_gives_the_same_rule(rule_json: Json) -> None:
    rule = parse_rule(rule_json)
    again = parse_rule(json.loads(canonical_json(rule)))
    assert again == rule
    assert to_json(again) == to_json(rule)


def test_rule_fields_lists_every_field_read_even_under_not() -> None:
    rule = parse_rule(
        {
            "any": [
                {"not": leaf("industry", "prefix", "C")},
                {"all": [leaf("tags", "all", ["专精特新"]), leaf("uscc", "in", [USCC])]},
                leaf("established", "range", {"gte": "2020-01-01"}),
                leaf("registered_capital", "range", {"lte": 5}),
            ]
        }
    )
    assert rule_fields(rule) == {"industry", "tags", "uscc", "established", "registered_capital"}
    assert rule_fields(parse_rule({"all": []})) == set()
