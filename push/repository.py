"""Every query of the push domain.

Fan-out is set-based: deliveries are written with one INSERT … SELECT per publish / match /
reminder batch, claimed with one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)
RETURNING per batch, and their outcomes recorded with one UPDATE … FROM (a VALUES list, or
unnest of arrays on PostgreSQL) per flush. Nothing here loops over enterprises or devices.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from core.db import Sql, conn, new_sql
from notices.repository import as_date, as_datetime, as_json, id_list, insert_count, typed
from push.messages import MessageRow

# ------------------------------------------------------------------------------ helpers


def _pairs_in(sql: Sql, columns: tuple[str, str], pairs: Sequence[tuple[int, str]]) -> str:
    """`(a, b) IN (…pairs…)` with one parameter per column on PostgreSQL (arrays)."""
    left = f"({columns[0]}, {columns[1]})"
    if sql.postgres:
        return (f"{left} IN (SELECT * FROM unnest(CAST({sql.p([p[0] for p in pairs])} AS BIGINT[]), "
                f"CAST({sql.p([p[1] for p in pairs])} AS VARCHAR[])))")
    values = ", ".join(f"({sql.p(a)}, {sql.p(b)})" for a, b in pairs)
    return f"{left} IN (VALUES {values})"


async def _queue_query(text: str, params: list[Any], *, rows: bool = True) -> Any:
    """Run a statement on the delivery queue with a plan made for this execution. The queue
    swings from empty to a million rows in one publish; a generic plan cached while it was
    empty (asyncpg prepares every statement) would join the million rows by nested loop and
    stall for minutes until autoanalyze. SQLite has no plan cache."""
    client = conn()
    if client.capabilities.dialect != "postgres":
        return await (client.execute_query_dict(text, params) if rows
                      else client.execute_query(text, params))
    async with in_transaction():
        await conn().execute_script("SET LOCAL plan_cache_mode = force_custom_plan")
        return await (conn().execute_query_dict(text, params) if rows
                      else conn().execute_query(text, params))


# ------------------------------------------------------------------------------ devices


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: int
    person_id: int
    channel: str
    token: str
    platform: str
    installation_id: str | None
    app_version: str | None
    locale: str
    active: bool
    deactivated_reason: str | None
    last_seen_at: dt.datetime | None
    created_at: dt.datetime | None


_DEVICE_COLUMNS = ("id, person_id, channel, token, platform, installation_id, app_version, "
                   "locale, active, deactivated_reason, last_seen_at, created_at")


def _device(row: Mapping[str, Any]) -> DeviceRow:
    return DeviceRow(
        id=int(row["id"]), person_id=int(row["person_id"]), channel=str(row["channel"]),
        token=str(row["token"]), platform=str(row["platform"]),
        installation_id=row["installation_id"], app_version=row["app_version"],
        locale=str(row["locale"]), active=bool(row["active"]),
        deactivated_reason=row["deactivated_reason"],
        last_seen_at=as_datetime(row["last_seen_at"]), created_at=as_datetime(row["created_at"]),
    )


async def device_by_token(channel: str, token: str) -> DeviceRow | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE channel = {sql.p(channel)} "
        f"AND token = {sql.p(token)}", sql.params)
    return _device(rows[0]) if rows else None


async def device_of(person_id: int, device_id: int) -> DeviceRow | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE id = {sql.p(device_id)} "
        f"AND person_id = {sql.p(person_id)}", sql.params)
    return _device(rows[0]) if rows else None


async def replaceable_device(person_id: int, channel: str, *, replaces: str | None,
                             installation_id: str | None) -> DeviceRow | None:
    """The person's device a refreshed token replaces: named by its old token, or the same
    installation."""
    if replaces is None and installation_id is None:
        return None
    sql = new_sql()
    head = (f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE person_id = {sql.p(person_id)} "
            f"AND channel = {sql.p(channel)}")
    match = []
    if replaces is not None:
        match.append(f"token = {sql.p(replaces)}")
    if installation_id is not None:
        match.append(f"installation_id = {sql.p(installation_id)}")
    rows = await conn().execute_query_dict(
        f"{head} AND ({' OR '.join(match)}) ORDER BY active DESC, last_seen_at DESC LIMIT 1",
        sql.params)
    return _device(rows[0]) if rows else None


async def insert_device(person_id: int, *, channel: str, token: str, platform: str,
                        installation_id: str | None, app_version: str | None, locale: str,
                        now: dt.datetime) -> int:
    sql = new_sql()
    values = ", ".join(sql.p(v) for v in (person_id, channel, token, platform, installation_id,
                                          app_version, locale, True, now, now, now))
    rows = await conn().execute_query_dict(
        "INSERT INTO devices (person_id, channel, token, platform, installation_id, "
        "app_version, locale, active, last_seen_at, created_at, updated_at) "
        f"VALUES ({values}) RETURNING id", sql.params)
    return int(rows[0]["id"])


async def update_device(device_id: int, *, person_id: int, token: str, platform: str,
                        installation_id: str | None, app_version: str | None, locale: str,
                        now: dt.datetime) -> None:
    """Re-activate and refresh a device in place: keeping its id keeps its pending deliveries."""
    sql = new_sql()
    await conn().execute_query(
        f"UPDATE devices SET person_id = {sql.p(person_id)}, token = {sql.p(token)}, "
        f"platform = {sql.p(platform)}, "
        f"installation_id = COALESCE({sql.p(installation_id)}, installation_id), "
        f"app_version = COALESCE({sql.p(app_version)}, app_version), locale = {sql.p(locale)}, "
        f"active = TRUE, deactivated_reason = NULL, last_seen_at = {sql.p(now)}, "
        f"updated_at = {sql.p(now)} WHERE id = {sql.p(device_id)}", sql.params)


async def deactivate_devices(device_ids: Sequence[int], *, reason: str,
                             now: dt.datetime, person_id: int | None = None) -> int:
    if not device_ids:
        return 0
    sql = new_sql()
    text = (f"UPDATE devices SET active = FALSE, deactivated_reason = {sql.p(reason)}, "
            f"updated_at = {sql.p(now)} WHERE {id_list(sql, 'id', device_ids)} AND active")
    if person_id is not None:
        text += f" AND person_id = {sql.p(person_id)}"
    count, _ = await conn().execute_query(text, sql.params)
    return int(count)


async def devices_of(person_id: int) -> list[DeviceRow]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE person_id = {sql.p(person_id)} "
        "ORDER BY active DESC, last_seen_at DESC, id", sql.params)
    return [_device(r) for r in rows]


async def count_devices(enterprise_ids_sql: str, params: list[Any]) -> int:
    """Active devices of active people in the enterprises the sub-query selects."""
    rows = await conn().execute_query_dict(
        "SELECT COUNT(DISTINCT d.id) AS n FROM memberships m "
        "JOIN people p ON p.id = m.person_id "
        "JOIN devices d ON d.person_id = m.person_id "
        f"WHERE p.active AND d.active AND m.enterprise_id IN ({enterprise_ids_sql})", params)
    return int(rows[0]["n"])


# ------------------------------------------------------------------------------ WeChat


@dataclass(frozen=True, slots=True)
class IdentityRow:
    openid: str
    person_id: int
    unionid: str | None


async def identity_by_openid(openid: str) -> IdentityRow | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT i.openid, i.person_id, i.unionid FROM wechat_identities i "
        f"JOIN people p ON p.id = i.person_id WHERE i.openid = {sql.p(openid)} AND p.active",
        sql.params)
    if not rows:
        return None
    return IdentityRow(str(rows[0]["openid"]), int(rows[0]["person_id"]), rows[0]["unionid"])


async def upsert_identity(openid: str, *, person_id: int, unionid: str | None,
                          now: dt.datetime) -> int | None:
    """Bind (or move) an openid to a person; returns the person it was bound to before."""
    sql = new_sql()
    before = await conn().execute_query_dict(
        f"SELECT person_id FROM wechat_identities WHERE openid = {sql.p(openid)}", sql.params)
    sql = new_sql()
    values = ", ".join(sql.p(v) for v in (openid, unionid, person_id, now, now))
    await conn().execute_query(
        "INSERT INTO wechat_identities (openid, unionid, person_id, bound_at, last_login_at) "
        f"VALUES ({values}) ON CONFLICT (openid) DO UPDATE SET "
        "person_id = excluded.person_id, unionid = COALESCE(excluded.unionid, "
        "wechat_identities.unionid), bound_at = CASE WHEN wechat_identities.person_id = "
        "excluded.person_id THEN wechat_identities.bound_at ELSE excluded.bound_at END",
        sql.params)
    return int(before[0]["person_id"]) if before else None


async def touch_identity(openid: str, now: dt.datetime) -> None:
    sql = new_sql()
    await conn().execute_query(
        f"UPDATE wechat_identities SET last_login_at = {sql.p(now)} "
        f"WHERE openid = {sql.p(openid)}", sql.params)


async def openids_of(person_id: int) -> set[str]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT openid FROM wechat_identities WHERE person_id = {sql.p(person_id)}", sql.params)
    return {str(r["openid"]) for r in rows}


async def delete_identities(person_id: int) -> list[str]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"DELETE FROM wechat_identities WHERE person_id = {sql.p(person_id)} RETURNING openid",
        sql.params)
    return [str(r["openid"]) for r in rows]


@dataclass(frozen=True, slots=True)
class ConsentRow:
    device_id: int
    template_id: str
    remaining: int
    status: str
    accepted_total: int
    consumed_total: int
    updated_at: dt.datetime | None


async def add_consent_results(device_id: int, results: Mapping[str, str],
                              now: dt.datetime) -> None:
    """accept: one more credit; reject: no change to credits; ban: credits void."""
    for template_id, result in results.items():
        accepted = 1 if result == "accept" else 0
        sql = new_sql()
        values = ", ".join(sql.p(v) for v in (device_id, template_id, accepted, result,
                                              accepted, 0, now))
        remaining = ("0" if result == "ban"
                     else "wechat_consents.remaining + excluded.remaining")
        await conn().execute_query(
            "INSERT INTO wechat_consents (device_id, template_id, remaining, status, "
            f"accepted_total, consumed_total, updated_at) VALUES ({values}) "
            f"ON CONFLICT (device_id, template_id) DO UPDATE SET remaining = {remaining}, "
            "status = excluded.status, accepted_total = wechat_consents.accepted_total + "
            "excluded.accepted_total, updated_at = excluded.updated_at", sql.params)


async def consents_of(device_ids: Sequence[int]) -> list[ConsentRow]:
    if not device_ids:
        return []
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT device_id, template_id, remaining, status, accepted_total, consumed_total, "
        f"updated_at FROM wechat_consents WHERE {id_list(sql, 'device_id', device_ids)} "
        "ORDER BY device_id, template_id", sql.params)
    return [ConsentRow(int(r["device_id"]), str(r["template_id"]), int(r["remaining"]),
                       str(r["status"]), int(r["accepted_total"]), int(r["consumed_total"]),
                       as_datetime(r["updated_at"])) for r in rows]


async def consume_consents(pairs: Sequence[tuple[int, str]],
                           now: dt.datetime) -> set[tuple[int, str]]:
    """Take one credit from each (device, template) that has one left; returns those that
    did. One conditional UPDATE: two workers can never spend the same credit. Pairs must be
    distinct."""
    if not pairs:
        return set()
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"UPDATE wechat_consents SET remaining = remaining - 1, "
        f"consumed_total = consumed_total + 1, updated_at = {sql.p(now)} "
        f"WHERE remaining > 0 AND {_pairs_in(sql, ('device_id', 'template_id'), pairs)} "
        "RETURNING device_id, template_id", sql.params)
    return {(int(r["device_id"]), str(r["template_id"])) for r in rows}


async def refund_consents(pairs: Sequence[tuple[int, str]], now: dt.datetime) -> None:
    """A consumed credit whose send did not reach WeChat's user is given back."""
    if not pairs:
        return
    sql = new_sql()
    await conn().execute_query(
        f"UPDATE wechat_consents SET remaining = remaining + 1, "
        f"consumed_total = consumed_total - 1, updated_at = {sql.p(now)} "
        f"WHERE status <> 'refused' AND status <> 'ban' AND "
        f"{_pairs_in(sql, ('device_id', 'template_id'), pairs)}", sql.params)


