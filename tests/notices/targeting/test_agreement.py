"""The compiled SQL and the Python evaluator must select the same enterprises for every rule.

Run on SQLite by default and on PostgreSQL with ENTPAGE_TEST_DATABASE_URL set; the population
is inserted once per test and hypothesis generates the rules.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings

from core.db import conn
from notices.targeting import explain, matches, matching_enterprise_ids_sql, parse_rule
from tests.notices.targeting.population import POPULATION, Population, insert_population
from tests.notices.targeting.strategies import Json, depth, rule_documents

EXAMPLES = 400


@pytest.fixture
async def population(db: None) -> Population:
    await insert_population(POPULATION)
    return POPULATION


async def _selected_by_sql(rule_json: Json) -> set[int]:
    sql_text, params = matching_enterprise_ids_sql(parse_rule(rule_json))
    rows: list[dict[str, Any]] = await conn().execute_query_dict(sql_text, params)
    return {row["id"] for row in rows}


def _selected_by_python(rule_json: Json, population: Population) -> set[int]:
    rule = parse_rule(rule_json)
    return {id_ for id_, facts in population.facts.items() if matches(rule, facts)}


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rule_json=rule_documents())
async def test_sql_and_python_select_the_same_enterprises(population: Population, rule_json: Json) -> None:
    by_sql = await _selected_by_sql(rule_json)
    assert by_sql == _selected_by_python(rule_json, population)
    # Reported by --hypothesis-show-statistics: most rules should split the population.
    event(
        "selects none"
        if not by_sql
        else "selects all"
        if len(by_sql) == len(population.facts)
        else "selects some"
    )
    event(f"depth {depth(rule_json)}")


@settings(max_examples=EXAMPLES, deadline=None)
@given(rule_json=rule_documents())
def test_an_explanation_is_given_exactly_when_the_rule_matches(rule_json: Json) -> None:
    rule = parse_rule(rule_json)
    for facts in POPULATION.facts.values():
        reasons = explain(rule, facts)
        assert bool(reasons) == matches(rule, facts)
        assert all(isinstance(reason, str) and reason for reason in reasons)


async def test_the_population_exercises_both_outcomes(population: Population) -> None:
    # Guards the generator: a population no rule can split would make the property vacuous.
    everyone: Json = {"all": []}
    nobody: Json = {"any": []}
    assert await _selected_by_sql(everyone) == set(population.facts)
    assert await _selected_by_sql(nobody) == set()
