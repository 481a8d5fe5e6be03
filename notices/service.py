"""Use cases of targeted notices: drafts, audience previews, publishing (now or scheduled),
corrections, recall, the enterprise inbox, statistics, receipts, the audit log and publisher
administration. Each use case runs in ONE transaction opened here; page-cache invalidation and
logging happen after the commit.

Decisions the issue leaves open (and why):

- Jurisdiction. A publisher's jurisdiction is the union of its zones and region-code prefixes
  (`operators.jurisdiction_zones` / `jurisdiction_regions`); admins have none (unrestricted).
  The audience of anything published is rule ∧ jurisdiction, and if the rule reaches even one
  enterprise outside it (COUNT(rule ∧ ¬jurisdiction) > 0) the preview/publish is refused with
  a 403 naming `rule` and the count: never silently narrowed. The jurisdiction is snapshotted
  on the notice when published or scheduled, so scheduled publishing and re-matching clip to
  what the publisher was allowed at the time. A refused publish or edit is itself audited
  (previews are not: they are read-only and run on every keystroke).
- Who manages a notice. Admins, and publishers of the notice's department (colleagues cover
  for each other); a notice without a department belongs to its creator only. Other
  departments get 403, including for statistics, receipts and audit.
- Drafts vs corrections. Drafts and scheduled notices are edited freely (the jurisdiction
  check re-runs when a scheduled notice's rule changes). After publishing only the text and
  its presentation change (title, body, format, priority, action_url, expire_at): each change
  is a correction, a new `notice_revisions` row with the diff, who and when; recipients see
  the latest text marked 已更正. The audience, kind, acknowledgement and schedule are the
  record and cannot change (409 naming the field).
- Read state is per enterprise, first reader recorded. Acknowledging and archiving imply
  reading. Every change is a conditional UPDATE (`… WHERE read_at IS NULL`), so the unread
  count (derived from rows) stays exact under concurrent calls. Kiosk sessions and admins may
  read an enterprise's inbox but only its members write.
- Idempotency-Key (optional on create and publish): per caller and use case; the first
  outcome is stored in the same transaction as the work, a retry returns it verbatim, a key
  reused with a different request is a 422. Failed requests store nothing and may be retried.
- Expiry needs no job for correctness (every read filters on expire_at); `publish_due` also
  bumps the page cache when something expired since its last run, so cached pages follow
  within a worker tick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from tortoise.transactions import in_transaction

from core import audit as core_audit
from core import clock
from core.db import Sql, is_postgres
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.memo import BoundedMemo, split_remembered
from core.principals import Principal
from notices import repository
from notices.models import Notice, NoticeRevision
from notices.repository import Audience
from notices.sanitize import plain_excerpt, render_body
from notices.schemas import (
    CORRECTABLE_FIELDS,
    Actor,
    AuditQuery,
    InboxQuery,
    NoticeFields,
    Page,
    encode_cursor,
    request_hash,
)
from notices.targeting import (
    EnterpriseFacts,
    Rule,
    explain,
    load_facts,
    parse_rule,
    rule_fields,
    sample_enterprises,
)
from notices.targeting.schema import AllOf, AnyOf, OneOf, Prefix
from profiles import repository as profiles_repository
from profiles.models import Operator, RefreshToken
from profiles.page_cache import get_page_cache
from profiles.repository import EnterpriseChange
from profiles.service import authorize_enterprise_read

log = logging.getLogger(__name__)

CORRECTED_LABEL = "已更正"
FALLBACK_REASON = "发布时贵企业符合推送条件"
PREVIEW_SAMPLE = 10
SCHEDULER_ACTOR = "system:scheduler"
REMATCH_ACTOR = "system:rematch"

# Rule field → the profile change names (`EnterpriseChange.changed_fields`) it depends on.
RULE_FIELD_CHANGES: Mapping[str, str] = {
    "zone": "zone", "region": "region_code", "industry": "industry_code", "size": "size",
    "registered_capital": "registered_capital_yuan", "established": "established_on",
    "status": "status", "credit_level": "credit_level", "tags": "tags", "uscc": "uscc",
}
JURISDICTION_CHANGES = frozenset({"zone", "region_code"})


# ----------------------------------------------------------------------- hooks (push issue)


@dataclass(frozen=True, slots=True)
class RecipientScope:
    """Exactly the recipient (or policy-match) rows one publish or one re-match wrote.

    Listeners run INSIDE the writing transaction, after the rows are inserted, so whatever they
    write (deliveries) commits or rolls back together with the recipients. Select the rows with
    `scope.condition(sql, "r")` in an INSERT … SELECT over `{scope.table} r`.
    """

    table: Literal["notice_recipients", "policy_matches"]
    owner_column: Literal["notice_id", "policy_id"]
    owner_id: int
    batch: str
    matched_via: Literal["publish", "rematch"]
    matched_at: dt.datetime
    count: int
    enterprise_ids: tuple[int, ...] | None  # None for a publish: every row of the batch

    def condition(self, sql: Sql, alias: str = "r") -> str:
        text = (f"{alias}.{self.owner_column} = {sql.p(self.owner_id)} "
                f"AND {alias}.match_batch = {sql.p(self.batch)}")
        if self.enterprise_ids is not None:
            # A re-match touches few rows: the enterprise ids keep the lookup on the index.
            text += " AND " + repository.id_list(sql, f"{alias}.enterprise_id",
                                                 self.enterprise_ids)
        return text


RecipientListener = Callable[[int, RecipientScope], Awaitable[None]]
AudienceCounter = Callable[[Audience], Awaitable[int]]
StatsExtension = Callable[[int], Awaitable[Mapping[str, Any]]]

_published_listeners: list[RecipientListener] = []
_device_counters: list[AudienceCounter] = []
_stats_extensions: list[StatsExtension] = []


def on_published(listener: RecipientListener) -> None:
    """`await listener(notice_id, scope)` inside the transaction that wrote new recipients: at
    publish (immediate or scheduled) and when re-matching adds enterprises to a standing notice."""
    if listener not in _published_listeners:
        _published_listeners.append(listener)


def register_device_counter(counter: AudienceCounter) -> None:
    """`await counter(audience)` → devices reached by the enterprises of
    `audience.ids_sql(sql)` (an `notices.repository.Audience`: rule ∧ jurisdiction, possibly a
    sample). The preview sums counters and scales them like people when the audience is
    sampled, so a counter never needs to scan more than ~2,000 enterprises' devices."""
    if counter not in _device_counters:
        _device_counters.append(counter)


def register_stats_extension(extension: StatsExtension) -> None:
    """`await extension(notice_id)` → {channel: {delivered, failed, dead, skipped, …}}, merged
    into the `delivery` block of notice statistics."""
    if extension not in _stats_extensions:
        _stats_extensions.append(extension)


async def fire_listeners(listeners: Sequence[RecipientListener], owner_id: int,
                scope: RecipientScope) -> None:
    for listener in listeners:
        await listener(owner_id, scope)


# ------------------------------------------------------------------ publishers, jurisdiction


@dataclass(frozen=True, slots=True)
class Publisher:
    """The acting operator as stored now (not as the token remembers it): a deactivated or
    re-scoped publisher loses rights on the next request, not when the token expires."""

    id: int
    role: str
    department: str | None
    zones: tuple[str, ...]
    regions: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def jurisdiction_json(self) -> dict[str, list[str]] | None:
        if self.is_admin:
            return None
        return {"zones": list(self.zones), "regions": list(self.regions)}


