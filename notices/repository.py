"""Every query of the notices domain (policies live in `policy_repository`).

Fan-out is set-based: recipients are written with one INSERT … SELECT over `enterprises e`
using the targeting engine's compiled condition, read state changes with conditional UPDATEs
(`… WHERE read_at IS NULL`) so concurrent calls can never double-count, and counts are always
derived from recipient rows, never kept in counters that could drift.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from tortoise.transactions import in_transaction

from core.db import Sql, conn, is_postgres, new_sql
from notices.models import AuditEntry, IdempotencyKey, Notice, NoticeRevision
from notices.schemas import AuditQuery
from notices.targeting import Rule, compile_where
from profiles.models import Operator

VISIBLE = "n.status = 'published' AND n.recalled_at IS NULL AND (n.expire_at IS NULL OR n.expire_at > {now})"


# --------------------------------------------------------------------------- value helpers


def as_datetime(value: Any) -> dt.datetime | None:
    """Raw rows carry datetimes on PostgreSQL and ISO text on SQLite; callers get UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def as_json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def typed(sql: Sql, value: Any, pg_type: str) -> str:
    """A parameter in a SELECT list: PostgreSQL needs its type spelled out, SQLite must not get
    a CAST (TIMESTAMPTZ has NUMERIC affinity there and would mangle the text)."""
    placeholder = sql.p(value)
    return f"CAST({placeholder} AS {pg_type})" if sql.postgres else placeholder


def id_list(sql: Sql, column: str, ids: Sequence[int]) -> str:
    """`column IN (ids)` as one parameter whatever the length (an array / a JSON text)."""
    if sql.postgres:
        return f"{column} = ANY(CAST({sql.p(list(ids))} AS BIGINT[]))"
    return f"{column} IN (SELECT value FROM json_each({sql.p(json.dumps(list(ids)))}))"


async def insert_count(text: str, params: list[Any]) -> int:
    """Run an INSERT and return how many rows it wrote, without shipping them back. asyncpg's
    status line ("INSERT 0 n") is not parsed reliably by Tortoise, so PostgreSQL counts in a CTE;
    SQLite reports its change count."""
    if is_postgres():
        rows = await conn().execute_query_dict(
            f"WITH inserted AS ({text} RETURNING 1) SELECT COUNT(*) AS n FROM inserted", params
        )
        return int(rows[0]["n"])
    count, _ = await conn().execute_query(text, params)
    return int(count)


def hour_bucket(column: str) -> str:
    """Whole hours since the epoch. Asia/Shanghai is UTC+8 without DST, so UTC hour buckets are
    exactly its hour buckets; labels are rendered in Shanghai time by the caller."""
    if is_postgres():
        return f"CAST(floor(extract(epoch FROM {column}) / 3600) AS BIGINT)"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / 3600)"


# ------------------------------------------------------------------------------- audiences


async def count_where(rule: Rule) -> int:
    sql = new_sql()
    where = compile_where(rule, sql)
    rows = await conn().execute_query_dict(
        f"SELECT COUNT(*) AS n FROM enterprises e WHERE {where}", sql.params
    )
    return int(rows[0]["n"])


async def count_inside_outside(rule: Rule, jurisdiction: Rule) -> tuple[int, int]:
    """Enterprises the rule reaches inside and outside a jurisdiction, in one scan."""
    sql = new_sql()
    inside = compile_where(jurisdiction, sql)
    where = compile_where(rule, sql)
    rows = await conn().execute_query_dict(
        f"SELECT COALESCE(SUM(CASE WHEN {inside} THEN 1 ELSE 0 END), 0) AS inside, "
        f"COUNT(*) AS total FROM enterprises e WHERE {where}",
        sql.params,
    )
    inside_n, total = int(rows[0]["inside"]), int(rows[0]["total"])
    return inside_n, total - inside_n


