"""Use cases of the policy library (政策信息集装箱): draft, publish (matching set-based into
`policy_matches`), withdraw, public search, the page's `policies` section and re-matching when
profiles change. One transaction per use case, as in `notices.service`.

Decisions:
- A policy's eligibility rule is published inside the publisher's jurisdiction exactly like a
  notice (refused, never narrowed, when it reaches outside); matches clip to the jurisdiction
  snapshot, also when re-matching.
- Publishers issue policies in their own department's name; admins may name any department.
- After publishing, descriptive fields (texts, window, guide, link, category) may be edited;
  the rule and department are the record (409). Changing who qualifies = withdraw + new policy.
- The page lists a matched policy only while the enterprise still satisfies the rule (its
  reasons come from `explain` for that enterprise; no reasons = no longer eligible), open
  ones first, then upcoming, then closed.
- Re-matching covers published policies whose window has not closed (open or upcoming).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from tortoise.transactions import in_transaction

from core import clock
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.memo import BoundedMemo, split_remembered
from core.principals import Principal
from notices import policy_repository as repo
from notices import repository as notices_repository
from notices.models import Policy
from notices.policy_schemas import (
    LOCKED_AFTER_PUBLISH,
    PolicyFields,
    PolicySearch,
    categories,
    window_state,
)
from notices.schemas import Actor, Page, encode_cursor
from notices.service import (
    JurisdictionRefused,
    Publisher,
    RecipientListener,
    RecipientScope,
    RematchKind,
    audience_rule,
    audit,
    audit_refusal,
    can_manage,
    check_jurisdiction,
    facts_from_page_row,
    fire_listeners,
    iso,
    jurisdiction_rule,
    load_publisher,
    rematch,
    run_idempotent,
)
from notices.targeting import Rule, explain, parse_rule, rule_fields
from profiles.page_cache import get_page_cache
from profiles.repository import EnterpriseChange

log = logging.getLogger(__name__)

PAGE_ITEMS = 20

_matched_listeners: list[RecipientListener] = []
_POLICY_REMATCH = RematchKind("policy", "policy_matches", "policy_id", repo.rematch,
                              _matched_listeners)


def on_policy_matched(listener: RecipientListener) -> None:
    """`await listener(policy_id, scope)` inside the transaction that wrote new policy matches:
    when a policy is published and when re-matching finds new qualifiers."""
    if listener not in _matched_listeners:
        _matched_listeners.append(listener)


# ------------------------------------------------------------------------------- views


def _date(value: Any) -> str | None:
    day = notices_repository.as_date(value)
    return day.isoformat() if day else None


def public_view(policy: Policy | Mapping[str, Any], *, today: dt.date) -> dict[str, Any]:
    """What anyone may see of a published policy."""
    get = policy.get if isinstance(policy, Mapping) else (lambda k: getattr(policy, k))
    opens_on = notices_repository.as_date(get("opens_on"))
    closes_on = notices_repository.as_date(get("closes_on"))
    return {
        "id": get("id"), "title": get("title"), "title_hant": get("title_hant"),
        "category": get("category"), "department": get("department"),
        "benefit_summary": get("benefit_summary"),
        "benefit_summary_hant": get("benefit_summary_hant"),
        "source_url": get("source_url"),
        "guide": notices_repository.as_json(get("guide")),
        "guide_hant": notices_repository.as_json(get("guide_hant")),
        "opens_on": _date(opens_on), "closes_on": _date(closes_on),
        "window": window_state(opens_on, closes_on, today),
        "status": get("status"), "published_at": iso(get("published_at")),
    }


def managed_view(policy: Policy) -> dict[str, Any]:
    view = public_view(policy, today=clock.today_shanghai())
    view.update({
        "rule": notices_repository.as_json(policy.rule),
        "jurisdiction": notices_repository.as_json(policy.jurisdiction),
        "match_count": policy.match_count, "created_by": f"operator:{policy.created_by_id}",
        "withdrawn_at": iso(policy.withdrawn_at), "created_at": iso(policy.created_at),
        "updated_at": iso(policy.updated_at),
    })
    return view


def categories_view() -> list[dict[str, str]]:
    return [{"name": c.name, "name_hant": c.name_hant, "en": c.en} for c in categories()]


# --------------------------------------------------------------------------- use cases


async def _managed_policy(pub: Publisher, policy_id: int, *, lock: bool = False) -> Policy:
    policy = await (repo.lock_policy(policy_id) if lock else repo.get_policy(policy_id))
    if policy is None:
        raise NotFound(f"No policy {policy_id}.", field="policy_id")
    if not can_manage(pub, department=policy.department, created_by_id=policy.created_by_id):
        raise Forbidden("This policy belongs to another department.", field="policy_id")
    return policy


def _issuing_department(pub: Publisher, requested: str | None) -> str:
    if pub.is_admin:
        department = requested or pub.department
    else:
        if requested is not None and requested != pub.department:
            raise Forbidden("Publishers issue policies in their own department's name.",
                            field="department")
        department = pub.department
    if not department:
        raise ValidationFailed("department is required (the issuing department).",
                               field="department")
    return department


async def create_policy(actor: Actor, data: PolicyFields, *, idempotency_key: str | None,
                        payload: Any) -> tuple[dict[str, Any], bool]:
    pub = await load_publisher(actor.principal)
    values = dict(data.values)
    values["department"] = _issuing_department(pub, values.get("department"))

    async def work() -> dict[str, Any]:
        policy = await Policy.create(**values, status="draft", created_by_id=pub.id)
        await audit(actor, action="policy.created", object_type="policy", object_id=policy.id,
                    summary={"title": policy.title, "category": policy.category,
                             "department": policy.department, "rule": values.get("rule")},
                    department=pub.department)
        return managed_view(policy)

    body, replayed = await run_idempotent(scope=f"{actor.subject} policies.create",
                                          key=idempotency_key, payload=payload, work=work)
    if not replayed:
        log.info("notices.policy.created", extra={"policy_id": body["id"]})
    return body, replayed


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


async def update_policy(actor: Actor, policy_id: int, data: PolicyFields) -> dict[str, Any]:
    pub = await load_publisher(actor.principal)
    async with in_transaction():
        policy = await _managed_policy(pub, policy_id, lock=True)
        if policy.status == "withdrawn":
            raise Conflict("A withdrawn policy cannot be edited.", field="status")
        values = dict(data.values)
        if "department" in values:
            values["department"] = _issuing_department(pub, values["department"])
        changes = {}
        for name, value in values.items():
            current = getattr(policy, name)
            if name in ("rule", "guide", "guide_hant"):
                current = notices_repository.as_json(current)
            if current != value:
                changes[name] = value
        if policy.status == "published":
            for name in sorted(changes):
                if name in LOCKED_AFTER_PUBLISH:
                    raise Conflict(f"{name} cannot change after publishing; withdraw the "
                                   "policy and publish a new one.", field=name)
        if not changes:
            return managed_view(policy)
        opens_on = changes.get("opens_on", policy.opens_on)
        closes_on = changes.get("closes_on", policy.closes_on)
        if opens_on is not None and closes_on is not None and closes_on < opens_on:
            raise ValidationFailed("closes_on must not be before opens_on", field="closes_on")
        diff = {n: {"from": _jsonable(notices_repository.as_json(getattr(policy, n))
                                      if n in ("rule", "guide", "guide_hant")
                                      else getattr(policy, n)),
                    "to": _jsonable(v)} for n, v in changes.items()}
        now = clock.now()
        if not await repo.claim_policy(policy.id, [policy.status], **changes, updated_at=now):
            raise Conflict("The policy changed meanwhile; reload and retry.", field="status")
        await audit(actor, action="policy.edited", object_type="policy", object_id=policy.id,
                    summary={"status": policy.status, "changes": diff},
                    department=pub.department)
        await policy.refresh_from_db()
        view = managed_view(policy)
    if policy.status == "published":
        await get_page_cache().invalidate_all()
    return view


async def publish_policy(actor: Actor, policy_id: int, *,
                         idempotency_key: str | None) -> tuple[dict[str, Any], bool]:
    """Publish and snapshot every qualifying enterprise inside the jurisdiction into
    policy_matches with one INSERT … SELECT; listeners run in the same transaction."""
    pub = await load_publisher(actor.principal)
    counted: dict[str, int] = {}

    async def work() -> dict[str, Any]:
        policy = await _managed_policy(pub, policy_id, lock=True)
        if policy.status != "draft":
            raise Conflict(f"The policy is {policy.status}; only a draft can be published.",
                           field="status")
        rule = parse_rule(notices_repository.as_json(policy.rule))
        jurisdiction_json = pub.jurisdiction_json()
        jurisdiction = jurisdiction_rule(jurisdiction_json)
        await check_jurisdiction(rule, jurisdiction)
        now = clock.now()
        if not await repo.claim_policy(policy.id, ["draft"], status="published",
                                       published_at=now, jurisdiction=jurisdiction_json,
                                       updated_at=now):
            raise Conflict("The policy was published or changed meanwhile.", field="status")
        batch = uuid.uuid4().hex
        count = await repo.snapshot_matches(policy.id, audience_rule(rule, jurisdiction),
                                            batch=batch, now=now)
        await Policy.filter(id=policy.id).update(match_count=count)
        scope = RecipientScope("policy_matches", "policy_id", policy.id, batch, "publish", now,
                               count, None)
        await fire_listeners(_matched_listeners, policy.id, scope)
        await audit(actor, action="policy.published", object_type="policy",
                    object_id=policy.id,
                    summary={"matches": count, "batch": batch,
                             "rule": notices_repository.as_json(policy.rule),
                             "jurisdiction": jurisdiction_json},
                    department=pub.department)
        counted["matches"] = count
        await policy.refresh_from_db()
        return managed_view(policy)

    try:
        body, replayed = await run_idempotent(
            scope=f"{actor.subject} policies.publish", key=idempotency_key,
            payload={"policy_id": policy_id}, work=work,
        )
    except JurisdictionRefused as refused:
        await audit_refusal(actor, pub, action="policy.publish_refused", object_type="policy",
                            object_id=policy_id, outside=refused.outside)
        raise
    if counted:
        await get_page_cache().invalidate_all()
        log.info("notices.policy.published", extra={"policy_id": policy_id,
                                                    "matches": counted["matches"]})
    return body, replayed


async def withdraw_policy(actor: Actor, policy_id: int) -> dict[str, Any]:
    pub = await load_publisher(actor.principal)
    async with in_transaction():
        policy = await _managed_policy(pub, policy_id, lock=True)
        if policy.status != "published":
            raise Conflict(f"The policy is {policy.status}; only a published policy can be "
                           "withdrawn.", field="status")
        now = clock.now()
        if not await repo.claim_policy(policy.id, ["published"], status="withdrawn",
                                       withdrawn_at=now, updated_at=now):
            raise Conflict("The policy changed meanwhile; reload and retry.", field="status")
        await audit(actor, action="policy.withdrawn", object_type="policy",
                    object_id=policy.id, summary=await repo.match_counts(policy.id),
                    department=pub.department)
        await policy.refresh_from_db()
        view = managed_view(policy)
    await get_page_cache().invalidate_all()
    log.info("notices.policy.withdrawn", extra={"policy_id": policy_id})
    return view


async def get_policy(principal: Principal | None, policy_id: int) -> dict[str, Any]:
    """Published and withdrawn policies are public (a withdrawn one says so); drafts only for
    whoever manages them. The managed view is returned to managers."""
    policy = await repo.get_policy(policy_id)
    if policy is None:
        raise NotFound(f"No policy {policy_id}.", field="policy_id")
    if principal is not None and principal.kind == "operator":
        try:
            pub = await load_publisher(principal)
        except Forbidden:
            pub = None
        if pub is not None and can_manage(pub, department=policy.department,
                                          created_by_id=policy.created_by_id):
            return managed_view(policy)
    if policy.status == "draft":
        raise NotFound(f"No policy {policy_id}.", field="policy_id")
    return public_view(policy, today=clock.today_shanghai())


async def search_policies(query: PolicySearch) -> Page:
    today = clock.today_shanghai()
    rows = await repo.search(query, today)
    more = len(rows) == query.limit
    return Page([public_view(p, today=today) for p in rows],
                encode_cursor("policies", rows[-1].id) if more and rows else None)


async def list_managed(actor: Actor, *, status: str | None, cursor: tuple[Any, ...] | None,
                       limit: int) -> Page:
    pub = await load_publisher(actor.principal)
    rows = await repo.list_managed(department=pub.department, operator_id=pub.id,
                                   all_departments=pub.is_admin, status=status,
                                   before_id=int(cursor[0]) if cursor else None, limit=limit)
    more = len(rows) == limit
    return Page([managed_view(p) for p in rows],
                encode_cursor("managed-policies", rows[-1].id) if more and rows else None)


async def policy_stats(actor: Actor, policy_id: int) -> dict[str, Any]:
    pub = await load_publisher(actor.principal)
    policy = await _managed_policy(pub, policy_id)
    counts = await repo.match_counts(policy_id)
    return {"policy_id": policy_id, "status": policy.status,
            "snapshot_matches": policy.match_count, **counts}


# ----------------------------------------------------------------------------- the page


async def page_rows(enterprise: Mapping[str, Any], now: dt.datetime) -> Sequence[Sequence[Any]]:
    return await repo.page_matches(int(enterprise["id"]))


# Rule field → the EnterpriseFacts attribute it reads (also the page row's key for it).
_FACT_ATTRIBUTES = {"zone": "zone", "region": "region_code", "industry": "industry_code",
                    "size": "size", "registered_capital": "registered_capital_yuan",
                    "established": "established_on", "status": "status",
                    "credit_level": "credit_level", "tags": "tags", "uscc": "uscc"}


@functools.lru_cache(maxsize=4096)
def _rule(text: str) -> tuple[Rule, tuple[str, ...]]:
    """A rule parsed once per rule text (every page lists the same few policies), with the
    fact attributes it reads."""
    rule = parse_rule(orjson.loads(text))
    return rule, tuple(sorted(_FACT_ATTRIBUTES[field] for field in rule_fields(rule)))


_explained: BoundedMemo[tuple[Any, ...], list[str]] = BoundedMemo(max_entries=50_000)


def _reasons(rule_text: str, enterprise: Mapping[str, Any]) -> list[str]:
    """`explain` for a policy's rule, remembered per rule and the facts that rule reads (as
    the page row has them; its tags are sorted): thousands of enterprises share the same few
    answers, and a remembered one needs no EnterpriseFacts. Callers must not change the list."""
    rule, attributes = _rule(rule_text)
    key = (rule_text, *(tuple(value) if isinstance(value := enterprise[name], list) else value
                        for name in attributes))
    return _explained.get(key, lambda: explain(rule, facts_from_page_row(enterprise)))


# A policy as pages show it, its rule as JSON text, and where it sorts among the page's
# policies (open first, closing soonest first; then upcoming, opening soonest; then closed,
# latest first): all fixed for a version and a day.
PageView = tuple[dict[str, Any], str, tuple[int, int]]
_page_views: BoundedMemo[tuple[Any, ...], PageView] = BoundedMemo(max_entries=4096)


def _page_order(view: Mapping[str, Any]) -> tuple[int, int]:
    state = view["window"]
    if state == "open":  # no closing date last
        day = view["closes_on"]
        return 0, dt.date.fromisoformat(day).toordinal() if day else dt.date.max.toordinal()
    if state == "upcoming":
        return 1, dt.date.fromisoformat(view["opens_on"]).toordinal()
    return 2, -dt.date.fromisoformat(view["closes_on"]).toordinal()


def _page_view(key: tuple[Any, ...], row: Mapping[str, Any], today: dt.date) -> PageView:
    """A policy as every matched page shows it, built once per version `key` (id and
    `updated_at`) and day: the same few policies appear on tens of thousands of pages. Callers
    copy it."""

    def build() -> PageView:
        view = public_view({**row, "status": "published"}, today=today)
        view.pop("guide", None)
        view.pop("guide_hant", None)
        return view, str(row["rule"]), _page_order(view)

    return _page_views.get((*key, today), build)


async def page_details(batch: Sequence[Sequence[Sequence[Any]]]) -> dict[tuple[Any, ...],
                                                                         PageView]:
    """Every policy a batch of pages shows, by version (PAGE_MATCH_ROW's id and updated_at):
    remembered, or read in one query for the policies this process has not shown at that
    version today."""
    today = clock.today_shanghai()
    details, missing = split_remembered(
        (((row[0], row[1]), int(row[0])) for rows in batch for row in rows),
        lambda key: _page_views.peek((*key, today)))
    if missing:
        latest = {int(r["id"]): r for r in await repo.policy_details(
            sorted(set(missing.values())))}
        for key, policy_id in missing.items():
            policy = latest.get(policy_id)
            if policy is not None:  # else deleted since the page's statement: left out
                # Remembered under the version read here (an edit since shows at once).
                details[key] = _page_view((policy["id"], policy["updated_at"]), policy, today)
    return details


def page_section(enterprise: Mapping[str, Any], rows: Sequence[Sequence[Any]],
                 details: Mapping[tuple[Any, ...], PageView],
                 ) -> tuple[dict[str, Any], dict[str, int]]:
    """The page's `policies` section (PAGE_MATCH_ROW rows, the policies from `page_details`):
    matched policies the enterprise still qualifies for, open first (closing soonest first),
    then upcoming, then closed, each with its reasons."""
    chosen: list[tuple[tuple[int, int], dict[str, Any]]] = []
    for policy_id, updated_at, matched_at in rows:
        found = details.get((policy_id, updated_at))
        if found is None:
            continue
        view, rule_text, order = found
        reasons = _reasons(rule_text, enterprise)
        if reasons:
            chosen.append((order, {**view, "reasons": reasons, "matched_at": iso(matched_at)}))
    chosen.sort(key=lambda pair: pair[0])  # stable: equal windows keep the rows' order
    items = [item for _, item in chosen]
    open_count = sum(1 for i in items if i["window"] == "open")
    return ({"open": open_count, "total": len(items), "items": items[:PAGE_ITEMS]},
            {"policies_open": open_count})


# -------------------------------------------------------------------------- re-matching


async def rematch_policies(changes: Sequence[EnterpriseChange]) -> int:
    """Enterprises whose relevant fields changed get the open (or upcoming) published policies
    they now qualify for, inserted set-based exactly once (see `notices.service.rematch`)."""
    return await rematch(changes, await repo.rematchable(clock.today_shanghai()),
                         _POLICY_REMATCH)
