"""Jurisdictions as rules: zones ∪ region prefixes, GB/T 2260 "00" endings, empty = nothing."""

from __future__ import annotations

import datetime as dt

from notices.service import jurisdiction_rule
from notices.targeting import EnterpriseFacts, matches
from notices.targeting.schema import AnyOf


def facts(zone: str, region: str) -> EnterpriseFacts:
    return EnterpriseFacts(id=1, uscc="91440115MA5AAAAA0X", zone=zone, region_code=region,
                           industry_code="C3911", size="small", registered_capital_yuan=1,
                           established_on=dt.date(2020, 1, 1), status="active",
                           credit_level="A")


def test_zones_or_region_prefixes() -> None:
    rule = jurisdiction_rule({"zones": ["hengqin"], "regions": ["440100"]})
    assert rule is not None
    assert matches(rule, facts("nansha", "440115"))  # 440100 denotes the city 4401
    assert matches(rule, facts("hengqin", "440404"))
    assert not matches(rule, facts("qianhai", "440305"))


def test_admin_is_unrestricted_and_empty_is_nothing() -> None:
    assert jurisdiction_rule(None) is None
    nothing = jurisdiction_rule({"zones": [], "regions": []})
    assert nothing == AnyOf(())
    assert not matches(nothing, facts("nansha", "440115"))


def test_many_regions_do_not_hit_the_user_rule_node_limit() -> None:
    rule = jurisdiction_rule({"zones": [], "regions": [f"44{i:02d}" for i in range(1, 100)]})
    assert isinstance(rule, AnyOf) and len(rule.rules) == 99