async def refuse_consents(pairs: Sequence[tuple[int, str]], now: dt.datetime) -> None:
    """WeChat answered 43101: nothing more is spent on these until the user accepts again."""
    if not pairs:
        return
    sql = new_sql()
    await conn().execute_query(
        f"UPDATE wechat_consents SET remaining = 0, status = 'refused', "
        f"updated_at = {sql.p(now)} WHERE "
        f"{_pairs_in(sql, ('device_id', 'template_id'), pairs)}", sql.params)


# -------------------------------------------------------------------------- preferences


@dataclass(frozen=True, slots=True)
class QuietWindow:
    start_minute: int
    end_minute: int
    timezone: str


async def preferences_of(person_id: int) -> list[tuple[str, str, bool]]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT kind, channel, enabled FROM push_preferences "
        f"WHERE person_id = {sql.p(person_id)} ORDER BY kind, channel", sql.params)
    return [(str(r["kind"]), str(r["channel"]), bool(r["enabled"])) for r in rows]


async def quiet_window_of(person_id: int) -> QuietWindow | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT start_minute, end_minute, timezone FROM push_quiet_hours "
        f"WHERE person_id = {sql.p(person_id)}", sql.params)
    if not rows:
        return None
    return QuietWindow(int(rows[0]["start_minute"]), int(rows[0]["end_minute"]),
                       str(rows[0]["timezone"]))


