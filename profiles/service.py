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
    lookup = cache.local_lookup(uscc, day=day, person_id=person_id)
    if lookup is None:
        lookup = await cache.lookup(uscc, day=day, person_id=person_id)
    role_known = person_id is not None and lookup.role_known
    if role_known and not lookup.role:
        raise Forbidden("You are not a member of this enterprise.")
    if person_id is None:
        await authorize_enterprise_read(principal, uscc)  # admins, kiosk sessions: token alone
    elif not role_known and lookup.page is not None:
        role = await repository.membership_role(person_id, uscc)
        await cache.remember_role(person_id, uscc, role, started_at=lookup.sequence)
        if role is None:
            raise Forbidden("You are not a member of this enterprise.")
    if lookup.page is not None:
        return lookup.page  # the hot path: no database, no Redis write
    # A cold page: the membership check rides in the render's statement (profiles.page).
    asker = None if role_known else person_id
    kept = await _first_views(FirstView(uscc, asker, lookup, day))
    if asker is not None and kept.role is None:
        raise Forbidden("You are not a member of this enterprise.")
    if kept.page is None:
        raise NotFound(f"No enterprise {uscc} is registered.", field="uscc")
    return kept.page


@dataclass(frozen=True, slots=True)
class FirstView:
    uscc: str
    asker: int | None  # the person whose membership the render checks, if not known yet
    lookup: Lookup
    day: str


@dataclass(frozen=True, slots=True)
class KeptPage:
    page: CachedPage | None  # None: no such enterprise
    role: str | None  # the asker's membership role; None: not a member, or nobody asked


async def _render_and_keep(views: Sequence[FirstView]) -> list[KeptPage]:
    """A batch of first views in one step: one render statement, and the pages kept in this
    process before the callers resume, while Redis is written behind them (the callers used
    to wait for that write, a third batch round trip per page)."""
    rendered = await render_pages([PageQuery(v.uscc, v.asker) for v in views])
    to_keep = [ToKeep(v.uscc, v.lookup, v.day, orjson.dumps(r.page),
                      None if v.asker is None else (v.asker, r.role))
               for v, r in zip(views, rendered, strict=True) if r.page is not None]
    pages = iter(get_page_cache().keep_many(to_keep))
    return [KeptPage(next(pages) if r.page is not None else None, r.role) for r in rendered]


# Concurrent first views share one render and one Redis write (core.batching).
_first_views: Batcher[FirstView, KeptPage] = Batcher(_render_and_keep, name="page.first_views")


def page_as_json(page: CachedPage) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(page.body)
    return result
