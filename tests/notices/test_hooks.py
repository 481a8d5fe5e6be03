"""The hooks the push issue builds on: listeners run inside the transaction that wrote the
recipients (so deliveries commit or roll back with them), device counters feed previews."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.db import conn, new_sql
from notices import policies, repository, service
from notices.models import Notice, NoticeRecipient
from notices.repository import Audience
from notices.service import RecipientListener, RecipientScope
from notices.targeting import parse_rule
from tests.notices.helpers import RULE_HIGH_TECH, RULE_NANSHA, make_world


@pytest.fixture
async def registered() -> AsyncIterator[list[RecipientListener]]:
    added: list[RecipientListener] = []
    yield added
    for listener in added:
        for registry in (service._published_listeners, policies._matched_listeners):
            if listener in registry:
                registry.remove(listener)


async def _rows_in_scope(scope: RecipientScope) -> int:
    sql = new_sql()
    rows = await conn().execute_query_dict(
        f"SELECT COUNT(*) AS n FROM {scope.table} r WHERE {scope.condition(sql, 'r')}",
        sql.params,
    )
    return int(rows[0]["n"])


async def test_listener_sees_new_recipients_inside_the_transaction(
        client: httpx.AsyncClient, registered: list[RecipientListener]) -> None:
    w = await make_world(client)
    seen: list[tuple[int, RecipientScope, int]] = []

    async def listener(notice_id: int, scope: RecipientScope) -> None:
        seen.append((notice_id, scope, await _rows_in_scope(scope)))

    service.on_published(listener)
    registered.append(listener)
    notice = await w.published(standing=True, rule={"all": [RULE_NANSHA, RULE_HIGH_TECH]})
    [(notice_id, scope, visible)] = seen
    assert notice_id == notice["id"] and scope.matched_via == "publish"
    assert scope.count == visible == 1 and scope.enterprise_ids is None

    await w.update_enterprise("南沙乙", zone="nansha", industry_code="F5191",
                              tags=["高新技术企业"])
    assert len(seen) == 2
    _, rematch, visible = seen[1]
    assert rematch.matched_via == "rematch" and rematch.count == visible == 1
    assert rematch.enterprise_ids is not None and len(rematch.enterprise_ids) == 1


async def test_failing_listener_rolls_the_publish_back(
        client: httpx.AsyncClient, registered: list[RecipientListener]) -> None:
    w = await make_world(client)

    async def broken(notice_id: int, scope: RecipientScope) -> None:
        raise RuntimeError("delivery table unavailable")

    service.on_published(broken)
    registered.append(broken)
    notice = await w.draft()
    with pytest.raises(RuntimeError):  # the test transport re-raises what became a 500
        await w.publish(notice["id"], key="k-1")
    assert (await Notice.get(id=notice["id"])).status == "draft"
    assert await NoticeRecipient.filter(notice_id=notice["id"]).count() == 0
    service._published_listeners.remove(broken)
    registered.clear()
    retry = await w.publish(notice["id"], key="k-1")  # nothing was stored for the key
    assert retry.status_code == 200 and retry.json()["recipient_count"] == 2


async def test_policy_listener_and_device_counter(
        client: httpx.AsyncClient, registered: list[RecipientListener]) -> None:
    w = await make_world(client)
    matched: list[RecipientScope] = []

    async def on_match(policy_id: int, scope: RecipientScope) -> None:
        matched.append(scope)

    async def devices(audience: Audience) -> int:
        sql = new_sql()
        ids_sql = audience.ids_sql(sql)
        rows = await conn().execute_query_dict(f"SELECT COUNT(*) * 2 AS n FROM ({ids_sql}) x",
                                               sql.params)
        return int(rows[0]["n"])

    policies.on_policy_matched(on_match)
    registered.append(on_match)
    service.register_device_counter(devices)
    try:
        preview = await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                                    json={"rule": RULE_NANSHA})
    finally:
        service._device_counters.remove(devices)
    assert preview.json()["devices"] == 4
    created = await client.post("/v1/policies", headers=w.h(w.publisher), json={
        "title": "政策", "category": "产业发展", "benefit_summary": "补贴",
        "guide": {"who_qualifies": "a", "how_to_apply": "b", "contact": "c"},
        "rule": RULE_NANSHA})
    assert created.status_code == 201, created.text
    published = await client.post(f"/v1/policies/{created.json()['id']}/publish",
                                  headers=w.h(w.publisher))
    assert published.status_code == 200
    assert [(s.table, s.matched_via, s.count) for s in matched] == [
        ("policy_matches", "publish", 2)]


async def test_large_audiences_are_estimated_from_a_sample(
        client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above EXACT_PEOPLE_UP_TO enterprises people may come from a sample, scaled; the
    enterprise count is always exact (it is what publishing snapshots)."""
    w = await make_world(client)
    for label in ("南沙丙", "南沙丁"):
        await w.enterprise(label, zone="nansha", tags=[])
    exact = (await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                               json={"rule": RULE_NANSHA})).json()
    assert exact["estimated"] is False and exact["people"] == exact["enterprises"] == 4
    monkeypatch.setattr(service, "EXACT_PEOPLE_UP_TO", 1)
    monkeypatch.setattr(service, "MIN_SAMPLE", 1)
    estimated = (await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                                   json={"rule": RULE_NANSHA})).json()
    assert estimated["enterprises"] == 4
    assert estimated["people"] == 4  # one person per enterprise: any sample scales to 4
    # The every-k-th-id sample selects exactly the ids divisible by k.
    rule = service.audience_rule(parse_rule(RULE_NANSHA), None)
    ids = [r["id"] for r in await conn().execute_query_dict(
        "SELECT id FROM enterprises WHERE zone = 'nansha'")]
    n, people = await repository.count_people(Audience(rule, sample_every=2))
    assert n == people == sum(1 for i in ids if i % 2 == 0)