async def put_preferences(person_id: int, items: Sequence[tuple[str, str, bool]],
                          now: dt.datetime) -> None:
    if not items:
        return
    sql = new_sql()
    values = ", ".join(
        f"({sql.p(person_id)}, {sql.p(kind)}, {sql.p(channel)}, {sql.p(enabled)}, {sql.p(now)})"
        for kind, channel, enabled in items)
    await conn().execute_query(
        "INSERT INTO push_preferences (person_id, kind, channel, enabled, updated_at) "
        f"VALUES {values} ON CONFLICT (person_id, kind, channel) DO UPDATE SET "
        "enabled = excluded.enabled, updated_at = excluded.updated_at", sql.params)


async def put_quiet_window(person_id: int, window: QuietWindow | None,
                           now: dt.datetime) -> None:
    sql = new_sql()
    if window is None:
        await conn().execute_query(
            f"DELETE FROM push_quiet_hours WHERE person_id = {sql.p(person_id)}", sql.params)
        return
    values = ", ".join(sql.p(v) for v in (person_id, window.start_minute, window.end_minute,
                                          window.timezone, now))
    await conn().execute_query(
        "INSERT INTO push_quiet_hours (person_id, start_minute, end_minute, timezone, "
        f"updated_at) VALUES ({values}) ON CONFLICT (person_id) DO UPDATE SET "
        "start_minute = excluded.start_minute, end_minute = excluded.end_minute, "
        "timezone = excluded.timezone, updated_at = excluded.updated_at", sql.params)