@dataclass(frozen=True, slots=True)
class Audience:
    """The enterprises a preview counts: an audience rule (rule ∧ jurisdiction), either whole
    or sampled — a PostgreSQL block sample (`sample_percent`, REPEATABLE so the figures stay
    put while a publisher types) or every k-th id (`sample_every`). Counters (people here,
    devices from the push issue) count over `ids_sql(sql)`; the preview scales their results
    by enterprises / sampled enterprises."""

    rule: Rule
    sample_percent: float | None = None
    sample_every: int = 1
    limit: int | None = None  # at most this many enterprises (a guard, not a sample)

    @property
    def sampled(self) -> bool:
        return self.sample_percent is not None or self.sample_every > 1

    def ids_sql(self, sql: Sql) -> str:
        source = "enterprises e"
        if self.sample_percent is not None and sql.postgres:
            source += (f" TABLESAMPLE SYSTEM ({typed(sql, self.sample_percent, 'REAL')}) "
                       f"REPEATABLE ({typed(sql, SAMPLE_SEED, 'REAL')})")
        where = compile_where(self.rule, sql)
        if self.sample_every > 1:
            where += f" AND e.id % {typed(sql, self.sample_every, 'BIGINT')} = 0"
        text = f"SELECT e.id FROM {source} WHERE {where}"
        if self.limit is not None:
            text += f" LIMIT {typed(sql, self.limit, 'BIGINT')}"
        return text


SAMPLE_SEED = 20261121


async def count_people(audience: Audience) -> tuple[int, int]:
    """(enterprises, distinct active people) over the audience as given (sampled or not).

    On PostgreSQL the people are reached by a LATERAL lookup per enterprise, fenced with
    OFFSET 0 so it is not pulled up into a plain join: always index nested loops, cost
    proportional to the (sampled) audience. Unfenced, the planner (which does not scale its
    estimates by a TABLESAMPLE) hash-joined all 600,000 people instead: 0.6 s vs 20 ms."""
    sql = new_sql()
    ids = audience.ids_sql(sql)
    if sql.postgres:
        people = (
            "(SELECT COUNT(DISTINCT x.person_id) FROM s CROSS JOIN LATERAL "
            "(SELECT m.person_id FROM memberships m JOIN people p ON p.id = m.person_id "
            "WHERE m.enterprise_id = s.id AND p.active OFFSET 0) x)"
        )
        if audience.limit is not None:
            # A guarded count that hit its limit is discarded: skip the people lookups then
            # (PostgreSQL evaluates the sub-select only when the branch is taken).
            people = (f"CASE WHEN (SELECT COUNT(*) FROM s) < "
                      f"{typed(sql, audience.limit, 'BIGINT')} THEN {people} ELSE 0 END")
        text = (f"WITH s AS MATERIALIZED ({ids}) SELECT (SELECT COUNT(*) FROM s) AS n, "
                f"{people} AS people")
    else:
        text = (
            f"WITH s AS ({ids}) SELECT (SELECT COUNT(*) FROM s) AS n, "
            "(SELECT COUNT(DISTINCT m.person_id) FROM s JOIN memberships m "
            "ON m.enterprise_id = s.id JOIN people p ON p.id = m.person_id "
            "WHERE p.active) AS people"
        )
    if not sql.postgres:
        rows = await conn().execute_query_dict(text, sql.params)
        return int(rows[0]["n"]), int(rows[0]["people"])
    async with in_transaction():
        # The planner cannot see how small a TABLESAMPLE makes the audience, so its cost
        # estimate crosses jit_above_cost and JIT compilation alone took 370 ms of a 410 ms
        # query. Counting a few thousand index lookups never profits from JIT.
        await conn().execute_script("SET LOCAL jit = off")
        rows = await conn().execute_query_dict(text, sql.params)
    return int(rows[0]["n"]), int(rows[0]["people"])


# ------------------------------------------------------------------------------- notices


async def get_notice(notice_id: int) -> Notice | None:
    return await Notice.get_or_none(id=notice_id)


