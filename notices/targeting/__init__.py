"""Targeting rules: one JSON language for notices, policies and audience previews.

A rule compiles to parameterised SQL for set-based work (preview counts, recipient snapshots
with INSERT … SELECT) and evaluates in Python for one enterprise (to explain "why you see this"
and to match again when a profile changes). Both give the same answer on every input; the test
suite checks that with generated rules against SQLite and PostgreSQL.

Rule grammar
------------
A rule is a JSON object, either a combinator or a condition.

Combinators::

    {"all": [rule, …]}     every sub-rule matches; {"all": []} matches every enterprise
    {"any": [rule, …]}     at least one matches;   {"any": []} matches no enterprise
    {"not": rule}          the sub-rule does not match

Conditions ``{"field": F, "op": OP, "value": V}`` on a whitelist of fields:

===================  ===================  ====================================================
field                ops                  value
===================  ===================  ====================================================
zone                 eq, in               nansha | qianhai | hengqin | other (case-folded)
region               prefix, eq, in       GB/T 2260 code on region_code. eq/in: 6 digits.
                                          prefix: 2, 4 or 6 digits, "4401" matches "440115";
                                          trailing "00" pairs are dropped ("440100" → "4401")
industry             prefix, eq, in       GB/T 4754-2017 code, checked against the table and
                                          normalised ("c39" → "C39", "3911" → "C3911");
                                          prefix "C" matches "C3911", "C39" matches "C391"
size                 eq, in               large | medium | small | micro (case-folded)
registered_capital   range                {"gte"|"gt": n, "lte"|"lt": n}, integer yuan
established          range                {"gte"|"gt": d, "lte"|"lt": d}, "YYYY-MM-DD"
status               eq, in               active | abnormal | revoked | cancelled
credit_level         eq, in               A | B | M | C | D (case-folded)
tags                 any, all             list of tag strings, matched exactly (case matters)
uscc                 in                   list of 18-char USCCs (charset only, no checksum, so
                                          legacy registry codes can be targeted; upper-cased)
===================  ===================  ====================================================

``in``, ``any`` and ``all`` take a non-empty list (duplicates are dropped): an empty list in a
condition is refused as a likely blank form, so "nobody" and "everybody" are always written
explicitly as ``{"any": []}`` and ``{"all": []}``. ``tags any`` needs one of the tags,
``tags all`` needs every one. A range needs at least one bound, at most one lower (gte or gt)
and one upper (lte or lt), and must contain at least one value (gt 5 with lt 6 is empty).

Missing values: an enterprise with no size, capital, established date or credit level never
satisfies eq, in or range on that field, so ``{"not": …}`` of such a condition does match it.

Bounds: nesting depth ≤ 6 (a lone condition is depth 1), ≤ 64 nodes in total, lists ≤ 200 items
except ``uscc in`` ≤ 10,000, strings ≤ 64 characters (tags ≤ 32, the column width), whole rule
JSON ≤ 256 KiB. Any violation, unknown key or field, op not allowed for the field, wrong value
type or empty range raises ``core.errors.ValidationFailed`` whose problems carry JSON-pointer
paths into the rule (``rule/all/2/value``, ``rule/not/value/gte``) and a reason in Chinese and
English.

Example::

    {"all": [
        {"field": "zone", "op": "in", "value": ["nansha", "qianhai"]},
        {"field": "industry", "op": "prefix", "value": "C39"},
        {"field": "registered_capital", "op": "range", "value": {"gte": 1000000}},
        {"not": {"field": "status", "op": "eq", "value": "revoked"}},
        {"any": [{"field": "tags", "op": "any", "value": ["高新技术企业", "专精特新"]},
                 {"field": "size", "op": "in", "value": ["small", "micro"]}]}
    ]}

Modules: ``schema`` (parse, validate, normalise, serialise), ``sql`` (compile to a WHERE
condition over ``enterprises e``), ``evaluate`` (Python semantics and Chinese explanations),
``facts`` (the whitelisted profile facts, loaded set-based), ``audience`` (counts, samples and
the id sub-query for publishing).
"""

from __future__ import annotations

from notices.targeting.audience import (
    AudienceSample,
    count_enterprises,
    count_people,
    matching_enterprise_ids_sql,
    sample_enterprises,
)
from notices.targeting.evaluate import explain, format_yuan, matches
from notices.targeting.facts import (
    FIELD_SOURCES,
    EnterpriseFacts,
    load_facts,
    load_facts_by_uscc,
)
from notices.targeting.schema import (
    FIELD_OPS,
    Rule,
    canonical_json,
    parse_rule,
    parse_rule_json,
    rule_fields,
    to_json,
)
from notices.targeting.sql import compile_where

__all__ = [
    "FIELD_OPS",
    "FIELD_SOURCES",
    "AudienceSample",
    "EnterpriseFacts",
    "Rule",
    "canonical_json",
    "compile_where",
    "count_enterprises",
    "count_people",
    "explain",
    "format_yuan",
    "load_facts",
    "load_facts_by_uscc",
    "matches",
    "matching_enterprise_ids_sql",
    "parse_rule",
    "parse_rule_json",
    "rule_fields",
    "sample_enterprises",
    "to_json",
]
