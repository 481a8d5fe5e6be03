"""Every query of the profiles domain. Writes are set-based: one statement per chunk of rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from core import clock
from core.db import conn, fetch_records, new_sql
from profiles.schemas import EnterpriseInput, LicenceInput, MatterInput

PROFILE_COLUMNS = (
    "name", "zone", "region_code", "industry_code", "size", "registered_capital_yuan",
    "established_on", "status", "credit_level", "legal_representative", "address",
    "last_annual_report_year", "legacy_uscc",
)
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class EnterpriseChange:
    uscc: str
    enterprise_id: int
    created: bool
    changed_fields: frozenset[str]  # profile fields, plus "tags" / "licences"


def _norm(value: Any) -> Any:
    """Compare database values with input values across dialects (SQLite returns text)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _licence_key(lic: LicenceInput) -> tuple[Any, ...]:
    return (lic.kind, lic.number, lic.name, lic.issuer, _norm(lic.issued_on),
            _norm(lic.expires_on))


async def _existing(usccs: Sequence[str]) -> dict[str, dict[str, Any]]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT id, uscc, {', '.join(PROFILE_COLUMNS)} FROM enterprises "
        f"WHERE uscc IN ({sql.in_list(list(usccs))})",
        sql.params,
    )
    by_uscc = {r["uscc"]: dict(r) for r in rows}
    if not by_uscc:
        return by_uscc
    ids = {r["id"]: r["uscc"] for r in by_uscc.values()}
    sql = new_sql()
    id_list = sql.in_list(list(ids))
    tags: dict[int, set[str]] = defaultdict(set)
    for row in await conn().execute_query_dict(
        f"SELECT enterprise_id, tag FROM enterprise_tags WHERE enterprise_id IN ({id_list})",
        sql.params,
    ):
        tags[row["enterprise_id"]].add(row["tag"])
    licences: dict[int, set[tuple[Any, ...]]] = defaultdict(set)
    for row in await conn().execute_query_dict(
        "SELECT enterprise_id, kind, number, name, issuer, issued_on, expires_on FROM licences "
        f"WHERE enterprise_id IN ({id_list})",
        sql.params,
    ):
        licences[row["enterprise_id"]].add((
            row["kind"], row["number"], row["name"], row["issuer"],
            _norm(row["issued_on"]), _norm(row["expires_on"]),
        ))
    for enterprise_id, uscc in ids.items():
        by_uscc[uscc]["_tags"] = tags[enterprise_id]
        by_uscc[uscc]["_licences"] = licences[enterprise_id]
    return by_uscc


def _diff(old: dict[str, Any] | None, new: EnterpriseInput) -> frozenset[str]:
    if old is None:
        return frozenset(PROFILE_COLUMNS) | {"tags", "licences"}
    changed = {c for c in PROFILE_COLUMNS if _norm(old[c]) != _norm(getattr(new, c))}
    if old["_tags"] != set(new.tags):
        changed.add("tags")
    if old["_licences"] != {_licence_key(lic) for lic in new.licences}:
        changed.add("licences")
    return frozenset(changed)


async def upsert_enterprises(
    rows: Sequence[EnterpriseInput], *, source_system: str
) -> list[EnterpriseChange]:
    """Insert or update enterprises with their tags and licences; unchanged rows are not
    written. Call inside a transaction: a chunk is all or nothing."""
    changes: list[EnterpriseChange] = []
    for start in range(0, len(rows), _CHUNK):
        changes.extend(await _upsert_chunk(rows[start:start + _CHUNK], source_system))
    return changes