async def lock_notice(notice_id: int) -> Notice | None:
    """Read a notice and lock its row until the transaction ends (PostgreSQL; SQLite
    transactions are serialised anyway), so what we validate is what we publish or edit."""
    return await Notice.select_for_update().get_or_none(id=notice_id)


async def claim_notice(notice_id: int, from_statuses: Iterable[str], **updates: Any) -> bool:
    """Move a notice out of one of `from_statuses` atomically: of two concurrent callers only
    one updates the row (PostgreSQL re-checks the WHERE after the row lock is released)."""
    updated = await Notice.filter(id=notice_id, status__in=list(from_statuses)).update(**updates)
    return bool(updated)


async def snapshot_recipients(notice_id: int, audience: Rule, *, batch: str,
                              now: dt.datetime) -> int:
    """The recipient snapshot: ONE INSERT … SELECT over the enterprises the audience matches.

    A plain INSERT (no ON CONFLICT): the caller claimed the notice (draft/scheduled → published)
    in this transaction, and nothing adds recipients to an unpublished notice, so no row can
    conflict; speculative insertion would cost ~50% more on 199,000 rows."""
    sql = new_sql()
    head = (
        "INSERT INTO notice_recipients (notice_id, enterprise_id, matched_via, match_batch, "
        f"matched_at) SELECT {typed(sql, notice_id, 'BIGINT')}, e.id, "
        f"{typed(sql, 'publish', 'VARCHAR')}, {typed(sql, batch, 'VARCHAR')}, "
        f"{typed(sql, now, 'TIMESTAMPTZ')} FROM enterprises e WHERE "
    )
    where = compile_where(audience, sql)
    return await insert_count(head + where, sql.params)


async def rematch_recipients(notice_id: int, audience: Rule, enterprise_ids: Sequence[int], *,
                             batch: str, now: dt.datetime) -> list[int]:
    """Add the enterprises among `enterprise_ids` that now qualify and were not yet reached;
    returns the ids actually inserted (exactly once, even against a concurrent publish)."""
    sql = new_sql()
    text = (
        "INSERT INTO notice_recipients (notice_id, enterprise_id, matched_via, match_batch, "
        f"matched_at) SELECT {typed(sql, notice_id, 'BIGINT')}, e.id, "
        f"{typed(sql, 'rematch', 'VARCHAR')}, {typed(sql, batch, 'VARCHAR')}, "
        f"{typed(sql, now, 'TIMESTAMPTZ')} FROM enterprises e WHERE "
        f"{id_list(sql, 'e.id', enterprise_ids)} AND {compile_where(audience, sql)} "
        "AND NOT EXISTS (SELECT 1 FROM notice_recipients x WHERE "
        f"x.notice_id = {sql.p(notice_id)} AND x.enterprise_id = e.id) "
        "ON CONFLICT (notice_id, enterprise_id) DO NOTHING RETURNING enterprise_id"
    )
    rows = await conn().execute_query_dict(text, sql.params)
    return [int(r["enterprise_id"]) for r in rows]


async def due_notice_ids(now: dt.datetime, *, limit: int) -> list[int]:
    rows = await Notice.filter(status="scheduled", publish_at__lte=now) \
        .order_by("publish_at", "id").limit(limit).values("id")
    return [int(r["id"]) for r in rows]


async def standing_notices(now: dt.datetime) -> list[Notice]:
    """Published standing notices still in force: the ones re-matching can extend."""
    from tortoise.expressions import Q

    return await Notice.filter(
        Q(expire_at__isnull=True) | Q(expire_at__gt=now),
        status="published", standing=True, recalled_at__isnull=True,
    ).all()


async def any_expired_between(start: dt.datetime, end: dt.datetime) -> bool:
    return await Notice.filter(status="published", expire_at__gt=start,
                               expire_at__lte=end).exists()