def _region_prefix(code: str) -> str:
    # GB/T 2260: "440100" denotes the city 4401, so it covers all of 4401xx.
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def jurisdiction_rule(jurisdiction: Mapping[str, Any] | None) -> Rule | None:
    """Zones ∪ region prefixes as a rule AST (built directly: a big region list would exceed
    the node limit meant for user rules). None means unrestricted; empty means nothing."""
    if jurisdiction is None:
        return None
    parts: list[Rule] = []
    zones = tuple(sorted({str(z) for z in jurisdiction.get("zones") or []}))
    if zones:
        parts.append(OneOf("zone", zones))
    for region in sorted({_region_prefix(str(r)) for r in jurisdiction.get("regions") or []}):
        parts.append(Prefix("region", region))
    return AnyOf(tuple(parts))


def audience_rule(rule: Rule, jurisdiction: Rule | None) -> Rule:
    return rule if jurisdiction is None else AllOf((rule, jurisdiction))


async def load_publisher(principal: Principal) -> Publisher:
    if principal.kind != "operator":
        raise Forbidden("This call is for publishers and administrators.")
    operator = await Operator.get_or_none(id=principal.id)
    if operator is None or not operator.active:
        raise Forbidden("This operator account is disabled.")
    if operator.role not in ("publisher", "admin"):
        raise Forbidden("This call is for publishers and administrators.")
    return Publisher(operator.id, operator.role, operator.department,
                     tuple(operator.jurisdiction_zones or ()),
                     tuple(operator.jurisdiction_regions or ()))


async def load_admin(principal: Principal, refusal: str) -> Publisher:
    """An admin by the stored role (a token minted before a role change proves nothing)."""
    if not principal.is_admin:
        raise Forbidden(refusal)
    admin = await load_publisher(principal)
    if not admin.is_admin:
        raise Forbidden(refusal)
    return admin


class JurisdictionRefused(Forbidden):
    code = "outside-jurisdiction"
    title = "The rule reaches enterprises outside your jurisdiction"

    def __init__(self, outside: int) -> None:
        super().__init__(
            f"规则会触达辖区外的 {outside} 家企业，请收窄规则后再试 / The rule reaches "
            f"{outside} enterprise(s) outside your jurisdiction; narrow it and try again.",
            field="rule", extra={"outside_jurisdiction": outside},
        )
        self.outside = outside


async def check_jurisdiction(rule: Rule, jurisdiction: Rule | None) -> int:
    """Enterprises the audience reaches; raises JurisdictionRefused if any lie outside."""
    if jurisdiction is None:
        return await repository.count_where(rule)
    inside, outside = await repository.count_inside_outside(rule, jurisdiction)
    if outside:
        raise JurisdictionRefused(outside)
    return inside


def can_manage(pub: Publisher, *, department: str | None, created_by_id: int) -> bool:
    if pub.is_admin:
        return True
    if department is not None:
        return department == pub.department
    return created_by_id == pub.id


async def _managed_notice(pub: Publisher, notice_id: int, *, lock: bool = False) -> Notice:
    """The notice if this publisher manages it; `lock` (inside a transaction) holds its row
    until commit so a concurrent edit cannot slip between validation and the write."""
    notice = await (repository.lock_notice(notice_id) if lock
                    else repository.get_notice(notice_id))
    if notice is None:
        raise NotFound(f"No notice {notice_id}.", field="notice_id")
    if not can_manage(pub, department=notice.department, created_by_id=notice.created_by_id):
        raise Forbidden("This notice belongs to another department.", field="notice_id")
    return notice


# ------------------------------------------------------------------------------- audit


async def audit(actor: Actor | None, *, action: str, object_type: str, object_id: int | str,
                summary: dict[str, Any], department: str | None = None,
                system_actor: str | None = None) -> None:
    """Append one audit row in the caller's transaction: the action and its record commit or
    roll back together. There is no update or delete path for audit rows."""
    await write_audit(core_audit.Entry(
        actor=actor.subject if actor else (system_actor or "system"), action=action,
        object_type=object_type, object_id=str(object_id), summary=summary,
        origin=actor.origin if actor else core_audit.Origin(), department=department))


async def write_audit(entry: core_audit.Entry) -> None:
    """One audit row: for publisher actions (`audit`) and, as `core.audit`'s writer, for
    profiles' own entries (kiosk hand-offs)."""
    await repository.insert_audit(
        at=clock.now(), actor=entry.actor, actor_department=entry.department,
        action=entry.action, object_type=entry.object_type, object_id=entry.object_id,
        summary=dict(entry.summary), ip=entry.origin.ip, user_agent=entry.origin.user_agent,
        request_id=entry.origin.request_id)


async def audit_refusal(actor: Actor, pub: Publisher, *, action: str, object_type: str,
                        object_id: int | str, outside: int) -> None:
    """Refusals are recorded in their own transaction (the refused one rolled back)."""
    async with in_transaction():
        await audit(actor, action=action, object_type=object_type, object_id=object_id,
                    summary={"outside_jurisdiction": outside,
                             "jurisdiction": pub.jurisdiction_json()},
                    department=pub.department)
    log.info("notices.jurisdiction.refused", extra={
        "actor": actor.subject, "object": f"{object_type}:{object_id}", "outside": outside,
    })


def audit_view(entry: Any) -> dict[str, Any]:
    return {
        "id": entry.id, "at": iso(entry.at), "actor": entry.actor,
        "actor_department": entry.actor_department, "action": entry.action,
        "object_type": entry.object_type, "object_id": entry.object_id,
        "summary": repository.as_json(entry.summary), "ip": entry.ip,
        "user_agent": entry.user_agent, "request_id": entry.request_id,
    }


async def audit_log(actor: Actor, query: AuditQuery) -> Page:
    """The whole audit log, for admins."""
    await load_admin(actor.principal, "The audit log is for administrators.")
    return await _audit_page(query)


async def notice_audit(actor: Actor, notice_id: int, query: AuditQuery) -> Page:
    """One notice's trail, for whoever manages the notice."""
    pub = await load_publisher(actor.principal)
    await _managed_notice(pub, notice_id)
    scoped = AuditQuery(object_type="notice", object_id=str(notice_id), actor=query.actor,
                        action=query.action, since=query.since, until=query.until,
                        limit=query.limit, cursor=query.cursor)
    return await _audit_page(scoped)


async def _audit_page(query: AuditQuery) -> Page:
    rows = await repository.audit_page(query)
    more = len(rows) == query.limit
    return Page([audit_view(r) for r in rows],
                encode_cursor("audit", rows[-1].id) if more and rows else None)


# ------------------------------------------------------------------------- idempotency


Work = Callable[[], Awaitable[dict[str, Any]]]


async def run_idempotent(*, scope: str, key: str | None, payload: Any,
                         work: Work) -> tuple[dict[str, Any], bool]:
    """Run `work` in one transaction; with a key, at most once per (scope, key).

    Returns (response, replayed). The claim row is inserted first in the same transaction, so
    two concurrent requests with one key serialise on it: the second sees the first's stored
    response, never a second notice or recipient set.
    """
    if key is None:
        async with in_transaction():
            return await work(), False
    digest = request_hash(payload)
    for _ in range(3):
        async with in_transaction():
            if await repository.claim_idempotency_key(scope, key, digest, clock.now()):
                body = await work()
                await repository.store_idempotent_response(scope, key, body)
                return body, False
        entry = await repository.idempotency_entry(scope, key)
        if entry is None:
            continue  # the first attempt rolled back: this one may claim the key now
        if entry.request_hash != digest:
            raise ValidationFailed(
                "This Idempotency-Key was already used for a different request.",
                field="Idempotency-Key",
            )
        if entry.response is not None:
            log.info("notices.idempotent.replayed", extra={"scope": scope})
            return dict(repository.as_json(entry.response)), True
    raise Conflict("A request with this Idempotency-Key is still in progress; retry shortly.",
                   field="Idempotency-Key")


