"""Every query of the policy library. Matches are written set-based (INSERT … SELECT over
`enterprises e` with the compiled eligibility rule ∧ jurisdiction), never per enterprise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from tortoise.expressions import Q

from core.db import conn, new_sql
from notices.models import Policy
from notices.policy_schemas import PolicySearch
from notices.repository import as_json_text, id_list, insert_count, typed
from notices.targeting import Rule, compile_where


async def get_policy(policy_id: int) -> Policy | None:
    return await Policy.get_or_none(id=policy_id)


async def lock_policy(policy_id: int) -> Policy | None:
    return await Policy.select_for_update().get_or_none(id=policy_id)


async def claim_policy(policy_id: int, from_statuses: Sequence[str], **updates: Any) -> bool:
    updated = await Policy.filter(id=policy_id, status__in=list(from_statuses)).update(**updates)
    return bool(updated)


async def snapshot_matches(policy_id: int, audience: Rule, *, batch: str,
                           now: dt.datetime) -> int:
    sql = new_sql()
    head = (
        "INSERT INTO policy_matches (policy_id, enterprise_id, matched_via, match_batch, "
        f"matched_at) SELECT {typed(sql, policy_id, 'BIGINT')}, e.id, "
        f"{typed(sql, 'publish', 'VARCHAR')}, {typed(sql, batch, 'VARCHAR')}, "
        f"{typed(sql, now, 'TIMESTAMPTZ')} FROM enterprises e WHERE "
    )
    where = compile_where(audience, sql)
    # Plain INSERT: the policy was claimed draft → published in this transaction (no conflicts).
    return await insert_count(head + where, sql.params)


async def rematch(policy_id: int, audience: Rule, enterprise_ids: Sequence[int], *,
                  batch: str, now: dt.datetime) -> list[int]:
    sql = new_sql()
    text = (
        "INSERT INTO policy_matches (policy_id, enterprise_id, matched_via, match_batch, "
        f"matched_at) SELECT {typed(sql, policy_id, 'BIGINT')}, e.id, "
        f"{typed(sql, 'rematch', 'VARCHAR')}, {typed(sql, batch, 'VARCHAR')}, "
        f"{typed(sql, now, 'TIMESTAMPTZ')} FROM enterprises e WHERE "
        f"{id_list(sql, 'e.id', enterprise_ids)} AND {compile_where(audience, sql)} "
        "AND NOT EXISTS (SELECT 1 FROM policy_matches x WHERE "
        f"x.policy_id = {sql.p(policy_id)} AND x.enterprise_id = e.id) "
        "ON CONFLICT (policy_id, enterprise_id) DO NOTHING RETURNING enterprise_id"
    )
    rows = await conn().execute_query_dict(text, sql.params)
    return [int(r["enterprise_id"]) for r in rows]


async def rematchable(today: dt.date) -> list[Policy]:
    """Published policies whose window has not closed: new qualifiers should still hear."""
    return await Policy.filter(Q(closes_on__isnull=True) | Q(closes_on__gte=today),
                               status="published").all()


async def match_counts(policy_id: int) -> dict[str, int]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT COUNT(*) AS matches, "
        "COALESCE(SUM(CASE WHEN matched_via = 'rematch' THEN 1 ELSE 0 END), 0) AS rematched "
        f"FROM policy_matches WHERE policy_id = {sql.p(policy_id)}",
        sql.params,
    )
    return {k: int(v) for k, v in rows[0].items()}


def _page_matches(enterprise: str) -> str:
    """Published policies matched to one enterprise, newest first (index on (enterprise_id,
    policy_id)): the policy's version and when it matched. What the policy says comes from
    `policy_details`, once per edit."""
    return (
        "SELECT p.id, p.updated_at, m.matched_at "
        "FROM policy_matches m JOIN policies p ON p.id = m.policy_id "
        f"WHERE m.enterprise_id = {enterprise} AND p.status = 'published' "
        f"ORDER BY p.id DESC LIMIT {PAGE_MATCHES}"
    )


PAGE_MATCHES = 200
# A page's match row is positional, as the inbox's (notices.repository.PAGE_INBOX_ROW).
PAGE_MATCH_ROW = ("id", "updated_at", "matched_at")
# PostgreSQL: the same rows for the enterprise `e` of the page's statement, as one JSON array
# of PAGE_MATCH_ROW arrays (see profiles.page.Section).
PAGE_MATCHES_JSON = (
    "SELECT json_agg(json_build_array(x.id, x.updated_at, x.matched_at) ORDER BY x.id DESC) "
    f"FROM ({_page_matches('e.id')}) x"
)


async def page_matches(enterprise_id: int) -> list[list[Any]]:
    """The rows of PAGE_MATCHES_JSON for one enterprise, on any database."""
    sql = new_sql()
    rows = await conn().execute_query_dict(_page_matches(sql.p(enterprise_id)), sql.params)
    return [[row[c] for c in PAGE_MATCH_ROW] for row in rows]


async def policy_details(policy_ids: Sequence[int]) -> list[dict[str, Any]]:
    """What pages show of these policies, with the rule as JSON text (its parse is memoised)
    and `updated_at` as PAGE_MATCH_ROW carries it."""
    sql = new_sql()
    return await conn().execute_query_dict(
        "SELECT p.id, p.title, p.title_hant, p.category, p.department, p.benefit_summary, "
        "p.benefit_summary_hant, p.source_url, p.opens_on, p.closes_on, "
        "CAST(p.rule AS TEXT) AS rule, p.published_at, "
        f"{as_json_text(sql, 'p.updated_at')} AS updated_at "
        f"FROM policies p WHERE {id_list(sql, 'p.id', policy_ids)}",
        sql.params,
    )


async def search(query: PolicySearch, today: dt.date) -> list[Policy]:
    q = Policy.filter(status="published")
    if query.q:
        q = q.filter(Q(title__icontains=query.q) | Q(benefit_summary__icontains=query.q)
                     | Q(title_hant__icontains=query.q)
                     | Q(benefit_summary_hant__icontains=query.q))
    if query.category:
        q = q.filter(category=query.category)
    if query.department:
        q = q.filter(department=query.department)
    if query.open_only:
        q = q.filter(Q(opens_on__isnull=True) | Q(opens_on__lte=today),
                     Q(closes_on__isnull=True) | Q(closes_on__gte=today))
    if query.cursor is not None:
        q = q.filter(id__lt=query.cursor)
    return await q.order_by("-id").limit(query.limit)


async def list_managed(*, department: str | None, operator_id: int, all_departments: bool,
                       status: str | None, before_id: int | None, limit: int) -> list[Policy]:
    q = Policy.all()
    if not all_departments:
        q = q.filter(Q(department=department) if department else Q(created_by_id=operator_id))
    if status:
        q = q.filter(status=status)
    if before_id is not None:
        q = q.filter(id__lt=before_id)
    return await q.order_by("-id").limit(limit)