# ----------------------------------------------------------------------------- messages


async def ensure_message(*, dedupe_key: str, source: str, source_id: int | None, kind: str,
                         urgent: bool, title: str, body: str, data: Mapping[str, str],
                         now: dt.datetime) -> int:
    """The id of the message with this key, created on first use (safe under concurrency)."""
    sql = new_sql()
    values = ", ".join(sql.p(v) for v in (dedupe_key, source, source_id, kind, urgent,
                                          title[:200], body[:1000], json.dumps(dict(data)), now))
    rows = await conn().execute_query_dict(
        "INSERT INTO push_messages (dedupe_key, source, source_id, kind, urgent, title, body, "
        f"data, created_at) VALUES ({values}) ON CONFLICT (dedupe_key) DO NOTHING "
        "RETURNING id", sql.params)
    if rows:
        return int(rows[0]["id"])
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT id FROM push_messages WHERE dedupe_key = {sql.p(dedupe_key)}", sql.params)
    return int(rows[0]["id"])


async def load_messages(ids: Sequence[int]) -> list[MessageRow]:
    if not ids:
        return []
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT id, source, source_id, kind, urgent, title, body, data, created_at "
        f"FROM push_messages WHERE {id_list(sql, 'id', ids)}", sql.params)
    result = []
    for row in rows:
        data = as_json(row["data"]) or {}
        created = as_datetime(row["created_at"])
        assert created is not None
        result.append(MessageRow(
            id=int(row["id"]), source=str(row["source"]),
            source_id=None if row["source_id"] is None else int(row["source_id"]),
            kind=str(row["kind"]), urgent=bool(row["urgent"]), title=str(row["title"]),
            body=str(row["body"]), data={str(k): str(v) for k, v in dict(data).items()},
            created_at=created,
        ))
    return result


# --------------------------------------------------------------------------- deliveries


@dataclass(frozen=True, slots=True)
class Fanout:
    """Where the people of a delivery batch come from: `FROM {table} {alias} WHERE where(sql)`,
    each row naming an enterprise (`enterprise_column`) and the source row (`source_column`).
    The message is a constant id (`message_id`) or a column of the row (`message_column`)."""

    source: str
    table: str
    alias: str
    where: Callable[[Sql], str]
    source_column: str
    enterprise_column: str
    kind: str
    urgent: bool
    template_id: str
    message_id: int | None = None
    message_column: str | None = None