async def _upsert_chunk(rows: Sequence[EnterpriseInput], source_system: str) -> list[EnterpriseChange]:
    latest = {row.uscc: row for row in rows}  # a later row for the same code wins
    old = await _existing(list(latest))
    diffs = {uscc: _diff(old.get(uscc), row) for uscc, row in latest.items()}
    to_write = [row for uscc, row in latest.items() if diffs[uscc]]
    ids = {uscc: int(o["id"]) for uscc, o in old.items()}
    if to_write:
        now = clock.now()
        sql = new_sql()
        columns = ("uscc", *PROFILE_COLUMNS, "source_system", "created_at", "updated_at")
        values = ", ".join(
            "(" + ", ".join(
                sql.p(v) for v in (
                    row.uscc, *(getattr(row, c) for c in PROFILE_COLUMNS), source_system, now, now,
                )
            ) + ")"
            for row in to_write
        )
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in (*PROFILE_COLUMNS, "source_system", "updated_at")
        )
        returned = await conn().execute_query_dict(
            f"INSERT INTO enterprises ({', '.join(columns)}) VALUES {values} "
            f"ON CONFLICT (uscc) DO UPDATE SET {updates} RETURNING id, uscc",
            sql.params,
        )
        ids.update({r["uscc"]: int(r["id"]) for r in returned})
        await _replace_children(
            [row for row in to_write if diffs[row.uscc] & {"tags"}],
            [row for row in to_write if diffs[row.uscc] & {"licences"}],
            ids,
        )
    return [
        EnterpriseChange(uscc, ids[uscc], uscc not in old, diffs[uscc]) for uscc in latest
    ]


async def _replace_children(
    tag_rows: Sequence[EnterpriseInput],
    licence_rows: Sequence[EnterpriseInput],
    ids: dict[str, int],
) -> None:
    if tag_rows:
        sql = new_sql()
        await conn().execute_query(
            f"DELETE FROM enterprise_tags WHERE enterprise_id IN "
            f"({sql.in_list([ids[r.uscc] for r in tag_rows])})",
            sql.params,
        )
        pairs = [(ids[r.uscc], tag) for r in tag_rows for tag in r.tags]
        for start in range(0, len(pairs), 2000):
            sql = new_sql()
            values = ", ".join(
                f"({sql.p(eid)}, {sql.p(tag)})" for eid, tag in pairs[start:start + 2000]
            )
            await conn().execute_query(
                f"INSERT INTO enterprise_tags (enterprise_id, tag) VALUES {values}", sql.params
            )
    if licence_rows:
        sql = new_sql()
        await conn().execute_query(
            f"DELETE FROM licences WHERE enterprise_id IN "
            f"({sql.in_list([ids[r.uscc] for r in licence_rows])})",
            sql.params,
        )
        items = [(ids[r.uscc], lic) for r in licence_rows for lic in r.licences]
        for start in range(0, len(items), 1000):
            sql = new_sql()
            values = ", ".join(
                "(" + ", ".join(sql.p(v) for v in (
                    eid, lic.kind, lic.number, lic.name, lic.issuer, lic.issued_on, lic.expires_on,
                )) + ")"
                for eid, lic in items[start:start + 1000]
            )
            await conn().execute_query(
                "INSERT INTO licences (enterprise_id, kind, number, name, issuer, issued_on, "
                f"expires_on) VALUES {values}",
                sql.params,
            )


async def enterprise_id_by_uscc(uscc: str) -> int | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT id FROM enterprises WHERE uscc = {sql.p(uscc)}", sql.params
    )
    return int(rows[0]["id"]) if rows else None


async def upsert_matter(matter: MatterInput, *, enterprise_id: int) -> str:
    """Returns created | updated | stale. A version older than (or as old as) the stored one
    never overwrites it: the WHERE on the conflict update makes that atomic."""
    sql = new_sql()
    key = f"source_system = {sql.p(matter.source_system)} AND external_id = {sql.p(matter.external_id)}"
    existing = await conn().execute_query_dict(f"SELECT id FROM matters WHERE {key}", sql.params)
    now = clock.now()
    sql = new_sql()
    values = ", ".join(sql.p(v) for v in (
        enterprise_id, matter.source_system, matter.external_id, matter.title, matter.state,
        matter.progress, matter.progress_label, matter.due_on, matter.action_url,
        matter.updated_at, now, now,
    ))
    columns = ("enterprise_id", "title", "state", "progress", "progress_label", "due_on",
               "action_url", "source_updated_at", "updated_at")
    returned = await conn().execute_query_dict(
        "INSERT INTO matters (enterprise_id, source_system, external_id, title, state, progress, "
        "progress_label, due_on, action_url, source_updated_at, created_at, updated_at) "
        f"VALUES ({values}) ON CONFLICT (source_system, external_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns)
        + " WHERE matters.source_updated_at < excluded.source_updated_at RETURNING id",
        sql.params,
    )
    if not returned:
        return "stale"
    return "updated" if existing else "created"