# A retry is a retry within a day; after that a key may be used again (as Stripe and the
# IETF Idempotency-Key draft suggest). `expire_idempotency_keys` runs in the worker.
IDEMPOTENCY_RETENTION = dt.timedelta(hours=24)


async def expire_idempotency_keys() -> int:
    """Forget Idempotency-Keys older than IDEMPOTENCY_RETENTION; returns how many."""
    deleted = await repository.delete_idempotency_keys(
        created_before=clock.now() - IDEMPOTENCY_RETENTION)
    if deleted:
        log.info("notices.idempotency.expired", extra={"keys": deleted})
    return deleted


# ------------------------------------------------------------------------------- views


def iso(value: Any) -> str | None:
    """RFC 3339 in UTC ("…Z") from a datetime or the ISO text of a raw or JSON row."""
    if value is None:
        return None
    return _iso(value) if isinstance(value, str | dt.datetime) else _iso_uncached(value)


def _iso_uncached(value: Any) -> str | None:
    stamp = repository.as_datetime(value)
    return stamp.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if stamp else None


# Pages repeat the same instants (a notice's publication, a publish batch's match time).
_iso = functools.lru_cache(maxsize=16_384)(_iso_uncached)


def _body_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def notice_view(notice: Notice) -> dict[str, Any]:
    """The publisher's view of a notice."""
    return {
        "id": notice.id, "kind": notice.kind, "title": notice.title,
        "body": notice.body_source, "body_format": notice.body_format,
        "body_html": notice.body_html, "priority": notice.priority,
        "ack_required": notice.ack_required, "action_url": notice.action_url,
        "publish_at": iso(notice.publish_at), "expire_at": iso(notice.expire_at),
        "rule": repository.as_json(notice.rule), "standing": notice.standing,
        "status": notice.status, "department": notice.department,
        "created_by": f"operator:{notice.created_by_id}",
        "jurisdiction": repository.as_json(notice.jurisdiction),
        "revision": notice.revision, "recipient_count": notice.recipient_count,
        "published_at": iso(notice.published_at), "corrected_at": iso(notice.corrected_at),
        "recalled_at": iso(notice.recalled_at), "created_at": iso(notice.created_at),
        "updated_at": iso(notice.updated_at),
    }