async def insert_deliveries(fan: Fanout, *, now: dt.datetime) -> int:
    """ONE INSERT … SELECT from the source rows through memberships and devices, with the
    person's preference and (WeChat) consent decided in the same statement: opted-out devices
    and mini-programs without a credit are written as `skipped` with the reason, so statistics
    show them and nothing is sent. A person reached through two enterprises gets one delivery
    per device (the unique key absorbs the second). Returns the rows written."""
    sql = new_sql()
    a = fan.alias
    message = (fan.message_column if fan.message_column is not None
               else typed(sql, fan.message_id, "BIGINT"))
    source = typed(sql, fan.source, "VARCHAR")
    urgent = "TRUE" if fan.urgent else "FALSE"
    opted_out = "pf.enabled IS NOT NULL AND NOT pf.enabled"
    no_consent = "d.channel = 'wechat' AND COALESCE(c.remaining, 0) <= 0"
    select = (
        f"SELECT {message}, {source}, {a}.{fan.source_column}, {a}.{fan.enterprise_column}, "
        f"m.person_id, d.id, d.channel, {urgent}, "
        f"CASE WHEN {opted_out} THEN 'skipped' WHEN {no_consent} THEN 'skipped' "
        "ELSE 'pending' END, "
        f"CASE WHEN {opted_out} THEN 'preference_off' WHEN {no_consent} THEN 'no_consent' "
        # One parameter per occurrence, in text order (SQLite's `?` are positional).
        f"ELSE NULL END, 0, {typed(sql, now, 'TIMESTAMPTZ')}, FALSE, "
        f"{typed(sql, now, 'TIMESTAMPTZ')}, {typed(sql, now, 'TIMESTAMPTZ')} "
    )
    joins = (
        f"FROM {fan.table} {a} "
        f"JOIN memberships m ON m.enterprise_id = {a}.{fan.enterprise_column} "
        "JOIN people p ON p.id = m.person_id "
        "JOIN devices d ON d.person_id = m.person_id "
        "LEFT JOIN push_preferences pf ON pf.person_id = m.person_id "
        f"AND pf.kind = {sql.p(fan.kind)} AND pf.channel = d.channel "
        "LEFT JOIN wechat_consents c ON c.device_id = d.id "
        f"AND c.template_id = {sql.p(fan.template_id)} "
    )
    where = f"WHERE p.active AND d.active AND {fan.where(sql)} "
    text = (
        "INSERT INTO deliveries (message_id, source, source_id, enterprise_id, person_id, "
        "device_id, channel, urgent, status, reason, attempts, next_attempt_at, "
        "possibly_duplicate, created_at, updated_at) "
        + select + joins + where
        # In device order the unique index grows at its right edge instead of taking a
        # million random inserts: 30 s → 19 s for 1.07 M rows on the benchmark machine.
        + "ORDER BY d.id ON CONFLICT (source, source_id, device_id) DO NOTHING"
    )
    return await insert_count(text, sql.params)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    message_id: int
    source: str
    source_id: int
    device_id: int
    person_id: int
    channel: str
    urgent: bool
    attempts: int
    possibly_duplicate: bool


async def claim(worker_id: str, *, limit: int, channels: Sequence[str], now: dt.datetime,
                lease_until: dt.datetime) -> list[Claimed]:
    """Claim up to `limit` due deliveries: status → sending, leased to this worker. On
    PostgreSQL the inner SELECT … FOR UPDATE SKIP LOCKED lets any number of workers claim at
    once without ever taking the same row; SQLite has one writer, so the conditional UPDATE
    alone is enough. The lease expiry is kept in next_attempt_at as well, so expired leases sit
    on the same index as due rows."""
    if not channels:
        return []
    sql = new_sql()
    sets = (f"status = 'sending', claimed_by = {sql.p(worker_id)}, "
            f"lease_until = {sql.p(lease_until)}, next_attempt_at = {sql.p(lease_until)}, "
            f"attempts = attempts + 1, updated_at = {sql.p(now)}")
    due = (f"status IN ('failed', 'pending') AND next_attempt_at <= {sql.p(now)} "
           f"AND channel IN ({sql.in_list(list(channels))})")
    columns = ("id", "message_id", "source", "source_id", "device_id", "person_id", "channel",
               "urgent", "attempts", "possibly_duplicate")
    if sql.postgres:
        # The locking sub-select as a CTE: it runs exactly once (a sub-select in IN (…) may be
        # re-run per outer row by a generic plan, locking a different set each time).
        text = (f"WITH picked AS (SELECT id FROM deliveries WHERE {due} "
                f"LIMIT {sql.p(limit)} FOR UPDATE SKIP LOCKED) "
                f"UPDATE deliveries d SET {sets} FROM picked WHERE d.id = picked.id "
                f"RETURNING {', '.join(f'd.{c}' for c in columns)}")
    else:
        text = (f"UPDATE deliveries SET {sets} WHERE id IN (SELECT id FROM deliveries "
                f"WHERE {due} LIMIT {sql.p(limit)}) RETURNING {', '.join(columns)}")
    rows = await _queue_query(text, sql.params)
    return [Claimed(int(r["id"]), int(r["message_id"]), str(r["source"]), int(r["source_id"]),
                    int(r["device_id"]), int(r["person_id"]), str(r["channel"]),
                    bool(r["urgent"]), int(r["attempts"]), bool(r["possibly_duplicate"]))
            for r in rows]


@dataclass(frozen=True, slots=True)
class Target:
    token: str
    active: bool
    person_id: int
    quiet: QuietWindow | None


async def targets(device_ids: Sequence[int]) -> dict[int, Target]:
    """Tokens, activity and the owner's quiet hours for a claimed batch, in one query."""
    if not device_ids:
        return {}
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT d.id, d.token, d.active, d.person_id, q.start_minute, q.end_minute, q.timezone "
        "FROM devices d LEFT JOIN push_quiet_hours q ON q.person_id = d.person_id "
        f"WHERE {id_list(sql, 'd.id', device_ids)}", sql.params)
    return {
        int(r["id"]): Target(
            str(r["token"]), bool(r["active"]), int(r["person_id"]),
            None if r["start_minute"] is None else
            QuietWindow(int(r["start_minute"]), int(r["end_minute"]), str(r["timezone"])))
        for r in rows
    }