async def list_notices(*, department: str | None, operator_id: int | None, all_departments: bool,
                       status: str | None, before_id: int | None, limit: int) -> list[Notice]:
    from tortoise.expressions import Q

    query = Notice.all()
    if not all_departments:
        query = query.filter(Q(department=department) if department else
                             Q(created_by_id=operator_id))
    if status:
        query = query.filter(status=status)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.order_by("-id").limit(limit)


# ---------------------------------------------------------------------- enterprise inbox


def _inbox_filter(state: str) -> str:
    if state == "unread":
        return "r.read_at IS NULL AND r.archived_at IS NULL"
    if state == "archived":
        return "r.archived_at IS NOT NULL"
    return "r.archived_at IS NULL"


_READ_FLAG = "(CASE WHEN r.read_at IS NULL THEN 0 ELSE 1 END)"
_NOTICE_COLUMNS = (
    "n.id, n.kind, n.title, n.priority, n.ack_required, n.action_url, n.published_at, "
    "n.expire_at, n.revision, n.corrected_at, n.department, n.body_html"
)


async def inbox(enterprise_id: int, *, state: str, limit: int,
                cursor: tuple[Any, ...] | None, now: dt.datetime) -> list[dict[str, Any]]:
    """Unread first, then newest (by when the notice reached this enterprise), keyset-paged on
    (read flag, matched_at, recipient id). New notices sort before any cursor, so they never
    shift a later page; a notice read mid-way moves behind the cursor and may show again, but
    nothing is ever skipped."""
    sql = new_sql()
    conditions = [
        f"r.enterprise_id = {sql.p(enterprise_id)}",
        VISIBLE.format(now=sql.p(now)),
        _inbox_filter(state),
    ]
    if cursor is not None:
        flag, matched_at, recipient_id = cursor
        at = dt.datetime.fromisoformat(str(matched_at))
        f1, f2, t1, t2, rid = (sql.p(int(str(flag))), sql.p(int(str(flag))), sql.p(at),
                               sql.p(at), sql.p(int(str(recipient_id))))
        conditions.append(
            f"({_READ_FLAG} > {f1} OR ({_READ_FLAG} = {f2} AND (r.matched_at < {t1} OR "
            f"(r.matched_at = {t2} AND r.id < {rid}))))"
        )
    text = (
        f"SELECT {_NOTICE_COLUMNS}, r.id AS recipient_id, r.matched_at, r.read_at, r.acked_at, "
        f"r.archived_at, {_READ_FLAG} AS read_flag "
        "FROM notice_recipients r JOIN notices n ON n.id = r.notice_id "
        f"WHERE {' AND '.join(conditions)} "
        f"ORDER BY read_flag, r.matched_at DESC, r.id DESC LIMIT {sql.p(limit)}"
    )
    return await conn().execute_query_dict(text, sql.params)


PAGE_INBOX_ITEMS = 5
# A page's inbox row is positional (JSON arrays decode several times faster than objects, and
# every cold page decodes them): the notice's version, then the recipient's state, then the
# exact unread count. What the notice says comes from `notice_details`, once per revision.
PAGE_INBOX_ROW = ("id", "revision", "published_at", "expire_at", "corrected_at",
                  "matched_at", "read_at", "acked_at", "archived_at", "unread_total")


def _page_inbox(enterprise: str, now: str) -> str:
    """The page's first inbox items (as `inbox(state="all")`), each row carrying the exact
    unread count as `unread_total`: the window sum runs over every visible row before LIMIT."""
    return (
        "SELECT n.id, n.revision, n.published_at, n.expire_at, n.corrected_at, r.matched_at, "
        "r.read_at, r.acked_at, r.archived_at, r.id AS recipient_id, "
        f"{_READ_FLAG} AS read_flag, "
        "SUM(CASE WHEN r.read_at IS NULL THEN 1 ELSE 0 END) OVER () AS unread_total "
        "FROM notice_recipients r JOIN notices n ON n.id = r.notice_id "
        f"WHERE r.enterprise_id = {enterprise} AND {VISIBLE.format(now=now)} "
        f"AND {_inbox_filter('all')} "
        f"ORDER BY read_flag, r.matched_at DESC, r.id DESC LIMIT {PAGE_INBOX_ITEMS}"
    )