def inbox_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an enterprise sees of a notice in lists and on its page."""
    return _with_receipt(
        _notice_item((row["id"], row["revision"], str(row["published_at"]), str(row["expire_at"]),
                      str(row["corrected_at"])), row),
        row["matched_at"], row["read_at"], row["acked_at"], row["archived_at"])


def _with_receipt(notice: dict[str, Any], matched_at: Any, read_at: Any, acked_at: Any,
                  archived_at: Any) -> dict[str, Any]:
    """A notice's item with this enterprise's receipt of it (copied: the item is shared)."""
    return {
        **notice,
        "matched_at": iso(matched_at),
        "read": read_at is not None, "read_at": iso(read_at),
        "acknowledged": acked_at is not None, "acked_at": iso(acked_at),
        "archived": archived_at is not None, "archived_at": iso(archived_at),
    }


_notice_items: BoundedMemo[tuple[Any, ...], dict[str, Any]] = BoundedMemo(max_entries=4096)


def _notice_item(key: tuple[Any, ...], row: Mapping[str, Any]) -> dict[str, Any]:
    """The notice's part of an inbox item, built once per version `key` (id, revision and its
    instants; a correction makes a new one): a notice to 199,000 enterprises shows the same on
    every page. Callers copy it."""

    def build() -> dict[str, Any]:
        corrected = row["corrected_at"] is not None
        return {
            "id": int(row["id"]), "kind": row["kind"], "title": row["title"],
            "excerpt": plain_excerpt(row["body_html"]),
            "priority": row["priority"], "ack_required": bool(row["ack_required"]),
            "action_url": row["action_url"], "department": row["department"],
            "published_at": iso(row["published_at"]), "expire_at": iso(row["expire_at"]),
            "corrected": corrected, "corrected_label": CORRECTED_LABEL if corrected else None,
            "corrected_at": iso(row["corrected_at"]),
        }

    return _notice_items.get(key, build)


def facts_from_page_row(enterprise: Mapping[str, Any]) -> EnterpriseFacts:
    return EnterpriseFacts(
        id=int(enterprise["id"]), uscc=enterprise["uscc"], zone=enterprise["zone"],
        region_code=enterprise["region_code"], industry_code=enterprise["industry_code"],
        size=enterprise["size"], registered_capital_yuan=enterprise["registered_capital_yuan"],
        established_on=repository.as_date(enterprise["established_on"]),
        status=enterprise["status"], credit_level=enterprise["credit_level"],
        tags=frozenset(enterprise.get("tags") or ()),
    )


def reasons_for(rule_json: Any, facts: EnterpriseFacts | None) -> list[str]:
    """Human-readable reasons ("why you see this") for one enterprise, from `explain`."""
    if rule_json is None or facts is None:
        return []
    return explain(parse_rule(repository.as_json(rule_json)), facts)


# ---------------------------------------------------------------------------- preview

EXACT_PEOPLE_UP_TO = 4_000
BLOCK_SAMPLE_PERCENT = 5.0
MIN_SAMPLE = 200


def _follow_up(audience: Rule, enterprises: int, *, postgres: bool) -> Audience:
    """A block sample that came out too small (matches clustered in few table blocks): exact
    up to 2× the exact limit (still cheap), else ~4,000 sampled enterprises."""
    if enterprises <= 2 * EXACT_PEOPLE_UP_TO:
        return Audience(audience)
    if postgres:
        return Audience(audience, sample_percent=min(
            100.0, 100.0 * EXACT_PEOPLE_UP_TO / enterprises))
    return Audience(audience, sample_every=enterprises // EXACT_PEOPLE_UP_TO)


async def preview(actor: Actor, rule: Rule) -> dict[str, Any]:
    """How many enterprises, people and devices a rule reaches inside the caller's
    jurisdiction, and a sample; refused like a publish when the rule reaches outside it.

    The enterprise count is exact (it is what publishing snapshots). People and devices are
    exact up to 4,000 enterprises and estimated above that from a stable sample of at least
    200 enterprises (`estimated` says which; ~1–3% error): an exact distinct count over
    200,000 memberships takes ~0.7 s, far too slow to follow typing. The count, a guarded
    exact people count (LIMIT 4,001 enterprises), a 5% block sample (PostgreSQL) and the
    sample rows run concurrently, so a preview costs about one scan of `enterprises`.
    """
    pub = await load_publisher(actor.principal)
    jurisdiction = jurisdiction_rule(pub.jurisdiction_json())
    audience = audience_rule(rule, jurisdiction)
    postgres = is_postgres()
    # Not audited: previews are read-only and run on every keystroke; refused publishes are.
    guarded = Audience(audience, limit=EXACT_PEOPLE_UP_TO + 1)
    block = Audience(audience, sample_percent=BLOCK_SAMPLE_PERCENT) if postgres else None
    outcomes = await asyncio.gather(
        check_jurisdiction(rule, jurisdiction), repository.count_people(guarded),
        sample_enterprises(audience, PREVIEW_SAMPLE),
        *([repository.count_people(block)] if block else []),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    enterprises = cast(int, outcomes[0])
    guarded_n, people = cast(tuple[int, int], outcomes[1])
    examples = cast(list[Any], outcomes[2])
    counted, sampled = guarded, guarded_n
    if guarded_n > EXACT_PEOPLE_UP_TO:
        block_n, block_people = cast(tuple[int, int], outcomes[3]) if block else (0, 0)
        if block is not None and block_n >= max(MIN_SAMPLE, 1):
            counted, sampled, people = block, block_n, block_people
        else:
            counted = _follow_up(audience, enterprises, postgres=postgres)
            sampled, people = await repository.count_people(counted)
            if counted.sampled and sampled < MIN_SAMPLE and counted.sample_percent:
                # Matches clustered in few table blocks: every k-th id instead (one scan).
                counted = Audience(audience, sample_every=max(
                    1, enterprises // EXACT_PEOPLE_UP_TO))
                sampled, people = await repository.count_people(counted)
            if counted.sampled and not sampled:  # nothing to scale: count exactly
                counted = Audience(audience)
                sampled, people = await repository.count_people(counted)
    scale = enterprises / sampled if counted.sampled and sampled else 1.0
    devices = 0
    for counter in _device_counters:
        devices += await counter(counted)
    return {
        "enterprises": enterprises, "people": round(people * scale),
        "devices": round(devices * scale),
        "sample": [{"uscc": s.uscc, "name": s.name} for s in examples],
        "outside_jurisdiction": 0, "estimated": counted.sampled,
    }


# ------------------------------------------------------------------------ notice drafts


def _validate_schedule(values: Mapping[str, Any]) -> None:
    publish_at, expire_at = values.get("publish_at"), values.get("expire_at")
    if publish_at is not None and expire_at is not None and expire_at <= publish_at:
        raise ValidationFailed("expire_at must be after publish_at", field="expire_at")


async def create_notice(actor: Actor, data: NoticeFields, *, idempotency_key: str | None,
                        payload: Any) -> tuple[dict[str, Any], bool]:
    pub = await load_publisher(actor.principal)
    values = dict(data.values)

    async def work() -> dict[str, Any]:
        notice = await Notice.create(
            kind=values["kind"], title=values["title"], body_format=values["body_format"],
            body_source=values["body"],
            body_html=render_body(values["body_format"], values["body"]),
            priority=values["priority"], ack_required=values["ack_required"],
            action_url=values["action_url"], publish_at=values["publish_at"],
            expire_at=values["expire_at"], rule=values.get("rule"),
            standing=values["standing"], status="draft", department=pub.department,
            created_by_id=pub.id,
        )
        await audit(actor, action="notice.created", object_type="notice", object_id=notice.id,
                    summary={"title": notice.title, "kind": notice.kind,
                             "rule": values.get("rule"), "standing": notice.standing,
                             "body_sha256": _body_digest(notice.body_source)},
                    department=pub.department)
        return notice_view(notice)

    body, replayed = await run_idempotent(scope=f"{actor.subject} notices.create",
                                          key=idempotency_key, payload=payload, work=work)
    if not replayed:
        log.info("notices.created", extra={"notice_id": body["id"], "actor": actor.subject})
    return body, replayed


def _stored(notice: Notice, name: str) -> Any:
    if name == "body":
        return notice.body_source
    value = getattr(notice, name)
    return repository.as_json(value) if name == "rule" else value


def _diff_value(name: str, value: Any) -> Any:
    if name == "body" and isinstance(value, str):
        return {"sha256": _body_digest(value), "chars": len(value)}
    if isinstance(value, dt.datetime):
        return iso(value)
    return value


async def update_notice(actor: Actor, notice_id: int, data: NoticeFields) -> dict[str, Any]:
    """Edit a draft or scheduled notice, or correct a published one (see module docstring)."""
    pub = await load_publisher(actor.principal)
    try:
        view, corrected = await _update_notice(actor, pub, notice_id, data)
    except JurisdictionRefused as refused:
        await audit_refusal(actor, pub, action="notice.edit_refused", object_type="notice",
                            object_id=notice_id, outside=refused.outside)
        raise
    if corrected:
        await get_page_cache().invalidate_all()
    log.info("notices.updated", extra={"notice_id": notice_id, "actor": actor.subject,
                                       "fields": sorted(data.values), "status": view["status"]})
    return view


async def _update_notice(actor: Actor, pub: Publisher, notice_id: int,
                         data: NoticeFields) -> tuple[dict[str, Any], bool]:
    invalidate = False
    async with in_transaction():
        notice = await _managed_notice(pub, notice_id, lock=True)
        if notice.status == "recalled":
            raise Conflict("A recalled notice cannot be edited.", field="status")
        changes = {
            name: value for name, value in data.values.items()
            if _stored(notice, name) != value
        }
        if notice.status == "published":
            for name in sorted(changes):
                if name not in CORRECTABLE_FIELDS:
                    raise Conflict(
                        f"{name} cannot change after publishing; only a correction of "
                        f"{', '.join(sorted(CORRECTABLE_FIELDS))} is possible.", field=name,
                    )
        if not changes:
            return notice_view(notice), False
        merged = {n: _stored(notice, n) for n in ("publish_at", "expire_at")} | changes
        if notice.published_at is not None:  # a correction: the real start is published_at
            merged["publish_at"] = notice.published_at
        _validate_schedule(merged)
        if notice.status == "scheduled":
            if merged["publish_at"] is None:
                raise ValidationFailed(
                    "A scheduled notice needs publish_at; recall it to cancel the schedule.",
                    field="publish_at",
                )
            if "rule" in changes:
                if changes["rule"] is None:
                    raise ValidationFailed("A scheduled notice needs a rule.", field="rule")
                await check_jurisdiction(parse_rule(changes["rule"]),
                                         jurisdiction_rule(pub.jurisdiction_json()))
        now = clock.now()
        updates: dict[str, Any] = {k: v for k, v in changes.items() if k != "body"}
        if "body" in changes:
            updates["body_source"] = changes["body"]
        if "body" in changes or "body_format" in changes:
            updates["body_html"] = render_body(
                changes.get("body_format", notice.body_format),
                changes.get("body", notice.body_source),
            )
        if notice.status == "scheduled" and "rule" in changes:
            updates["jurisdiction"] = pub.jurisdiction_json()
        if notice.status == "published":
            updates["revision"] = notice.revision + 1
            updates["corrected_at"] = now
        updates["updated_at"] = now
        # Optimistic check: a concurrent edit or state change makes this a clean 409.
        if not await Notice.filter(id=notice.id, status=notice.status,
                                   revision=notice.revision).update(**updates):
            raise Conflict("The notice changed meanwhile; reload and retry.", field="notice_id")
        diff = {name: {"from": _diff_value(name, _stored(notice, name)),
                       "to": _diff_value(name, value)} for name, value in changes.items()}
        await notice.refresh_from_db()
        if notice.status == "published":
            await NoticeRevision.create(
                notice_id=notice.id, number=notice.revision, title=notice.title,
                body_format=notice.body_format, body_source=notice.body_source,
                body_html=notice.body_html, priority=notice.priority,
                action_url=notice.action_url, expire_at=notice.expire_at, changes=diff,
                note=data.note, editor=actor.subject, created_at=now,
            )
            await audit(actor, action="notice.corrected", object_type="notice",
                        object_id=notice.id,
                        summary={"revision": notice.revision, "changes": diff,
                                 "note": data.note},
                        department=pub.department)
            invalidate = True
        else:
            await audit(actor, action="notice.edited", object_type="notice",
                        object_id=notice.id, summary={"status": notice.status, "changes": diff},
                        department=pub.department)
        return notice_view(notice), invalidate


# ----------------------------------------------------------------------------- publish


async def _publish_now(notice: Notice, *, audience: Rule, now: dt.datetime,
                       from_status: str, jurisdiction: dict[str, Any] | None,
                       actor: Actor | None, department: str | None) -> int:
    """Inside the caller's transaction: claim, snapshot recipients, first revision, listeners,
    audit. Returns the number of recipients."""
    claimed = await repository.claim_notice(
        notice.id, [from_status], status="published", published_at=now, revision=1,
        jurisdiction=jurisdiction, updated_at=now,
    )
    if not claimed:
        raise Conflict("The notice was published or changed meanwhile.", field="status")
    batch = uuid.uuid4().hex
    count = await repository.snapshot_recipients(notice.id, audience, batch=batch, now=now)
    await Notice.filter(id=notice.id).update(recipient_count=count)
    await NoticeRevision.create(
        notice_id=notice.id, number=1, title=notice.title, body_format=notice.body_format,
        body_source=notice.body_source, body_html=notice.body_html, priority=notice.priority,
        action_url=notice.action_url, expire_at=notice.expire_at, changes={}, note=None,
        editor=actor.subject if actor else SCHEDULER_ACTOR, created_at=now,
    )
    scope = RecipientScope("notice_recipients", "notice_id", notice.id, batch, "publish", now,
                           count, None)
    await fire_listeners(_published_listeners, notice.id, scope)
    await audit(actor, action="notice.published", object_type="notice", object_id=notice.id,
                summary={"recipients": count, "batch": batch, "rule": repository.as_json(
                    notice.rule), "jurisdiction": jurisdiction, "revision": 1,
                    "title": notice.title, "body_sha256": _body_digest(notice.body_source),
                    "scheduled_for": iso(notice.publish_at) if actor is None else None},
                department=department, system_actor=SCHEDULER_ACTOR)
    return count


async def publish_notice(actor: Actor, notice_id: int, *,
                         idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
    """Publish now, or schedule when publish_at is in the future."""
    pub = await load_publisher(actor.principal)
    outcome: dict[str, Any] = {}

    async def work() -> dict[str, Any]:
        notice = await _managed_notice(pub, notice_id, lock=True)
        if notice.status != "draft":
            raise Conflict(f"The notice is {notice.status}; only a draft can be published.",
                           field="status")
        if notice.rule is None:
            raise ValidationFailed("A notice needs a targeting rule before publishing.",
                                   field="rule")
        now = clock.now()
        if notice.expire_at is not None and notice.expire_at <= max(now, notice.publish_at
                                                                    or now):
            raise ValidationFailed("expire_at has already passed.", field="expire_at")
        rule = parse_rule(repository.as_json(notice.rule))
        jurisdiction_json = pub.jurisdiction_json()
        jurisdiction = jurisdiction_rule(jurisdiction_json)
        reach = await check_jurisdiction(rule, jurisdiction)
        if notice.publish_at is not None and notice.publish_at > now:
            if not await repository.claim_notice(notice.id, ["draft"], status="scheduled",
                                                 jurisdiction=jurisdiction_json,
                                                 updated_at=now):
                raise Conflict("The notice was published or changed meanwhile.",
                               field="status")
            await audit(actor, action="notice.scheduled", object_type="notice",
                        object_id=notice.id,
                        summary={"publish_at": iso(notice.publish_at), "reach_now": reach,
                                 "jurisdiction": jurisdiction_json},
                        department=pub.department)
            outcome["event"] = "scheduled"
        else:
            count = await _publish_now(notice, audience=audience_rule(rule, jurisdiction),
                                       now=now, from_status="draft",
                                       jurisdiction=jurisdiction_json, actor=actor,
                                       department=pub.department)
            outcome["event"] = "published"
            outcome["recipients"] = count
        await notice.refresh_from_db()
        return notice_view(notice)

    try:
        body, replayed = await run_idempotent(
            scope=f"{actor.subject} notices.publish", key=idempotency_key,
            payload={"notice_id": notice_id}, work=work,
        )
    except JurisdictionRefused as refused:
        await audit_refusal(actor, pub, action="notice.publish_refused", object_type="notice",
                            object_id=notice_id, outside=refused.outside)
        raise
    if outcome.get("event") == "published":
        await get_page_cache().invalidate_all()
    if outcome:
        log.info(f"notices.{outcome['event']}", extra={
            "notice_id": notice_id, "actor": actor.subject,
            "recipients": outcome.get("recipients"),
        })
    return body, replayed


async def publish_due(*, limit: int = 20) -> int:
    """Publish scheduled notices whose time has come; returns how many. Safe with several
    workers: each notice is claimed by a conditional UPDATE (status scheduled → published) in
    the transaction that writes its recipients, so exactly one worker publishes it and a
    failure leaves it scheduled for the next tick."""
    now = clock.now()
    published = 0
    for notice_id in await repository.due_notice_ids(now, limit=limit):
        try:
            async with in_transaction():
                notice = await repository.lock_notice(notice_id)
                if notice is None or notice.status != "scheduled" or notice.rule is None:
                    continue
                jurisdiction_json = repository.as_json(notice.jurisdiction)
                audience = audience_rule(parse_rule(repository.as_json(notice.rule)),
                                         jurisdiction_rule(jurisdiction_json))
                count = await _publish_now(notice, audience=audience, now=now,
                                           from_status="scheduled",
                                           jurisdiction=jurisdiction_json, actor=None,
                                           department=notice.department)
        except Conflict:
            continue  # another worker claimed it first
        except Exception:
            log.exception("notices.publish_due.failed", extra={"notice_id": notice_id})
            continue
        published += 1
        log.info("notices.published", extra={"notice_id": notice_id, "recipients": count,
                                             "scheduled": True})
    if published or await _expired_since_last_sweep(now):
        await get_page_cache().invalidate_all()
    return published


async def _expired_since_last_sweep(now: dt.datetime) -> bool:
    """Cached pages must drop a notice soon after it expires: one cheap indexed query per tick
    decides whether the global page stamp needs a bump."""
    from core.redis import get_redis

    redis = get_redis()
    previous = await redis.getset("notices:expiry-sweep", now.isoformat())
    if previous is None:
        return False
    since = dt.datetime.fromisoformat(previous.decode() if isinstance(previous, bytes)
                                      else str(previous))
    return await repository.any_expired_between(since, now)


async def recall_notice(actor: Actor, notice_id: int) -> dict[str, Any]:
    """撤回: the notice leaves pages and inbox lists at once; recipient rows stay as the record.
    Recalling a scheduled notice cancels it."""
    pub = await load_publisher(actor.principal)
    async with in_transaction():
        notice = await _managed_notice(pub, notice_id, lock=True)
        if notice.status not in ("published", "scheduled"):
            raise Conflict(f"The notice is {notice.status}; only a published or scheduled "
                           "notice can be recalled.", field="status")
        now = clock.now()
        if not await repository.claim_notice(notice.id, [notice.status], status="recalled",
                                             recalled_at=now, updated_at=now):
            raise Conflict("The notice changed meanwhile; reload and retry.", field="status")
        counts = await repository.recipient_counts(notice.id)
        await audit(actor, action="notice.recalled", object_type="notice", object_id=notice.id,
                    summary={"previous_status": notice.status, **counts},
                    department=pub.department)
        await notice.refresh_from_db()
        view = notice_view(notice)
    await get_page_cache().invalidate_all()
    log.info("notices.recalled", extra={"notice_id": notice_id, "actor": actor.subject})
    return view


# -------------------------------------------------------------------- publisher reads


async def get_notice(actor: Actor, notice_id: int) -> dict[str, Any]:
    pub = await load_publisher(actor.principal)
    return notice_view(await _managed_notice(pub, notice_id))


async def list_notices(actor: Actor, *, status: str | None, cursor: tuple[Any, ...] | None,
                       limit: int) -> Page:
    """The department's notices (all of them for admins), newest first."""
    pub = await load_publisher(actor.principal)
    rows = await repository.list_notices(
        department=pub.department, operator_id=pub.id, all_departments=pub.is_admin,
        status=status, before_id=int(cursor[0]) if cursor else None, limit=limit,
    )
    more = len(rows) == limit
    return Page([notice_view(n) for n in rows],
                encode_cursor("notices", rows[-1].id) if more and rows else None)


