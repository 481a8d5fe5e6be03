"""The compiled SQL: values only ever travel as parameters and match literally, NULLs behave
like the Python evaluator under NOT, and the fragment embeds in larger statements."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.db import Sql, conn, is_postgres
from notices.targeting import (
    EnterpriseFacts,
    compile_where,
    matches,
    matching_enterprise_ids_sql,
    parse_rule,
)
from notices.targeting.schema import Prefix, Rule
from profiles.models import Enterprise, EnterpriseTag
from tests.notices.targeting.strategies import Json

NASTY_TAGS = ("O'Brien", '"quoted"', "100%", "a_b", "x--y", "'; DROP TABLE enterprises; --", "\\")
DECOYS = ("OBrien", "quoted", "1000", "100", "axb", "a", "x", "y", "DROP TABLE enterprises")


def facts(enterprise_id: int, **overrides: Any) -> EnterpriseFacts:
    values: dict[str, Any] = {
        "id": enterprise_id,
        "uscc": f"{enterprise_id:018d}",
        "zone": "nansha",
        "region_code": "440115",
        "industry_code": "C3911",
        "size": None,
        "registered_capital_yuan": None,
        "established_on": None,
        "status": "active",
        "credit_level": None,
        "tags": frozenset(),
    }
    values.update(overrides)
    return EnterpriseFacts(**values)


async def insert(*population: EnterpriseFacts) -> None:
    await Enterprise.bulk_create(
        [
            Enterprise(
                id=f.id,
                uscc=f.uscc,
                name=f"企业{f.id}",
                zone=f.zone,
                region_code=f.region_code,
                industry_code=f.industry_code,
                size=f.size,
                registered_capital_yuan=f.registered_capital_yuan,
                established_on=f.established_on,
                status=f.status,
                credit_level=f.credit_level,
                source_system="test",
            )
            for f in population
        ]
    )
    await EnterpriseTag.bulk_create(
        [EnterpriseTag(enterprise_id=f.id, tag=tag) for f in population for tag in f.tags]
    )


async def selected(rule: Rule) -> set[int]:
    text, params = matching_enterprise_ids_sql(rule)
    return {row["id"] for row in await conn().execute_query_dict(text, params)}


def compiled(rule_json: Json, *, postgres: bool) -> tuple[str, list[Any]]:
    sql = Sql(postgres=postgres)
    return compile_where(parse_rule(rule_json), sql), sql.params


@pytest.mark.parametrize("postgres", [False, True])
@pytest.mark.parametrize("op", ["any", "all"])
def test_tag_values_never_enter_the_sql_text(postgres: bool, op: str) -> None:
    text, params = compiled({"field": "tags", "op": op, "value": list(NASTY_TAGS)}, postgres=postgres)
    for tag in NASTY_TAGS:
        assert tag not in text
    assert "'" not in text and '"' not in text and "--" not in text and "%" not in text
    assert any(tag in str(param) for param in params for tag in NASTY_TAGS)


async def test_tags_with_sql_metacharacters_match_literally(db: None) -> None:
    tags = NASTY_TAGS + DECOYS
    await insert(*(facts(n, tags=frozenset({tag})) for n, tag in enumerate(tags, start=1)))
    for n, tag in enumerate(NASTY_TAGS, start=1):
        for op in ("any", "all"):
            rule = parse_rule({"field": "tags", "op": op, "value": [tag]})
            assert await selected(rule) == {n}, tag
    both = parse_rule({"field": "tags", "op": "any", "value": ["100%", "a_b"]})
    assert await selected(both) == {3, 4}


async def test_prefix_metacharacters_are_literal_on_both_dialects(db: None) -> None:
    # Validation only lets letters and digits into a prefix; the compiler escapes anyway, which
    # is checked here with hand-built prefixes and codes holding LIKE and GLOB metacharacters.
    codes = ("C_1", "C%1", "C*1", "C?1", "C[1", "C\\1", "CX1", "C11")
    await insert(*(facts(n, industry_code=code) for n, code in enumerate(codes, start=1)))
    for n, code in enumerate(codes, start=1):
        rule = Prefix("industry", code[:2])
        assert await selected(rule) == {n}, code
        assert {n} == {m for m, c in enumerate(codes, start=1) if matches(rule, facts(m, industry_code=c))}


async def test_comparisons_are_case_sensitive_on_both_dialects(db: None) -> None:
    await insert(
        facts(1, zone="Nansha", industry_code="c3911", tags=frozenset({"abc"})),
        facts(2, zone="nansha", industry_code="C3911", tags=frozenset({"ABC"})),
    )
    assert await selected(parse_rule({"field": "zone", "op": "eq", "value": "nansha"})) == {2}
    assert await selected(parse_rule({"field": "industry", "op": "prefix", "value": "c39"})) == {2}
    assert await selected(parse_rule({"field": "tags", "op": "any", "value": ["abc"]})) == {1}


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "size", "op": "eq", "value": "small"},
        {"field": "size", "op": "in", "value": ["small", "micro"]},
        {"field": "credit_level", "op": "eq", "value": "A"},
        {"field": "credit_level", "op": "in", "value": ["A", "B"]},
        {"field": "registered_capital", "op": "range", "value": {"gte": 0}},
        {"field": "established", "op": "range", "value": {"lte": "9999-12-31"}},
    ],
)
async def test_a_missing_value_fails_the_condition_and_satisfies_its_negation(
    db: None, condition: Json
) -> None:
    await insert(
        facts(1),
        facts(
            2,
            size="small",
            credit_level="A",
            registered_capital_yuan=5,
            established_on=date(2020, 1, 1),
        ),
    )
    assert await selected(parse_rule(condition)) == {2}
    assert await selected(parse_rule({"not": condition})) == {1}
    assert await selected(parse_rule({"not": {"not": condition}})) == {2}


async def test_range_bounds_are_inclusive_or_exclusive_as_written(db: None) -> None:
    await insert(*(facts(n, registered_capital_yuan=n) for n in (1, 2, 3)))
    cases = {
        (("gte", 2),): {2, 3},
        (("gt", 2),): {3},
        (("lte", 2),): {1, 2},
        (("lt", 2),): {1},
        (("gte", 2), ("lte", 2)): {2},
        (("gt", 1), ("lt", 3)): {2},
    }
    for bounds, expected in cases.items():
        rule = parse_rule({"field": "registered_capital", "op": "range", "value": dict(bounds)})
        assert await selected(rule) == expected, bounds


async def test_dates_compare_as_dates_on_both_dialects(db: None) -> None:
    days = (date(1, 1, 1), date(999, 12, 31), date(2020, 2, 29), date(9999, 12, 31))
    await insert(*(facts(n, established_on=day) for n, day in enumerate(days, start=1)))
    rule = parse_rule({"field": "established", "op": "range", "value": {"gt": "0999-12-30"}})
    assert await selected(rule) == {2, 3, 4}
    rule = parse_rule({"field": "established", "op": "range", "value": {"lt": "2020-03-01"}})
    assert await selected(rule) == {1, 2, 3}


async def test_a_ten_thousand_item_uscc_list_travels_as_one_parameter(db: None) -> None:
    await insert(facts(1), facts(2))
    listed = [f"{n:018d}" for n in range(2, 10_001)]
    rule = parse_rule({"field": "uscc", "op": "in", "value": listed})
    _text, params = matching_enterprise_ids_sql(rule)
    assert len(params) == 1
    assert await selected(rule) == {2}


async def test_the_id_query_continues_the_parameters_of_an_enclosing_statement(db: None) -> None:
    await insert(facts(1, status="active"), facts(2, status="revoked"), facts(3, zone="hengqin"))
    rule = parse_rule({"field": "zone", "op": "eq", "value": "nansha"})
    sql = Sql(postgres=is_postgres())
    # Like the publish code: INSERT … SELECT with its own parameters before and after the rule's.
    head = (
        "INSERT INTO enterprise_tags (enterprise_id, tag) "
        f"SELECT x.id, {sql.p('已推送')} FROM enterprises x "
        f"WHERE x.status = {sql.p('active')} AND x.id IN ("
    )
    ids_sql, params = matching_enterprise_ids_sql(rule, sql)
    tail = f") AND x.id <> {sql.p(99)}"
    assert params is sql.params and len(params) == 4
    await conn().execute_query(head + ids_sql + tail, params)
    rows = await EnterpriseTag.filter(tag="已推送").values("enterprise_id")
    assert [row["enterprise_id"] for row in rows] == [1]


def test_sql_shape_per_dialect() -> None:
    rule = {
        "all": [
            {"field": "industry", "op": "prefix", "value": "C39"},
            {"field": "zone", "op": "in", "value": ["nansha", "qianhai"]},
            {"not": {"field": "size", "op": "eq", "value": "large"}},
        ]
    }
    text, params = compiled(rule, postgres=True)
    assert text == (
        "((e.industry_code LIKE $1) AND (e.zone = ANY($2::text[])) "
        "AND (NOT (e.size IS NOT NULL AND e.size = $3)))"
    )
    assert params == ["C39%", ["nansha", "qianhai"], "large"]
    text, params = compiled(rule, postgres=False)
    assert text == (
        "((e.industry_code GLOB ?) AND (e.zone IN (SELECT value FROM json_each(?))) "
        "AND (NOT (e.size IS NOT NULL AND e.size = ?)))"
    )
    assert params == ["C39*", '["nansha", "qianhai"]', "large"]
    assert compiled({"all": []}, postgres=True)[0] == "(1 = 1)"
    assert compiled({"any": []}, postgres=False)[0] == "(1 = 0)"