async def enterprise_ids_for_matter(source_system: str, external_id: str) -> list[int]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT enterprise_id FROM matters WHERE source_system = {sql.p(source_system)} "
        f"AND external_id = {sql.p(external_id)}",
        sql.params,
    )
    return [int(r["enterprise_id"]) for r in rows]


async def changed_since(since: dt.datetime) -> list[EnterpriseChange]:
    """Every enterprise written at or after `since`, as a change of every field (which fields
    changed is not recorded; re-matching treats them all as possibly relevant)."""
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT id, uscc FROM enterprises WHERE updated_at >= {sql.p(since)} ORDER BY id",
        sql.params)
    return [EnterpriseChange(str(r["uscc"]), int(r["id"]), True, frozenset()) for r in rows]


async def uscc_by_id(enterprise_id: int) -> str | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT uscc FROM enterprises WHERE id = {sql.p(enterprise_id)}", sql.params
    )
    return str(rows[0]["uscc"]) if rows else None


async def membership_role(person_id: int, uscc: str) -> str | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT m.role FROM memberships m JOIN enterprises e ON e.id = m.enterprise_id "
        f"WHERE m.person_id = {sql.p(person_id)} AND e.uscc = {sql.p(uscc)}",
        sql.params,
    )
    return str(rows[0]["role"]) if rows else None


async def memberships_of(person_id: int) -> list[dict[str, Any]]:
    sql = new_sql()
    return await conn().execute_query_dict(
        "SELECT e.uscc, e.name, m.role FROM memberships m JOIN enterprises e "
        f"ON e.id = m.enterprise_id WHERE m.person_id = {sql.p(person_id)} ORDER BY e.name",
        sql.params,
    )


_PAGE_ENTERPRISE_COLUMNS = (
    "id, uscc, name, zone, region_code, industry_code, size, registered_capital_yuan, "
    "established_on, status, credit_level, legal_representative, address, "
    "last_annual_report_year, legacy_uscc, updated_at"
)
_ENTERPRISE_KEYS = tuple(c.strip() for c in _PAGE_ENTERPRISE_COLUMNS.split(","))
_PAGE_LICENCE_COLUMNS = ("kind", "number", "name", "issuer", "issued_on", "expires_on")
_PAGE_MATTER_COLUMNS = ("source_system", "external_id", "title", "state", "progress",
                        "progress_label", "due_on", "action_url", "source_updated_at")
_PAGE_MATTER_STATES = "state IN ('submitted', 'in_review', 'needs_supplement')"