def _editor_operator_id(editor: str) -> int | None:
    """The operator behind a revision's `editor` subject; None for system actors."""
    kind, _, raw_id = editor.partition(":")
    return int(raw_id) if kind == "operator" and raw_id.isdecimal() else None


def _editor_name(operator_id: int | None, names: Mapping[int, str]) -> str | None:
    return names.get(operator_id) if operator_id is not None else None


async def notice_revisions(actor: Actor, notice_id: int) -> list[dict[str, Any]]:
    """Each revision with `editor` (the subject, kept for tools) and `editor_name`: the
    operator's display name, null for system actors and operators that no longer exist."""
    pub = await load_publisher(actor.principal)
    await _managed_notice(pub, notice_id)
    revisions = await repository.revisions(notice_id)
    editor_ids = {r.editor: _editor_operator_id(r.editor) for r in revisions}
    names = await repository.operator_names(i for i in editor_ids.values() if i is not None)
    return [{
        "number": r.number, "title": r.title, "body": r.body_source,
        "body_format": r.body_format, "body_html": r.body_html, "priority": r.priority,
        "action_url": r.action_url, "expire_at": iso(r.expire_at),
        "changes": repository.as_json(r.changes), "note": r.note, "editor": r.editor,
        "editor_name": _editor_name(editor_ids[r.editor], names),
        "created_at": iso(r.created_at),
    } for r in revisions]