async def stale_sources(notice_ids: Sequence[int], policy_ids: Sequence[int],
                        now: dt.datetime) -> dict[tuple[str, int], str]:
    """Notices recalled or expired and policies withdrawn since their deliveries were made:
    those deliveries are skipped instead of sent."""
    stale: dict[tuple[str, int], str] = {}
    if notice_ids:
        sql = new_sql()
        rows = await conn().execute_query_dict(
            "SELECT id, status, recalled_at, expire_at FROM notices "
            f"WHERE {id_list(sql, 'id', notice_ids)} AND (status = 'recalled' "
            f"OR recalled_at IS NOT NULL OR (expire_at IS NOT NULL AND expire_at <= "
            f"{sql.p(now)}))", sql.params)
        for r in rows:
            recalled = r["status"] == "recalled" or r["recalled_at"] is not None
            stale[("notice", int(r["id"]))] = "recalled" if recalled else "expired"
    if policy_ids:
        sql = new_sql()
        rows = await conn().execute_query_dict(
            f"SELECT id FROM policies WHERE {id_list(sql, 'id', policy_ids)} "
            "AND status = 'withdrawn'", sql.params)
        for r in rows:
            stale[("policy", int(r["id"]))] = "withdrawn"
    return stale


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to write for one claimed delivery. `attempt_adjust` -1 undoes the claim's count
    when the delivery was deferred without a send (quiet hours, paused channel)."""

    id: int
    status: str
    reason: str | None = None
    provider_message_id: str | None = None
    error: str | None = None
    next_attempt_at: dt.datetime | None = None
    attempt_adjust: int = 0


async def record(worker_id: str, outcomes: Sequence[Outcome], now: dt.datetime) -> int:
    """One UPDATE for a whole flush of outcomes, only on rows this worker still holds (a row
    whose lease expired and was re-claimed elsewhere is not overwritten)."""
    if not outcomes:
        return 0
    sql = new_sql()  # parameters in text order: SQLite's `?` are positional
    text = (
        "UPDATE deliveries SET status = v.vstatus, reason = v.vreason, "
        "provider_message_id = COALESCE(v.vmid, provider_message_id), last_error = v.verr, "
        "next_attempt_at = COALESCE(v.vnext, next_attempt_at), "
        "attempts = attempts + v.vadj, claimed_by = NULL, lease_until = NULL, "
        f"sent_at = CASE WHEN v.vstatus = 'sent' THEN {sql.p(now)} ELSE sent_at END, "
        f"updated_at = {sql.p(now)} FROM "
    )
    if sql.postgres:
        text += (
            "unnest("
            f"CAST({sql.p([o.id for o in outcomes])} AS BIGINT[]), "
            f"CAST({sql.p([o.status for o in outcomes])} AS VARCHAR[]), "
            f"CAST({sql.p([o.reason for o in outcomes])} AS VARCHAR[]), "
            f"CAST({sql.p([o.provider_message_id for o in outcomes])} AS VARCHAR[]), "
            f"CAST({sql.p([o.error for o in outcomes])} AS VARCHAR[]), "
            f"CAST({sql.p([o.next_attempt_at for o in outcomes])} AS TIMESTAMPTZ[]), "
            f"CAST({sql.p([o.attempt_adjust for o in outcomes])} AS INT[])"
            ") AS v(vid, vstatus, vreason, vmid, verr, vnext, vadj) "
        )
    else:
        rows = ", ".join(
            "(" + ", ".join(sql.p(x) for x in (o.id, o.status, o.reason, o.provider_message_id,
                                                 o.error, o.next_attempt_at, o.attempt_adjust))
            + ")" for o in outcomes)
        text += ("(SELECT column1 AS vid, column2 AS vstatus, column3 AS vreason, "
                 "column4 AS vmid, column5 AS verr, column6 AS vnext, column7 AS vadj "
                 f"FROM (VALUES {rows})) AS v ")
    text += ("WHERE deliveries.id = v.vid AND deliveries.status = 'sending' "
             f"AND deliveries.claimed_by = {sql.p(worker_id)}")
    count, _ = await _queue_query(text, sql.params, rows=False)
    return int(count)


async def extend_leases(worker_id: str, *, lease_until: dt.datetime) -> int:
    """Heartbeat: a live worker keeps its rows however long a slow provider takes."""
    sql = new_sql()
    count, _ = await _queue_query(
        f"UPDATE deliveries SET lease_until = {sql.p(lease_until)}, "
        f"next_attempt_at = {sql.p(lease_until)} "
        f"WHERE status = 'sending' AND claimed_by = {sql.p(worker_id)}", sql.params, rows=False)
    return int(count)


async def release_expired_leases(now: dt.datetime) -> int:
    """Rows whose worker died mid-send become claimable again, flagged possibly_duplicate: the
    provider may have received them before the worker could record it."""
    sql = new_sql()
    count, _ = await _queue_query(
        "UPDATE deliveries SET status = 'pending', possibly_duplicate = TRUE, claimed_by = NULL, "
        f"lease_until = NULL, reason = 'lease_expired', updated_at = {sql.p(now)} "
        f"WHERE status = 'sending' AND next_attempt_at < {sql.p(now)}", sql.params, rows=False)
    return int(count)


async def pause_channel(channel: str, *, until: dt.datetime, reason: str,
                        now: dt.datetime) -> None:
    sql = new_sql()
    values = ", ".join(sql.p(v) for v in (channel, until, reason, now))
    later = ("GREATEST(push_channel_pauses.paused_until, excluded.paused_until)" if sql.postgres
             else "MAX(push_channel_pauses.paused_until, excluded.paused_until)")
    await conn().execute_query(
        "INSERT INTO push_channel_pauses (channel, paused_until, reason, updated_at) "
        f"VALUES ({values}) ON CONFLICT (channel) DO UPDATE SET paused_until = {later}, "
        "reason = excluded.reason, updated_at = excluded.updated_at", sql.params)


async def channel_pauses(now: dt.datetime) -> dict[str, dt.datetime]:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT channel, paused_until FROM push_channel_pauses "
        f"WHERE paused_until > {sql.p(now)}", sql.params)
    result = {}
    for r in rows:
        until = as_datetime(r["paused_until"])
        assert until is not None
        result[str(r["channel"])] = until
    return result


async def delivery_counts(source: str,
                          source_id: int) -> list[tuple[str, str, str | None, bool, int]]:
    """(channel, status, reason, possibly_duplicate, count) for one notice / policy."""
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT channel, status, reason, possibly_duplicate, COUNT(*) AS n FROM deliveries "
        f"WHERE source = {sql.p(source)} AND source_id = {sql.p(source_id)} "
        "GROUP BY channel, status, reason, possibly_duplicate", sql.params)
    return [(str(r["channel"]), str(r["status"]), r["reason"], bool(r["possibly_duplicate"]),
             int(r["n"])) for r in rows]


# ---------------------------------------------------------------------------- reminders


def reminder_insert(sql: Sql, *, kind: str, select: Callable[[Sql], str], offset_days: int,
                    batch: str, now: dt.datetime) -> str:
    """`INSERT INTO reminder_sends … SELECT enterprise_id, reminder_key, due_on FROM (select)
    … ON CONFLICT DO NOTHING`: the unique (enterprise, key, offset) makes each reminder fire
    exactly once per offset, whoever runs the scheduler and however often. `select(sql)` is
    called where its text goes, so its parameters follow the INSERT's own."""
    head = (
        "INSERT INTO reminder_sends (enterprise_id, reminder_key, offset_days, kind, due_on, "
        f"batch, created_at) SELECT s.enterprise_id, s.reminder_key, "
        f"{typed(sql, offset_days, 'SMALLINT')}, {typed(sql, kind, 'VARCHAR')}, s.due_on, "
        f"{typed(sql, batch, 'VARCHAR')}, {typed(sql, now, 'TIMESTAMPTZ')} FROM "
    )
    return (head + f"({select(sql)}) s WHERE TRUE "
            "ON CONFLICT (enterprise_id, reminder_key, offset_days) DO NOTHING")