def _json_object(alias: str, columns: Sequence[str]) -> str:
    return "json_build_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in columns) + ")"


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page to load: the enterprise, and whose membership to check on the way (if any)."""
    uscc: str
    person_id: int | None


@dataclass(frozen=True, slots=True)
class PageRow:
    enterprise: dict[str, Any] | None  # None: no such enterprise
    role: str | None  # the asking person's membership role; None: not a member or not asked
    sections: list[list[Any]]  # each extra section's rows, in the order asked


def _page_statement(sections: Sequence[str]) -> str:
    """PostgreSQL: every page of a batch — profile, membership check and each section's rows —
    in ONE statement (the cold page's cost was round trips and per-statement overhead).
    Tags, licences, matters and section rows come back as JSON arrays in the enterprise's row;
    `$3` is the current instant for the sections' visibility conditions."""
    columns = ", ".join(f"e.{c}" for c in _ENTERPRISE_KEYS)
    extra = "".join(f", ({sql}) AS section_{i}" for i, sql in enumerate(sections))
    return (
        "SELECT (SELECT m.role FROM memberships m WHERE m.enterprise_id = e.id "
        "AND m.person_id = q.person_id) AS asker_role, $3::timestamptz AS rendered_at, "
        f"{columns}, "
        "(SELECT json_agg(t.tag ORDER BY t.tag) FROM enterprise_tags t "
        " WHERE t.enterprise_id = e.id) AS tags_json, "
        f"(SELECT json_agg({_json_object('l', _PAGE_LICENCE_COLUMNS)} ORDER BY l.expires_on) "
        " FROM licences l WHERE l.enterprise_id = e.id) AS licences_json, "
        f"(SELECT json_agg({_json_object('m', _PAGE_MATTER_COLUMNS)} "
        "  ORDER BY m.due_on, m.source_updated_at) "
        f" FROM matters m WHERE m.enterprise_id = e.id AND m.{_PAGE_MATTER_STATES}) "
        f"AS matters_json{extra} "
        "FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS q(uscc, person_id, ord) "
        "LEFT JOIN enterprises e ON e.uscc = q.uscc ORDER BY q.ord"
    )


_statements: dict[tuple[str, ...], str] = {}


async def page_rows(queries: Sequence[PageQuery], *, sections: Sequence[str],
                    now: dt.datetime) -> list[PageRow]:
    """PostgreSQL only (`is_postgres()`): the rows of a batch of pages in one statement, one
    PageRow per query in order. `sections` are scalar subqueries giving a section's rows for
    the enterprise `e` as a JSON array. Dates inside the JSON arrays arrive as ISO strings, as
    they do from SQLite."""
    key = tuple(sections)
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = _page_statement(sections)
    records = await fetch_records(
        statement, [[q.uscc for q in queries], [q.person_id for q in queries], now])
    result: list[PageRow] = []
    profile_end = 2 + len(_ENTERPRISE_KEYS)  # after asker_role and rendered_at
    for record in records:
        values = tuple(record)  # in the statement's column order
        role = values[0]
        if values[2] is None:  # no enterprise with this USCC
            result.append(PageRow(None, role, []))
            continue
        enterprise = dict(zip(_ENTERPRISE_KEYS, values[2:profile_end], strict=True))
        tags, licences, matters, *extra = (orjson.loads(value or "[]")
                                           for value in values[profile_end:])
        enterprise["tags"], enterprise["licences"], enterprise["matters"] = (
            tags, licences, matters)
        result.append(PageRow(enterprise, None if role is None else str(role), extra))
    return result


async def page_row(uscc: str) -> dict[str, Any] | None:
    """Any database, one enterprise: the profile part of its page in four indexed queries
    (SQLite runs in process: there are no round trips to save)."""
    fetch = conn().execute_query_dict
    sql = new_sql()
    rows = await fetch(
        f"SELECT {_PAGE_ENTERPRISE_COLUMNS} FROM enterprises WHERE uscc = {sql.p(uscc)}",
        sql.params)
    if not rows:
        return None
    enterprise = dict(rows[0])
    sql = new_sql()
    eid = sql.p(enterprise["id"])
    tags = await fetch(
        f"SELECT tag FROM enterprise_tags WHERE enterprise_id = {eid} ORDER BY tag", sql.params
    )
    licences = await fetch(
        f"SELECT {', '.join(_PAGE_LICENCE_COLUMNS)} FROM licences "
        f"WHERE enterprise_id = {eid} ORDER BY expires_on", sql.params
    )
    matters = await fetch(
        f"SELECT {', '.join(_PAGE_MATTER_COLUMNS)} FROM matters "
        f"WHERE enterprise_id = {eid} AND {_PAGE_MATTER_STATES} "
        "ORDER BY due_on, source_updated_at",
        sql.params,
    )
    enterprise["tags"] = [t["tag"] for t in tags]
    enterprise["licences"] = licences
    enterprise["matters"] = matters
    return enterprise