def _hour_label(bucket: int) -> str:
    start = dt.datetime.fromtimestamp(bucket * 3600, dt.UTC).astimezone(clock.SHANGHAI)
    return start.isoformat()


async def notice_stats(actor: Actor, notice_id: int) -> dict[str, Any]:
    """Recipients, read and acknowledged (derived from recipient rows), their hourly timeline in
    Asia/Shanghai, and the delivery block contributed by registered extensions."""
    pub = await load_publisher(actor.principal)
    notice = await _managed_notice(pub, notice_id)
    counts = await repository.recipient_counts(notice_id)
    read_hours = dict(await repository.hourly(notice_id, "read_at"))
    ack_hours = dict(await repository.hourly(notice_id, "acked_at"))
    delivery: dict[str, Any] = {}
    for extension in _stats_extensions:
        delivery.update(await extension(notice_id))
    return {
        "notice_id": notice_id, "status": notice.status, "ack_required": notice.ack_required,
        "snapshot_recipients": notice.recipient_count, "recipients": counts["recipients"],
        "rematched": counts["rematched"], "read": counts["read"],
        "unread": counts["recipients"] - counts["read"],
        "acknowledged": counts["acknowledged"], "archived": counts["archived"],
        "timeline": [
            {"hour": _hour_label(h), "read": read_hours.get(h, 0),
             "acknowledged": ack_hours.get(h, 0)}
            for h in sorted(set(read_hours) | set(ack_hours))
        ],
        "timezone": "Asia/Shanghai",
        "delivery": delivery,
    }


RECEIPT_COLUMNS = ("统一社会信用代码", "企业名称", "匹配方式", "匹配时间", "阅读时间", "阅读人",
                   "确认时间", "确认人", "归档时间")
UNACK_COLUMNS = ("统一社会信用代码", "企业名称", "片区", "法定代表人", "阅读时间")
EXPORT_PAGE = 1000


def _shanghai(value: Any) -> str:
    stamp = repository.as_datetime(value)
    return stamp.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if stamp else ""


def _person(name: Any, person_id: Any) -> str:
    if person_id is None:
        return ""
    return f"{name}（{person_id}）" if name else f"#{person_id}"


def receipt_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "uscc": row["uscc"], "name": row["name"], "matched_via": row["matched_via"],
        "matched_at": iso(row["matched_at"]), "read_at": iso(row["read_at"]),
        "read_by": ({"person_id": row["read_by_person_id"], "name": row["read_by_name"]}
                    if row["read_by_person_id"] is not None else None),
        "acked_at": iso(row["acked_at"]),
        "acked_by": ({"person_id": row["acked_by_person_id"], "name": row["acked_by_name"]}
                     if row["acked_by_person_id"] is not None else None),
        "archived_at": iso(row["archived_at"]),
    }


def unacknowledged_view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"uscc": row["uscc"], "name": row["name"], "zone": row["zone"],
            "legal_representative": row["legal_representative"],
            "read_at": iso(row["read_at"])}


@dataclass(frozen=True, slots=True)
class Export:
    """A listing to stream: a summary (for headers and the CSV preamble) and row pages."""

    summary: dict[str, Any]
    rows: AsyncIterator[list[dict[str, Any]]]


async def _pages(notice_id: int, *, unacknowledged_only: bool,
                 after: int = 0) -> AsyncIterator[list[dict[str, Any]]]:
    while True:
        rows = await repository.receipts_page(notice_id, after_enterprise_id=after,
                                              limit=EXPORT_PAGE,
                                              unacknowledged_only=unacknowledged_only)
        if not rows:
            return
        yield rows
        if len(rows) < EXPORT_PAGE:
            return
        after = int(rows[-1]["enterprise_id"])


async def receipts(actor: Actor, notice_id: int, *, cursor: tuple[Any, ...] | None = None,
                   limit: int | None = None) -> Export | Page:
    """Who was told what and when: the snapshot, then one row per recipient enterprise with
    read and acknowledgement receipts (who, when). `limit` → one JSON page; else an export."""
    pub = await load_publisher(actor.principal)
    notice = await _managed_notice(pub, notice_id)
    summary = await _receipt_summary(notice)
    if limit is not None:
        after = int(cursor[0]) if cursor else 0
        rows = await repository.receipts_page(notice_id, after_enterprise_id=after, limit=limit)
        more = len(rows) == limit
        return Page([receipt_view(r) for r in rows],
                    encode_cursor("receipts", rows[-1]["enterprise_id"]) if more else None,
                    extra={"summary": summary})
    await _audit_export(actor, pub, notice, "notice.receipts_exported", summary)
    return Export(summary, _pages(notice_id, unacknowledged_only=False))


async def _receipt_summary(notice: Notice) -> dict[str, Any]:
    counts = await repository.recipient_counts(notice.id)
    return {
        "notice_id": notice.id, "title": notice.title, "kind": notice.kind,
        "status": notice.status, "revision": notice.revision,
        "published_at": iso(notice.published_at), "recalled_at": iso(notice.recalled_at),
        "snapshot_recipients": notice.recipient_count, "recipients": counts["recipients"],
        "rematched": counts["rematched"], "read": counts["read"],
        "acknowledged": counts["acknowledged"],
    }


async def _audit_export(actor: Actor, pub: Publisher, notice: Notice, action: str,
                        summary: dict[str, Any]) -> None:
    # Exports carry enterprise lists out of the system: that, too, is traced.
    async with in_transaction():
        await audit(actor, action=action, object_type="notice", object_id=notice.id,
                    summary={"recipients": summary.get("recipients")},
                    department=pub.department)


