"""Use cases of the profiles domain. Each runs in one transaction opened here (the edge of the
domain); cache invalidation and change events happen only after the commit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from tortoise.transactions import in_transaction

from core import clock
from core.batching import Batcher
from core.errors import Forbidden, NotFound, ValidationFailed
from core.principals import Principal
from profiles import repository
from profiles.page import render_pages
from profiles.page_cache import CachedPage, Lookup, ToKeep, get_page_cache
from profiles.repository import EnterpriseChange, PageQuery
from profiles.schemas import EnterpriseInput, MatterInput

log = logging.getLogger(__name__)

# Other domains react to profile changes (policy re-matching) without profiles importing them.
ProfileListener = Callable[[Sequence[EnterpriseChange]], Awaitable[object]]  # result ignored
_listeners: list[ProfileListener] = []


def on_profiles_changed(listener: ProfileListener) -> None:
    _listeners.append(listener)


async def _notify(changes: Sequence[EnterpriseChange]) -> None:
    changed = [c for c in changes if c.changed_fields]
    if not changed:
        return
    await get_page_cache().invalidate(*(c.uscc for c in changed))
    for listener in _listeners:
        await listener(changed)


async def put_enterprises(
    rows: Sequence[EnterpriseInput],
    *,
    source_system: str,
    progress: Callable[[int, int], None] | None = None,
) -> list[EnterpriseChange]:
    """All rows commit together or not at all."""
    changes: list[EnterpriseChange] = []
    step = 5000
    async with in_transaction():
        for start in range(0, len(rows), step):
            changes.extend(await repository.upsert_enterprises(
                rows[start:start + step], source_system=source_system
            ))
            if progress:
                progress(min(start + step, len(rows)), len(rows))
    await _notify(changes)
    log.info("profiles.enterprises.upserted", extra={
        "source_system": source_system, "rows": len(rows),
        "created_count": sum(c.created for c in changes),
        "changed": sum(bool(c.changed_fields) for c in changes),
    })
    return changes


async def put_matter(matter: MatterInput) -> str:
    enterprise_id = await repository.enterprise_id_by_uscc(matter.uscc)
    if enterprise_id is None:
        raise ValidationFailed(f"uscc: no enterprise {matter.uscc} is registered", field="uscc")
    async with in_transaction():
        previous = await repository.enterprise_ids_for_matter(
            matter.source_system, matter.external_id
        )
        outcome = await repository.upsert_matter(matter, enterprise_id=enterprise_id)
    if outcome != "stale":
        affected = {matter.uscc}
        for other_id in previous:
            if other_id != enterprise_id and (other := await repository.uscc_by_id(other_id)):
                affected.add(other)  # the matter moved away from this enterprise's page
        await get_page_cache().invalidate(*affected)
    log.info("profiles.matter.upserted", extra={
        "source_system": matter.source_system, "external_id": matter.external_id,
        "outcome": outcome,
    })
    return outcome


async def authorize_enterprise_read(principal: Principal, uscc: str) -> str | None:
    """Returns the caller's role. Staff see only enterprises they belong to; admins see all."""
    if principal.is_admin:
        return "admin"
    if principal.kind == "kiosk_session":
        if principal.claims.get("ent") == uscc:
            return "kiosk"
        raise Forbidden("This kiosk session is for another enterprise.")
    if principal.kind != "person":
        raise Forbidden("Only members of this enterprise may read its page.")
    role = await repository.membership_role(principal.id, uscc)
    if role is None:
        raise Forbidden("You are not a member of this enterprise.")
    return role


def cached_page_for_member(person_id: int, uscc: str) -> CachedPage | None:
    """Today's page from this process's cache when this person is known, from the same cache,
    to be a member; None in every other case (then `get_page` decides)."""
    lookup = get_page_cache().local_lookup(uscc, day=clock.today_shanghai().isoformat(),
                                           person_id=person_id)
    if lookup is None or not lookup.role_known or not lookup.role:
        return None
    return lookup.page


