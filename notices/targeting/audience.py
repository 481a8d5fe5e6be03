"""Set-based audience queries for a rule: preview counts, a sample, and the id sub-query the
publish code embeds in INSERT … SELECT. Nothing here loops over enterprises in Python."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.db import Sql, conn, is_postgres
from core.errors import ValidationFailed
from notices.targeting.schema import Rule
from notices.targeting.sql import compile_where

MAX_SAMPLE = 200


@dataclass(frozen=True, slots=True)
class AudienceSample:
    id: int
    uscc: str
    name: str
    zone: str
    region_code: str
    industry_code: str


def matching_enterprise_ids_sql(rule: Rule, sql: Sql | None = None) -> tuple[str, list[Any]]:
    """`SELECT e.id FROM enterprises e WHERE …` and its parameters.

    To embed it in a bigger statement, pass that statement's `Sql` and call this at the point
    where the sub-query appears in the text: PostgreSQL placeholders continue the numbering and
    SQLite's positional `?` stay in order. The returned list is then `sql.params` itself.
    """
    builder = sql if sql is not None else Sql(postgres=is_postgres())
    where = compile_where(rule, builder)
    return f"SELECT e.id FROM enterprises e WHERE {where}", builder.params


async def count_enterprises(rule: Rule) -> int:
    sql = Sql(postgres=is_postgres())
    where = compile_where(rule, sql)
    return await _scalar(f"SELECT COUNT(*) AS n FROM enterprises e WHERE {where}", sql.params)


async def count_people(rule: Rule) -> int:
    """Distinct active people who belong to at least one matching enterprise: the people a
    notice would reach, each counted once however many of their enterprises match."""
    ids_sql, params = matching_enterprise_ids_sql(rule)
    text = (
        "SELECT COUNT(DISTINCT m.person_id) AS n FROM memberships m "
        "JOIN people p ON p.id = m.person_id "
        f"WHERE p.active AND m.enterprise_id IN ({ids_sql})"
    )
    return await _scalar(text, params)


async def sample_enterprises(rule: Rule, limit: int = 20) -> list[AudienceSample]:
    """The first `limit` matching enterprises by id (stable across calls), for previews."""
    if not 0 <= limit <= MAX_SAMPLE:
        raise ValidationFailed(
            f"样本数须在 0 至 {MAX_SAMPLE} 之间 / limit must be between 0 and {MAX_SAMPLE}",
            field="limit",
        )
    sql = Sql(postgres=is_postgres())
    where = compile_where(rule, sql)
    text = (
        "SELECT e.id, e.uscc, e.name, e.zone, e.region_code, e.industry_code "
        f"FROM enterprises e WHERE {where} ORDER BY e.id LIMIT {sql.p(limit)}"
    )
    rows = await conn().execute_query_dict(text, sql.params)
    return [AudienceSample(**row) for row in rows]


async def _scalar(text: str, params: list[Any]) -> int:
    rows = await conn().execute_query_dict(text, params)
    return int(rows[0]["n"])
