"""Compile a rule to a parameterised SQL condition over `enterprises e`.

Every value goes through `Sql.p`, so rule text never reaches the SQL text. Each compiled
condition is two-valued (TRUE or FALSE, never NULL): nullable columns are guarded with
`col IS NOT NULL AND …`, which keeps `NOT` equal to Python's `not` while leaving the comparison
itself bare for the planner. Prefixes use case-sensitive pattern operators that are exact on
both dialects (PostgreSQL LIKE, SQLite GLOB; SQLite's LIKE would ignore ASCII case).

Indexes: eq/in use the plain column indexes on both dialects (`=`, `= ANY(array)`, `IN (SELECT
value FROM json_each(?))`), and SQLite's GLOB prefix does too. PostgreSQL uses an index for the
LIKE prefix only with a `varchar_pattern_ops` index on the column (or a database collation of
exactly "C"); a range on the default collation would be faster to write but not exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

from core.db import Sql
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
    Rule,
    Tags,
)

ALWAYS = "(1 = 1)"
NEVER = "(1 = 0)"

COLUMNS: Mapping[str, str] = {
    "zone": "e.zone",
    "region": "e.region_code",
    "industry": "e.industry_code",
    "size": "e.size",
    "status": "e.status",
    "credit_level": "e.credit_level",
    "uscc": "e.uscc",
}
CAPITAL_COLUMN = "e.registered_capital_yuan"
ESTABLISHED_COLUMN = "e.established_on"
NULLABLE_COLUMNS = frozenset({"e.size", "e.credit_level", CAPITAL_COLUMN, ESTABLISHED_COLUMN})


def compile_where(rule: Rule, sql: Sql) -> str:
    """A condition over `enterprises e`; its parameters are appended to `sql.params` in text
    order, so it can sit anywhere in a larger statement built with the same `Sql`."""
    match rule:
        case AllOf(rules=()):
            return ALWAYS
        case AllOf(rules=children):
            return "(" + " AND ".join(compile_where(child, sql) for child in children) + ")"
        case AnyOf(rules=()):
            return NEVER
        case AnyOf(rules=children):
            return "(" + " OR ".join(compile_where(child, sql) for child in children) + ")"
        case Not(rule=child):
            return f"(NOT {compile_where(child, sql)})"
        case Equals(field=field, value=value):
            column = COLUMNS[field]
            return _guarded(column, f"{column} = {sql.p(value)}")
        case OneOf(field=field, values=values):
            column = COLUMNS[field]
            return _guarded(column, _one_of(column, values, sql))
        case Prefix(field=field, value=value):
            column = COLUMNS[field]
            return _guarded(column, _starts_with(column, value, sql))
        case CapitalRange(lower=lower, upper=upper):
            return _guarded(CAPITAL_COLUMN, _within(CAPITAL_COLUMN, lower, upper, sql))
        case EstablishedRange(lower=lower, upper=upper):
            condition = _within(ESTABLISHED_COLUMN, _date_param(lower, sql), _date_param(upper, sql), sql)
            return _guarded(ESTABLISHED_COLUMN, condition)
        case Tags(match="any", tags=tags):
            return _has_tag(_one_of("t.tag", tags, sql))
        case Tags(match="all", tags=tags):
            return "(" + " AND ".join(_has_tag(f"t.tag = {sql.p(tag)}") for tag in tags) + ")"
    raise AssertionError(f"unhandled rule node {rule!r}")


def _guarded(column: str, condition: str) -> str:
    if column in NULLABLE_COLUMNS:
        return f"({column} IS NOT NULL AND {condition})"
    return f"({condition})"


def _one_of(expression: str, values: Sequence[str], sql: Sql) -> str:
    if len(values) == 1:
        return f"{expression} = {sql.p(values[0])}"
    # One array / JSON parameter whatever the list length: a 10,000-item USCC list stays far
    # below both drivers' parameter limits, and PostgreSQL keeps one plan shape.
    if sql.postgres:
        return f"{expression} = ANY({sql.p(list(values))}::text[])"
    return f"{expression} IN (SELECT value FROM json_each({sql.p(json.dumps(list(values)))}))"


def _starts_with(column: str, prefix: str, sql: Sql) -> str:
    if sql.postgres:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{column} LIKE {sql.p(escaped + '%')}"
    # GLOB has no escape character: a metacharacter is made literal by a one-item class.
    escaped = "".join(f"[{char}]" if char in "*?[" else char for char in prefix)
    return f"{column} GLOB {sql.p(escaped + '*')}"


def _within(
    column: str,
    lower: Bound[object] | None,
    upper: Bound[object] | None,
    sql: Sql,
) -> str:
    parts = []
    if lower is not None:
        parts.append(f"{column} {'>=' if lower.inclusive else '>'} {sql.p(lower.value)}")
    if upper is not None:
        parts.append(f"{column} {'<=' if upper.inclusive else '<'} {sql.p(upper.value)}")
    return " AND ".join(parts)


def _date_param(bound: Bound[date] | None, sql: Sql) -> Bound[object] | None:
    """asyncpg binds `date`; SQLite stores DateField as ISO text, which orders like the date."""
    if bound is None or sql.postgres:
        return bound
    return Bound(bound.value.isoformat(), bound.inclusive)


def _has_tag(tag_condition: str) -> str:
    return f"EXISTS (SELECT 1 FROM enterprise_tags t WHERE t.enterprise_id = e.id AND {tag_condition})"