async def get_page(principal: Principal, uscc: str) -> CachedPage:
    cache = get_page_cache()
    day = clock.today_shanghai().isoformat()
    person_id = principal.id if principal.kind == "person" else None
    if person_id is None:
        await authorize_enterprise_read(principal, uscc)  # admins, kiosk sessions: token alone
    lookup = cache.local_lookup(uscc, day=day, person_id=person_id)
    if lookup is not None:  # the hot path: no database, no Redis
        if person_id is not None and not lookup.role:
            raise Forbidden("You are not a member of this enterprise.")
        return lookup.page  # type: ignore[return-value]  # local_lookup has a page or is None
    found = await _first_views(FirstView(uscc, person_id, day))
    if found.role_known and person_id is not None and not found.role:
        raise Forbidden("You are not a member of this enterprise.")
    if found.page is None:
        raise NotFound(f"No enterprise {uscc} is registered.", field="uscc")
    if person_id is not None and not found.role_known:
        # A page another process rendered (Redis), for a person this process has not checked.
        role = await repository.membership_role(person_id, uscc)
        await cache.remember_role(person_id, uscc, role, started_at=found.sequence)
        if role is None:
            raise Forbidden("You are not a member of this enterprise.")
    return found.page


@dataclass(frozen=True, slots=True)
class FirstView:
    uscc: str
    person_id: int | None  # the person asking, whose membership is checked on the way
    day: str


@dataclass(frozen=True, slots=True)
class Found:
    page: CachedPage | None  # None: no such enterprise, or not rendered for a non-member
    role: str | None  # the asker's membership role; None: not a member, or nobody asked
    role_known: bool  # False only for a page from Redis whose asker is not checked yet
    sequence: int  # layer-1 invalidation sequence when the lookup started


async def _look_and_render(views: Sequence[FirstView]) -> list[Found]:
    """A batch of first views in one step: one MGET on Redis for pages another process
    rendered (and membership answers), one render statement for the rest, and those pages
    kept in this process before the callers resume, while Redis is written behind them.
    The lookup and the render used to be two batch steps, and each first view waited in
    both queues; pages found in Redis are handed out before the render."""
    cache = get_page_cache()
    lookups = await cache.lookup_many([(v.uscc, v.day, v.person_id) for v in views])
    found: list[Found | None] = []
    to_render: list[tuple[int, FirstView, Lookup, int | None]] = []  # … and whom to check
    for index, (view, lookup) in enumerate(zip(views, lookups, strict=True)):
        asker = None if lookup.role_known else view.person_id
        if lookup.page is not None or (view.person_id is not None and asker is None
                                       and not lookup.role):
            # From Redis, or a known non-member (refused without rendering): answered now,
            # not after the others' render.
            answer = Found(lookup.page, lookup.role, asker is None, lookup.sequence)
            _first_views.hand_out(index, answer)
            found.append(answer)
        else:
            found.append(None)
            to_render.append((index, view, lookup, asker))
    if to_render:
        rendered = await render_pages([PageQuery(view.uscc, asker)
                                       for _, view, _, asker in to_render])
        to_keep = [ToKeep(view.uscc, lookup, view.day, orjson.dumps(r.page),
                          None if asker is None else (asker, r.role))
                   for (_, view, lookup, asker), r in zip(to_render, rendered, strict=True)
                   if r.page is not None]
        pages = iter(cache.keep_many(to_keep))
        for (index, _, lookup, asker), r in zip(to_render, rendered, strict=True):
            found[index] = Found(next(pages) if r.page is not None else None,
                                 lookup.role if asker is None else r.role, True,
                                 lookup.sequence)
    return [f for f in found if f is not None]


# Concurrent first views share one MGET, one render and one Redis write (core.batching).
_first_views: Batcher[FirstView, Found] = Batcher(_look_and_render, name="page.first_views")


def page_as_json(page: CachedPage) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(page.body)
    return result