def as_text(column: str) -> str:
    """A column as text for building keys; dates render as YYYY-MM-DD on both dialects."""
    return f"CAST({column} AS VARCHAR)"


async def reminder_due_dates(batch: str) -> list[tuple[str, int, dt.date, str]]:
    """(kind, offset, due_on, key prefix) groups of one scheduler batch: one message each."""
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT kind, offset_days, due_on, MIN(reminder_key) AS sample FROM reminder_sends "
        f"WHERE batch = {sql.p(batch)} GROUP BY kind, offset_days, due_on", sql.params)
    result = []
    for r in rows:
        due = as_date(r["due_on"])
        assert due is not None
        result.append((str(r["kind"]), int(r["offset_days"]), due, str(r["sample"])))
    return result


async def set_reminder_message(batch: str, *, kind: str, offset_days: int, due_on: dt.date,
                               message_id: int) -> None:
    sql = new_sql()
    await conn().execute_query(
        f"UPDATE reminder_sends SET message_id = {sql.p(message_id)} WHERE batch = "
        f"{sql.p(batch)} AND kind = {sql.p(kind)} AND offset_days = {sql.p(offset_days)} "
        f"AND due_on = {sql.p(due_on)}", sql.params)


# ------------------------------------------------------------------------------ outbox


async def enqueue_event(topic: str, payload: Mapping[str, Any], now: dt.datetime) -> None:
    sql = new_sql()
    await conn().execute_query(
        "INSERT INTO push_outbox (topic, payload, created_at) VALUES "
        f"({sql.p(topic)}, {sql.p(json.dumps(dict(payload)))}, {sql.p(now)})", sql.params)