# PostgreSQL: the same rows for the enterprise `e` of the page's statement, as one JSON array
# of PAGE_INBOX_ROW arrays (see profiles.page.Section; `$3` is the current instant there).
PAGE_INBOX_JSON = (
    "SELECT json_agg(json_build_array("
    + ", ".join(f"x.{c}" for c in PAGE_INBOX_ROW)
    + ") ORDER BY x.read_flag, x.matched_at DESC, x.recipient_id DESC) "
    f"FROM ({_page_inbox('e.id', '$3')}) x"
)


async def page_inbox(enterprise_id: int, now: dt.datetime) -> list[list[Any]]:
    """The rows of PAGE_INBOX_JSON for one enterprise, on any database."""
    sql = new_sql()
    rows = await conn().execute_query_dict(
        _page_inbox(sql.p(enterprise_id), sql.p(now)), sql.params)
    return [[row[c] for c in PAGE_INBOX_ROW] for row in rows]


def as_json_text(sql: Sql, column: str) -> str:
    """A timestamp column as the text PostgreSQL's JSON gives it (how a page's section rows
    carry it), so a value read here can be compared with one read there; SQLite stores text."""
    return f"to_json({column}) #>> '{{}}'" if sql.postgres else column


async def notice_details(notice_ids: Sequence[int]) -> list[dict[str, Any]]:
    """What pages show of these notices; the version columns as PAGE_INBOX_ROW carries them."""
    sql = new_sql()
    return await conn().execute_query_dict(
        "SELECT n.id, n.revision, "
        + ", ".join(f"{as_json_text(sql, 'n.' + c)} AS {c}"
                    for c in ("published_at", "expire_at", "corrected_at"))
        + ", n.kind, n.title, n.priority, n.ack_required, n.action_url, n.department, "
        f"n.body_html FROM notices n WHERE {id_list(sql, 'n.id', notice_ids)}",
        sql.params,
    )


async def unread_count(enterprise_id: int, now: dt.datetime) -> int:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT COUNT(*) AS n FROM notice_recipients r JOIN notices n ON n.id = r.notice_id "
        f"WHERE r.enterprise_id = {sql.p(enterprise_id)} AND r.read_at IS NULL "
        f"AND r.archived_at IS NULL AND {VISIBLE.format(now=sql.p(now))}",
        sql.params,
    )
    return int(rows[0]["n"])


async def recipients_among(notice_id: int, enterprise_ids: Sequence[int], *,
                           batch: str | None) -> list[int]:
    """Which of these enterprises received the notice (in this match batch, when given: a
    re-match of a standing notice announces only the enterprises it added)."""
    sql = new_sql()
    text = (f"SELECT enterprise_id FROM notice_recipients WHERE notice_id = {sql.p(notice_id)} "
            f"AND {id_list(sql, 'enterprise_id', enterprise_ids)}")
    if batch is not None:
        text += f" AND match_batch = {sql.p(batch)}"
    rows = await conn().execute_query_dict(text, sql.params)
    return [int(r["enterprise_id"]) for r in rows]


_ANNOUNCED_COLUMNS = "n.id, n.title, n.kind, n.priority, n.ack_required, n.published_at"


async def announced_notice(notice_id: int, now: dt.datetime) -> dict[str, Any] | None:
    """What the live stream announces of a notice, if it is visible now."""
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT {_ANNOUNCED_COLUMNS} FROM notices n WHERE n.id = {sql.p(notice_id)} "
        f"AND {VISIBLE.format(now=sql.p(now))}", sql.params)
    return dict(rows[0]) if rows else None