async def unacknowledged(actor: Actor, notice_id: int, *, cursor: tuple[Any, ...] | None = None,
                         limit: int | None = None) -> Export | Page:
    """Enterprises that have not acknowledged a notice that asks for it (an urgent warning)."""
    pub = await load_publisher(actor.principal)
    notice = await _managed_notice(pub, notice_id)
    if not notice.ack_required:
        raise Conflict("This notice does not ask for acknowledgement.", field="ack_required")
    counts = await repository.recipient_counts(notice_id)
    summary = {"notice_id": notice_id, "title": notice.title, "priority": notice.priority,
               "recipients": counts["recipients"], "acknowledged": counts["acknowledged"],
               "unacknowledged": counts["recipients"] - counts["acknowledged"]}
    if limit is not None:
        after = int(cursor[0]) if cursor else 0
        rows = await repository.receipts_page(notice_id, after_enterprise_id=after, limit=limit,
                                              unacknowledged_only=True)
        more = len(rows) == limit
        return Page([unacknowledged_view(r) for r in rows],
                    encode_cursor("unack", rows[-1]["enterprise_id"]) if more else None,
                    extra={"summary": summary})
    await _audit_export(actor, pub, notice, "notice.unacknowledged_exported", summary)
    return Export(summary, _pages(notice_id, unacknowledged_only=True))


def receipt_csv_row(row: Mapping[str, Any]) -> list[str]:
    return [row["uscc"], row["name"], "发布时匹配" if row["matched_via"] == "publish" else "后续匹配",
            _shanghai(row["matched_at"]), _shanghai(row["read_at"]),
            _person(row["read_by_name"], row["read_by_person_id"]), _shanghai(row["acked_at"]),
            _person(row["acked_by_name"], row["acked_by_person_id"]),
            _shanghai(row["archived_at"])]


def unack_csv_row(row: Mapping[str, Any]) -> list[str]:
    return [row["uscc"], row["name"], row["zone"], row["legal_representative"] or "",
            _shanghai(row["read_at"])]


def receipt_preamble(summary: Mapping[str, Any]) -> list[list[str]]:
    return [
        ["通知编号", str(summary["notice_id"])], ["标题", str(summary["title"])],
        ["状态", str(summary["status"])], ["版本", str(summary["revision"])],
        ["发布时间", _shanghai(summary["published_at"])],
        ["撤回时间", _shanghai(summary["recalled_at"])],
        ["发布快照企业数", str(summary["snapshot_recipients"])],
        ["当前收件企业数", str(summary["recipients"])], ["已读", str(summary["read"])],
        ["已确认", str(summary["acknowledged"])], ["时区", "Asia/Shanghai"], [],
    ]


# ------------------------------------------------------------------- enterprise inbox


@dataclass(frozen=True, slots=True)
class EnterpriseAccess:
    enterprise_id: int
    uscc: str
    person_id: int | None


async def _enterprise_access(principal: Principal, uscc: str, *, write: bool) -> EnterpriseAccess:
    await authorize_enterprise_read(principal, uscc)
    if write and principal.kind != "person":
        raise Forbidden("Only staff of this enterprise can change its notices' state.")
    enterprise_id = await profiles_repository.enterprise_id_by_uscc(uscc)
    if enterprise_id is None:
        raise NotFound(f"No enterprise {uscc} is registered.", field="uscc")
    return EnterpriseAccess(enterprise_id, uscc,
                            principal.id if principal.kind == "person" else None)


async def list_inbox(principal: Principal, uscc: str, query: InboxQuery) -> Page:
    access = await _enterprise_access(principal, uscc, write=False)
    now = clock.now()
    rows = await repository.inbox(access.enterprise_id, state=query.state, limit=query.limit,
                                  cursor=query.cursor, now=now)
    next_cursor = None
    if len(rows) == query.limit:
        last = rows[-1]
        matched_at = repository.as_datetime(last["matched_at"])
        assert matched_at is not None
        next_cursor = encode_cursor(f"inbox-{query.state}", int(last["read_flag"]),
                                    matched_at.isoformat(), int(last["recipient_id"]))
    unread = await repository.unread_count(access.enterprise_id, now)
    return Page([inbox_item(r) for r in rows], next_cursor, extra={"unread": unread})


async def _detail(access: EnterpriseAccess, notice_id: int) -> dict[str, Any]:
    row = await repository.visible_recipient(access.enterprise_id, notice_id, clock.now())
    if row is None:
        raise NotFound(f"No notice {notice_id} for this enterprise.", field="notice_id")
    facts = (await load_facts([access.enterprise_id])).get(access.enterprise_id)
    item = inbox_item(row)
    item.update({
        "body_html": row["body_html"], "revision": int(row["revision"]),
        "reasons": reasons_for(row["rule"], facts) or [FALLBACK_REASON],
        "read_by_person_id": row["read_by_person_id"],
        "acked_by_person_id": row["acked_by_person_id"],
    })
    return item


async def get_for_enterprise(principal: Principal, uscc: str, notice_id: int) -> dict[str, Any]:
    access = await _enterprise_access(principal, uscc, write=False)
    return await _detail(access, notice_id)


async def _set_state(principal: Principal, uscc: str, notice_id: int,
                     action: Literal["read", "ack", "archive"]) -> dict[str, Any]:
    access = await _enterprise_access(principal, uscc, write=True)
    now = clock.now()
    async with in_transaction():
        row = await repository.visible_recipient(access.enterprise_id, notice_id, now)
        if row is None:
            raise NotFound(f"No notice {notice_id} for this enterprise.", field="notice_id")
        if action == "ack" and not row["ack_required"]:
            raise Conflict("This notice does not ask for acknowledgement.",
                           field="ack_required")
        changed = False
        if action == "ack":
            changed |= await repository.set_once(notice_id, access.enterprise_id, "acked_at",
                                                 "acked_by_person_id", access.person_id, now)
        if action == "archive":
            changed |= await repository.set_once(notice_id, access.enterprise_id,
                                                 "archived_at", None, None, now)
        # Acknowledging or archiving a notice means it was read.
        changed |= await repository.set_once(notice_id, access.enterprise_id, "read_at",
                                             "read_by_person_id", access.person_id, now)
    if changed:
        await get_page_cache().invalidate(uscc)
        log.info(f"notices.inbox.{action}", extra={"notice_id": notice_id, "uscc": uscc,
                                                   "person_id": access.person_id})
    return await _detail(access, notice_id)


async def mark_read(principal: Principal, uscc: str, notice_id: int) -> dict[str, Any]:
    return await _set_state(principal, uscc, notice_id, "read")


async def acknowledge(principal: Principal, uscc: str, notice_id: int) -> dict[str, Any]:
    return await _set_state(principal, uscc, notice_id, "ack")


async def archive(principal: Principal, uscc: str, notice_id: int) -> dict[str, Any]:
    return await _set_state(principal, uscc, notice_id, "archive")


async def page_rows(enterprise: Mapping[str, Any], now: dt.datetime) -> Sequence[Sequence[Any]]:
    return await repository.page_inbox(int(enterprise["id"]), now)


_VERSION = repository.PAGE_INBOX_ROW[:5]  # id, revision and the instants a page shows
_MATCHED, _READ, _ACKED, _ARCHIVED, _UNREAD = (
    repository.PAGE_INBOX_ROW.index(c)
    for c in ("matched_at", "read_at", "acked_at", "archived_at", "unread_total"))


def _page_row_key(row: Sequence[Any]) -> tuple[Any, ...]:
    """A page row's notice version."""
    return tuple(row[:len(_VERSION)])


async def page_details(batch: Sequence[Sequence[Sequence[Any]]]) -> dict[tuple[Any, ...],
                                                                         dict[str, Any]]:
    """The notice part of every item a batch of pages shows, by version: remembered, or read
    in one query for the notices this process has not shown at that version yet."""
    details, missing = split_remembered(
        ((_page_row_key(row), int(row[0])) for rows in batch for row in rows),
        _notice_items.peek)
    if missing:
        latest = {int(r["id"]): r for r in await repository.notice_details(
            sorted(set(missing.values())))}
        for key, notice_id in missing.items():
            notice = latest.get(notice_id)
            if notice is None:
                continue  # gone since the page's statement: the page leaves it out
            # Remembered under the version read here: a notice corrected since the page's
            # statement shows its correction, and the older version is never remembered.
            details[key] = _notice_item(tuple(notice[c] for c in _VERSION), notice)
    return details