async def take_events(limit: int) -> list[tuple[int, str, Any]]:
    """Oldest committed events, locked for this relay (call inside a transaction)."""
    sql = new_sql()
    lock = " FOR UPDATE SKIP LOCKED" if sql.postgres else ""
    rows = await conn().execute_query_dict(
        f"SELECT id, topic, payload FROM push_outbox ORDER BY id LIMIT {sql.p(limit)}{lock}",
        sql.params)
    return [(int(r["id"]), str(r["topic"]), as_json(r["payload"])) for r in rows]


async def delete_events(ids: Iterable[int]) -> None:
    ids = list(ids)
    if not ids:
        return
    sql = new_sql()
    await conn().execute_query(f"DELETE FROM push_outbox WHERE {id_list(sql, 'id', ids)}",
                               sql.params)


# ---------------------------------------------------------------------- scheduler marks


async def claim_mark(name: str, *, token: str, now: dt.datetime, due_before: dt.datetime,
                     lease_until: dt.datetime, first_since: dt.datetime) -> dt.datetime | None:
    """Take the next run of the shared job `name` for `token`: only when its mark is at or
    before `due_before` and no run holds an unexpired lease. Returns the mark (done until), or
    None when the job is not due or is held. One conditional UPDATE decides, so of any number
    of workers exactly one wins (PostgreSQL re-checks the WHERE after a concurrent update;
    SQLite has one writer); the very first run inserts the row, starting at `first_since`."""
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"UPDATE push_scheduler_marks SET claimed_by = {sql.p(token)}, "
        f"lease_until = {sql.p(lease_until)}, updated_at = {sql.p(now)} "
        f"WHERE name = {sql.p(name)} AND done_until <= {sql.p(due_before)} "
        f"AND (lease_until IS NULL OR lease_until <= {sql.p(now)}) RETURNING done_until",
        sql.params)
    if not rows:
        sql = new_sql()
        values = ", ".join(sql.p(v) for v in (name, first_since, token, lease_until, now))
        rows = await conn().execute_query_dict(
            "INSERT INTO push_scheduler_marks (name, done_until, claimed_by, lease_until, "
            f"updated_at) VALUES ({values}) ON CONFLICT (name) DO NOTHING RETURNING done_until",
            sql.params)
    if not rows:
        return None
    since = as_datetime(rows[0]["done_until"])
    assert since is not None
    return since


async def extend_mark(name: str, *, token: str, lease_until: dt.datetime) -> bool:
    """Heartbeat of a long run; False once the lease was lost (expired and taken)."""
    sql = new_sql()
    count, _ = await conn().execute_query(
        f"UPDATE push_scheduler_marks SET lease_until = {sql.p(lease_until)} "
        f"WHERE name = {sql.p(name)} AND claimed_by = {sql.p(token)}", sql.params)
    return int(count) > 0


async def complete_mark(name: str, *, token: str, until: dt.datetime, by: str,
                        now: dt.datetime) -> bool:
    """Move the mark to `until` and free the job; False if this run no longer held it."""
    sql = new_sql()
    count, _ = await conn().execute_query(
        f"UPDATE push_scheduler_marks SET done_until = {sql.p(until)}, done_by = {sql.p(by)}, "
        f"claimed_by = NULL, lease_until = NULL, updated_at = {sql.p(now)} "
        f"WHERE name = {sql.p(name)} AND claimed_by = {sql.p(token)}", sql.params)
    return int(count) > 0


async def release_mark(name: str, *, token: str, retry_at: dt.datetime,
                       now: dt.datetime) -> None:
    """A failed run leaves the mark where it was, so the next run redoes all of it; the job is
    free again at `retry_at` (for every worker, so a persistent failure is retried once per
    interval, not by each worker at each check)."""
    sql = new_sql()
    await conn().execute_query(
        f"UPDATE push_scheduler_marks SET claimed_by = NULL, lease_until = {sql.p(retry_at)}, "
        f"updated_at = {sql.p(now)} WHERE name = {sql.p(name)} AND claimed_by = {sql.p(token)}",
        sql.params)


@dataclass(frozen=True, slots=True)
class MarkRow:
    name: str
    done_until: dt.datetime
    done_by: str | None
    claimed_by: str | None
    lease_until: dt.datetime | None


async def mark(name: str) -> MarkRow | None:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        "SELECT name, done_until, done_by, claimed_by, lease_until FROM push_scheduler_marks "
        f"WHERE name = {sql.p(name)}", sql.params)
    if not rows:
        return None
    r = rows[0]
    done_until = as_datetime(r["done_until"])
    assert done_until is not None
    return MarkRow(str(r["name"]), done_until, r["done_by"], r["claimed_by"],
                   as_datetime(r["lease_until"]))