async def announced_reaching_since(enterprise_id: int, since: dt.datetime, now: dt.datetime,
                                   *, limit: int) -> list[dict[str, Any]]:
    """Visible notices that reached the enterprise at or after `since`, oldest first."""
    sql = new_sql()
    return await conn().execute_query_dict(
        f"SELECT {_ANNOUNCED_COLUMNS} FROM notice_recipients r JOIN notices n "
        f"ON n.id = r.notice_id WHERE r.enterprise_id = {sql.p(enterprise_id)} "
        f"AND r.matched_at >= {sql.p(since)} AND {VISIBLE.format(now=sql.p(now))} "
        f"ORDER BY r.matched_at, r.id LIMIT {sql.p(limit)}", sql.params)


async def visible_recipient(enterprise_id: int, notice_id: int,
                            now: dt.datetime) -> dict[str, Any] | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT {_NOTICE_COLUMNS}, n.rule, n.body_format, r.id AS recipient_id, r.matched_at, "
        "r.matched_via, r.read_at, r.read_by_person_id, r.acked_at, r.acked_by_person_id, "
        "r.archived_at FROM notice_recipients r JOIN notices n ON n.id = r.notice_id "
        f"WHERE r.enterprise_id = {sql.p(enterprise_id)} AND r.notice_id = {sql.p(notice_id)} "
        f"AND {VISIBLE.format(now=sql.p(now))}",
        sql.params,
    )
    return dict(rows[0]) if rows else None


async def set_once(notice_id: int, enterprise_id: int, column: str, by_column: str | None,
                   person_id: int | None, now: dt.datetime) -> bool:
    """`SET column = now WHERE column IS NULL`: the first caller wins, later ones change nothing,
    so counts derived from these rows stay exact under any concurrency."""
    assert column in {"read_at", "acked_at", "archived_at"}
    assert by_column in {None, "read_by_person_id", "acked_by_person_id"}
    sql = new_sql()
    assignments = f"{column} = {sql.p(now)}"
    if by_column is not None:
        assignments += f", {by_column} = {sql.p(person_id)}"
    count, _ = await conn().execute_query(
        f"UPDATE notice_recipients SET {assignments} WHERE notice_id = {sql.p(notice_id)} "
        f"AND enterprise_id = {sql.p(enterprise_id)} AND {column} IS NULL",
        sql.params,
    )
    return bool(count)


# --------------------------------------------------------------------------------- stats


async def recipient_counts(notice_id: int) -> dict[str, int]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT COUNT(*) AS recipients, "
        "COALESCE(SUM(CASE WHEN matched_via = 'rematch' THEN 1 ELSE 0 END), 0) AS rematched, "
        "COUNT(read_at) AS read, COUNT(acked_at) AS acknowledged, "
        "COUNT(archived_at) AS archived FROM notice_recipients "
        f"WHERE notice_id = {sql.p(notice_id)}",
        sql.params,
    )
    return {k: int(v) for k, v in rows[0].items()}


async def hourly(notice_id: int, column: str) -> list[tuple[int, int]]:
    assert column in {"read_at", "acked_at"}
    sql = new_sql()
    bucket = hour_bucket(column)
    rows = await conn().execute_query_dict(
        f"SELECT {bucket} AS h, COUNT(*) AS n FROM notice_recipients "
        f"WHERE notice_id = {sql.p(notice_id)} AND {column} IS NOT NULL "
        f"GROUP BY {bucket} ORDER BY h",
        sql.params,
    )
    return [(int(r["h"]), int(r["n"])) for r in rows]