def page_section(enterprise: Mapping[str, Any], rows: Sequence[Sequence[Any]],
                 details: Mapping[tuple[Any, ...], dict[str, Any]],
                 ) -> tuple[dict[str, Any], dict[str, int]]:
    """The page's `notices` section: the unread count and the first items of the inbox
    (PAGE_INBOX_ROW rows, the notices' parts from `page_details`)."""
    unread = int(rows[0][_UNREAD]) if rows else 0
    items = [_with_receipt(notice, row[_MATCHED], row[_READ], row[_ACKED], row[_ARCHIVED])
             for row in rows if (notice := details.get(_page_row_key(row))) is not None]
    return {"unread": unread, "items": items}, {"notices_unread": unread}


# -------------------------------------------------------------------------- re-matching


def changed_enterprise_ids(changes: Sequence[EnterpriseChange], rule: Rule,
                           jurisdiction: Rule | None) -> list[int]:
    """Enterprises whose changed fields can affect this rule (or its jurisdiction clip); new
    enterprises always count."""
    fields = {RULE_FIELD_CHANGES[f] for f in rule_fields(rule)}
    if jurisdiction is not None:
        fields |= JURISDICTION_CHANGES
    return [c.enterprise_id for c in changes if c.created or c.changed_fields & fields]


class Rematchable(Protocol):
    """A standing notice or an open policy (both models have these)."""

    @property
    def id(self) -> int: ...
    @property
    def rule(self) -> Any: ...
    @property
    def jurisdiction(self) -> Any: ...
    @property
    def department(self) -> str | None: ...


class AddQualifiers(Protocol):
    async def __call__(self, owner_id: int, audience: Rule, enterprise_ids: Sequence[int], /, *,
                       batch: str, now: dt.datetime) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class RematchKind:
    object_type: str  # "notice" | "policy": audit object type and log field
    table: Literal["notice_recipients", "policy_matches"]  # for the listeners' RecipientScope
    owner_column: Literal["notice_id", "policy_id"]
    add_qualifiers: AddQualifiers  # INSERT … SELECT … WHERE NOT EXISTS, returns enterprise ids
    listeners: Sequence[RecipientListener]


async def rematch(changes: Sequence[EnterpriseChange], candidates: Sequence[Rematchable],
                  kind: RematchKind) -> int:
    """Profile-change listener body, for standing notices and open policies alike: enterprises
    whose relevant fields changed and now qualify are added set-based, recorded as
    matched_via='rematch', audited, and the listeners run in the same transaction so
    deliveries follow. Returns rows added."""
    now = clock.now()
    added = 0
    affected: set[int] = set()
    for candidate in candidates:
        if candidate.rule is None:
            continue
        rule = parse_rule(repository.as_json(candidate.rule))
        jurisdiction = jurisdiction_rule(repository.as_json(candidate.jurisdiction))
        ids = changed_enterprise_ids(changes, rule, jurisdiction)
        if not ids:
            continue
        try:
            async with in_transaction():
                batch = uuid.uuid4().hex
                inserted = await kind.add_qualifiers(
                    candidate.id, audience_rule(rule, jurisdiction), ids, batch=batch, now=now)
                if inserted:
                    scope = RecipientScope(kind.table, kind.owner_column, candidate.id, batch,
                                           "rematch", now, len(inserted), tuple(inserted))
                    await fire_listeners(kind.listeners, candidate.id, scope)
                    await audit(None, action=f"{kind.object_type}.rematched",
                                object_type=kind.object_type, object_id=candidate.id,
                                summary={"added": len(inserted), "batch": batch,
                                         "enterprise_ids": inserted[:100]},
                                department=candidate.department, system_actor=REMATCH_ACTOR)
        except Exception:
            # The profile change is committed already; failing it would not bring the match
            # back. Log loudly so an operator can re-run matching.
            log.exception("notices.rematch.failed", extra={
                "object_type": kind.object_type, "object_id": candidate.id})
            continue
        added += len(inserted)
        affected.update(inserted)
    if affected:
        by_id = {c.enterprise_id: c.uscc for c in changes}
        await get_page_cache().invalidate(*(by_id[i] for i in affected if i in by_id))
        log.info("notices.rematched", extra={"object_type": kind.object_type, "added": added,
                                             "enterprises": len(affected)})
    return added


_NOTICE_REMATCH = RematchKind("notice", "notice_recipients", "notice_id",
                              repository.rematch_recipients, _published_listeners)


async def rematch_standing_notices(changes: Sequence[EnterpriseChange]) -> int:
    """Standing notices reach enterprises that now qualify (see `rematch`)."""
    return await rematch(changes, await repository.standing_notices(clock.now()),
                         _NOTICE_REMATCH)


# -------------------------------------------------------------------------- publishers


def publisher_view(op: Operator) -> dict[str, Any]:
    return {
        "id": op.id, "username": op.username, "display_name": op.display_name,
        "role": op.role, "department": op.department,
        "jurisdiction": {"zones": list(op.jurisdiction_zones or []),
                         "regions": list(op.jurisdiction_regions or [])},
        "active": op.active, "created_at": iso(op.created_at),
    }


async def list_publishers(actor: Actor, *, active: bool | None, department: str | None,
                          cursor: tuple[Any, ...] | None, limit: int) -> Page:
    await load_admin(actor.principal, "Publisher management is for administrators.")
    query = Operator.filter(role="publisher")
    if active is not None:
        query = query.filter(active=active)
    if department:
        query = query.filter(department=department)
    if cursor:
        query = query.filter(id__gt=int(cursor[0]))
    rows = await query.order_by("id").limit(limit)
    more = len(rows) == limit
    return Page([publisher_view(r) for r in rows],
                encode_cursor("publishers", rows[-1].id) if more and rows else None)


async def update_publisher(actor: Actor, publisher_id: int,
                           changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change a publisher's department, jurisdiction or active flag. Deactivating also revokes
    its refresh tokens; its access token stops working for notices at once because every
    publisher call re-reads the operator row."""
    admin = await load_admin(actor.principal, "Publisher management is for administrators.")
    async with in_transaction():
        op = await Operator.get_or_none(id=publisher_id, role="publisher")
        if op is None:
            raise NotFound(f"No publisher {publisher_id}.", field="publisher_id")
        diff: dict[str, Any] = {}
        for name, value in changes.items():
            if getattr(op, name) != value:
                diff[name] = {"from": getattr(op, name), "to": value}
                setattr(op, name, value)
        if not diff:
            return publisher_view(op)
        if not op.jurisdiction_zones and not op.jurisdiction_regions:
            raise ValidationFailed("A publisher needs a jurisdiction (zones or regions).",
                                   field="jurisdiction_zones")
        await op.save(update_fields=list(changes))
        if diff.get("active", {}).get("to") is False:
            await RefreshToken.filter(subject=f"operator:{op.id}", revoked_at=None) \
                .update(revoked_at=clock.now())
        action = "publisher.deactivated" if diff.get("active", {}).get("to") is False else \
            "publisher.activated" if diff.get("active", {}).get("to") is True else \
            "publisher.updated"
        await audit(actor, action=action, object_type="operator", object_id=op.id,
                    summary={"changes": diff}, department=admin.department)
    log.info("notices.publisher.updated", extra={"publisher_id": publisher_id,
                                                 "fields": sorted(diff)})
    return publisher_view(op)