async def receipts_page(notice_id: int, *, after_enterprise_id: int, limit: int,
                        unacknowledged_only: bool = False) -> list[dict[str, Any]]:
    """Keyset pages along the (notice_id, enterprise_id) unique index: exporting 199,000
    receipts is 200 index range scans, not 200 sorts."""
    sql = new_sql()
    extra = " AND r.acked_at IS NULL" if unacknowledged_only else ""
    rows = await conn().execute_query_dict(
        "SELECT r.enterprise_id, e.uscc, e.name, e.zone, e.legal_representative, "
        "r.matched_via, r.matched_at, r.read_at, r.read_by_person_id, pr.name AS read_by_name, "
        "r.acked_at, r.acked_by_person_id, pa.name AS acked_by_name, r.archived_at "
        "FROM notice_recipients r JOIN enterprises e ON e.id = r.enterprise_id "
        "LEFT JOIN people pr ON pr.id = r.read_by_person_id "
        "LEFT JOIN people pa ON pa.id = r.acked_by_person_id "
        f"WHERE r.notice_id = {sql.p(notice_id)} AND r.enterprise_id > "
        f"{sql.p(after_enterprise_id)}{extra} ORDER BY r.enterprise_id LIMIT {sql.p(limit)}",
        sql.params,
    )
    return rows


async def revisions(notice_id: int) -> list[NoticeRevision]:
    return await NoticeRevision.filter(notice_id=notice_id).order_by("number")


async def operator_names(operator_ids: Iterable[int]) -> dict[int, str]:
    """Display names of these operators in one query; ids of deleted operators are absent."""
    ids = sorted(set(operator_ids))
    if not ids:
        return {}
    rows = await Operator.filter(id__in=ids).values_list("id", "display_name")
    return {int(op_id): str(name) for op_id, name in rows}


# --------------------------------------------------------------------------------- audit


async def insert_audit(*, at: dt.datetime, actor: str, actor_department: str | None,
                       action: str, object_type: str, object_id: str, summary: dict[str, Any],
                       ip: str | None, user_agent: str | None,
                       request_id: str | None) -> None:
    await AuditEntry.create(
        at=at, actor=actor, actor_department=actor_department, action=action,
        object_type=object_type, object_id=object_id, summary=summary, ip=ip,
        user_agent=(user_agent or "")[:300] or None, request_id=request_id,
    )


async def audit_page(query: AuditQuery) -> list[AuditEntry]:
    q = AuditEntry.all()
    if query.object_type:
        q = q.filter(object_type=query.object_type)
    if query.object_id:
        q = q.filter(object_id=query.object_id)
    if query.actor:
        q = q.filter(actor=query.actor)
    if query.action:
        q = q.filter(action__startswith=query.action)
    if query.since:
        q = q.filter(at__gte=query.since)
    if query.until:
        q = q.filter(at__lt=query.until)
    if query.cursor is not None:
        q = q.filter(id__lt=query.cursor)
    return await q.order_by("-id").limit(query.limit)


# --------------------------------------------------------------------------- idempotency


async def claim_idempotency_key(scope: str, key: str, digest: str, now: dt.datetime) -> bool:
    """Insert the key or learn that it exists. On PostgreSQL a concurrent insert of the same
    key waits here until the first transaction ends, so the loser then reads a committed
    response (or, if the winner rolled back, claims the key itself)."""
    sql = new_sql()
    rows = await conn().execute_query_dict(
        'INSERT INTO idempotency_keys (scope, "key", request_hash, created_at) VALUES '
        f"({sql.p(scope)}, {sql.p(key)}, {sql.p(digest)}, {sql.p(now)}) "
        'ON CONFLICT (scope, "key") DO NOTHING RETURNING id',
        sql.params,
    )
    return bool(rows)


async def idempotency_entry(scope: str, key: str) -> IdempotencyKey | None:
    return await IdempotencyKey.get_or_none(scope=scope, key=key)


async def store_idempotent_response(scope: str, key: str, response: dict[str, Any]) -> None:
    await IdempotencyKey.filter(scope=scope, key=key).update(response=response)


async def delete_idempotency_keys(*, created_before: dt.datetime) -> int:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"DELETE FROM idempotency_keys WHERE created_at < {sql.p(created_before)} RETURNING id",
        sql.params)
    return len(rows)
