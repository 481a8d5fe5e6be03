"""The policy library: drafting, publishing (matching), public search, the page's policies
section with reasons, and re-matching when a profile changes (policies and standing notices)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from core import clock
from notices.models import NoticeRecipient, PolicyMatch
from tests.notices.helpers import RULE_HIGH_TECH, RULE_NANSHA, World, make_world


def policy_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "高新技术企业认定奖励", "title_hant": "高新技術企業認定獎勵",
        "category": "科技创新",
        "benefit_summary": "首次认定的高新技术企业一次性奖励 30 万元",
        "source_url": "https://www.gzns.gov.cn/zwgk/zcwj/gfxwj/content/post_1.html",
        "guide": {"who_qualifies": "南沙区内有效期内的高新技术企业",
                  "how_to_apply": "登录南沙政务服务网在线申报", "contact": "020-12345678"},
        "rule": {"all": [RULE_NANSHA, RULE_HIGH_TECH]},
        "opens_on": "2026-01-01", "closes_on": "2026-12-31",
    }
    body.update(overrides)
    return body


async def create_policy(w: World, token: str | None = None, **overrides: Any) -> dict[str, Any]:
    resp = await w.client.post("/v1/policies", json=policy_body(**overrides),
                               headers=w.h(token or w.publisher))
    assert resp.status_code == 201, resp.text
    result: dict[str, Any] = resp.json()
    return result


async def publish_policy(w: World, policy_id: int, token: str | None = None) -> dict[str, Any]:
    resp = await w.client.post(f"/v1/policies/{policy_id}/publish",
                               headers=w.h(token or w.publisher))
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


async def test_policy_validation(client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    resp = await client.post("/v1/policies", headers=w.h(w.publisher), json=policy_body(
        category="娱乐", guide={"who_qualifies": "x", "contact": "y", "fax": "z"},
        opens_on="2026-05-01", closes_on="2026-04-01", source_url="ftp://x",
        rule={"field": "size", "op": "eq", "value": "huge"},
    ))
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"category", "guide/how_to_apply", "guide/fax", "closes_on", "source_url",
            "rule/value"} <= fields
    resp = await client.post("/v1/policies", headers=w.h(w.publisher),
                             json=policy_body(department="市税务局"))
    assert resp.status_code == 403 and resp.json()["field"] == "department"


async def test_publish_matches_and_page_lists_with_reasons(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    clock.freeze(dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC))
    policy = await create_policy(w)
    assert policy["status"] == "draft"
    published = await publish_policy(w, policy["id"])
    assert published["match_count"] == 1 and published["window"] == "open"
    upcoming = await publish_policy(w, (await create_policy(
        w, title="专精特新奖励", opens_on="2026-09-01", closes_on="2026-10-31",
        rule=RULE_NANSHA))["id"])
    closed = await publish_policy(w, (await create_policy(
        w, title="去年的补贴", opens_on="2025-01-01", closes_on="2025-12-31",
        rule=RULE_NANSHA))["id"])
    page = await w.page("南沙甲")
    section = page["policies"]
    assert [i["id"] for i in section["items"]] == [policy["id"], upcoming["id"], closed["id"]]
    assert [i["window"] for i in section["items"]] == ["open", "upcoming", "closed"]
    assert page["badges"]["policies_open"] == 1
    first = section["items"][0]
    assert "标签：高新技术企业" in first["reasons"] and "片区：南沙" in first["reasons"]
    assert first["title_hant"] == "高新技術企業認定獎勵"
    # 南沙乙 lacks the tag: only the two zone-wide policies.
    other = (await w.page("南沙乙"))["policies"]["items"]
    assert [i["id"] for i in other] == [upcoming["id"], closed["id"]]


async def test_public_search_without_auth(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    clock.freeze(dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC))
    a = await publish_policy(w, (await create_policy(w))["id"])
    b = await publish_policy(w, (await create_policy(
        w, title="稳岗返还", category="稳岗就业", benefit_summary="按失业保险费返还",
        opens_on="2026-06-01", closes_on="2026-07-01", rule=RULE_NANSHA))["id"])
    draft = await create_policy(w, title="未发布的草稿")
    resp = await client.get("/v1/policies")
    assert resp.status_code == 200
    assert [i["id"] for i in resp.json()["items"]] == [b["id"], a["id"]]
    assert "rule" not in resp.json()["items"][0]
    by_text = (await client.get("/v1/policies", params={"q": "失业保险"})).json()["items"]
    assert [i["id"] for i in by_text] == [b["id"]]
    by_category = (await client.get("/v1/policies", params={"category": "科技创新"})).json()
    assert [i["id"] for i in by_category["items"]] == [a["id"]]
    open_now = (await client.get("/v1/policies", params={"open": "true"})).json()["items"]
    assert [i["id"] for i in open_now] == [a["id"]]
    paged = (await client.get("/v1/policies", params={"limit": 1})).json()
    second = (await client.get("/v1/policies", params={"limit": 1,
                                                       "cursor": paged["next_cursor"]})).json()
    assert [paged["items"][0]["id"], second["items"][0]["id"]] == [b["id"], a["id"]]
    assert (await client.get(f"/v1/policies/{a['id']}")).json()["guide"]["contact"]
    assert (await client.get(f"/v1/policies/{draft['id']}")).status_code == 404
    managed = await client.get(f"/v1/policies/{draft['id']}", headers=w.h(w.publisher))
    assert managed.status_code == 200 and managed.json()["status"] == "draft"
    bad = await client.get("/v1/policies", params={"category": "娱乐"})
    assert bad.status_code == 422 and bad.json()["field"] == "category"
    cats = (await client.get("/v1/policies/categories")).json()["items"]
    assert cats[0]["name"] == "创业扶持" and any(c["name"] == "人才引进" for c in cats)


async def test_withdrawn_policy_leaves_page_and_search(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    clock.freeze(dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC))
    policy = await publish_policy(w, (await create_policy(w))["id"])
    assert (await w.page("南沙甲"))["badges"]["policies_open"] == 1
    resp = await client.post(f"/v1/policies/{policy['id']}/withdraw", headers=w.h(w.publisher))
    assert resp.status_code == 200 and resp.json()["status"] == "withdrawn"
    assert (await w.page("南沙甲"))["policies"]["items"] == []
    assert (await client.get("/v1/policies")).json()["items"] == []
    assert (await client.get(f"/v1/policies/{policy['id']}")).json()["status"] == "withdrawn"
    assert await PolicyMatch.filter(policy_id=policy["id"]).count() == 1


async def test_published_policy_rule_is_locked(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    policy = await publish_policy(w, (await create_policy(w))["id"])
    resp = await client.patch(f"/v1/policies/{policy['id']}", headers=w.h(w.publisher),
                              json={"rule": RULE_NANSHA})
    assert resp.status_code == 409 and resp.json()["field"] == "rule"
    resp = await client.patch(f"/v1/policies/{policy['id']}", headers=w.h(w.publisher),
                              json={"closes_on": "2027-03-31"})
    assert resp.status_code == 200 and resp.json()["closes_on"] == "2027-03-31"


async def test_policy_outside_jurisdiction_is_refused(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    policy = await create_policy(w, rule={"field": "zone", "op": "in",
                                          "value": ["nansha", "qianhai"]})
    resp = await client.post(f"/v1/policies/{policy['id']}/publish", headers=w.h(w.publisher))
    assert resp.status_code == 403
    assert resp.json()["field"] == "rule" and resp.json()["outside_jurisdiction"] == 1
    assert await PolicyMatch.filter(policy_id=policy["id"]).count() == 0


async def test_gaining_a_tag_brings_policy_and_standing_notice_exactly_once(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    clock.freeze(dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC))
    policy = await publish_policy(w, (await create_policy(w))["id"])
    standing = await w.published(title="高企专项通知", standing=True,
                                 rule={"all": [RULE_NANSHA, RULE_HIGH_TECH]})
    one_off = await w.published(title="一次性通知", rule={"all": [RULE_NANSHA, RULE_HIGH_TECH]})
    page = await w.page("南沙乙")
    assert page["policies"]["items"] == [] and page["notices"]["items"] == []

    resp = await w.update_enterprise("南沙乙", zone="nansha", industry_code="F5191",
                                     tags=["高新技术企业"])
    assert resp.status_code == 200 and "tags" in resp.json()["changed_fields"]
    page = await w.page("南沙乙")
    assert [i["id"] for i in page["policies"]["items"]] == [policy["id"]]
    assert "标签：高新技术企业" in page["policies"]["items"][0]["reasons"]
    assert [i["id"] for i in page["notices"]["items"]] == [standing["id"]]
    assert page["badges"]["notices_unread"] == 1

    # The same change again, and an unrelated change: still exactly one of each.
    await w.update_enterprise("南沙乙", zone="nansha", industry_code="F5191",
                              tags=["高新技术企业", "专精特新"])
    await w.update_enterprise("南沙乙", zone="nansha", industry_code="F5192",
                              tags=["高新技术企业", "专精特新"])
    eid = (await NoticeRecipient.get(notice_id=standing["id"], matched_via="rematch")).enterprise_id
    assert await NoticeRecipient.filter(notice_id=standing["id"], enterprise_id=eid).count() == 1
    assert await PolicyMatch.filter(policy_id=policy["id"], enterprise_id=eid).count() == 1
    assert await PolicyMatch.filter(policy_id=policy["id"], matched_via="rematch").count() == 1
    assert await NoticeRecipient.filter(notice_id=one_off["id"]).count() == 1  # not standing
    page = await w.page("南沙乙")
    assert len(page["policies"]["items"]) == 1 and len(page["notices"]["items"]) == 1


async def test_new_enterprise_finds_standing_notice(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    standing = await w.published(standing=True, rule=RULE_NANSHA)
    await w.enterprise("南沙新", zone="nansha", tags=[])
    page = await w.page("南沙新")
    assert [i["id"] for i in page["notices"]["items"]] == [standing["id"]]
    # Outside the publisher's jurisdiction a new enterprise is never matched.
    await w.enterprise("横琴新", zone="hengqin", region_code="440404", tags=[])
    assert (await w.page("横琴新"))["notices"]["items"] == []


async def test_the_worker_sweep_repairs_a_rematch_that_never_ran(
        client: httpx.AsyncClient) -> None:
    """A profile change commits and its process dies before the re-match listener runs (here:
    the repository write alone, in its transaction, without the service's notification). The
    worker's sweep finds what was missed, exactly once."""
    from tortoise.transactions import in_transaction

    from notices.page_sections import rematch_changed_since
    from profiles import repository as profiles_repository
    from profiles.schemas import parse_enterprise
    from tests import factories as f

    w = await make_world(client)
    start = dt.datetime(2026, 3, 10, 2, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    policy = await publish_policy(w, (await create_policy(w))["id"])
    standing = await w.published(title="高企专项通知", standing=True,
                                 rule={"all": [RULE_NANSHA, RULE_HIGH_TECH]})
    uscc = w.enterprises["南沙乙"]
    clock.freeze(start + dt.timedelta(minutes=5))
    changed = parse_enterprise(uscc, f.enterprise_body(
        name="南沙乙有限公司", zone="nansha", industry_code="F5191", tags=["高新技术企业"]),
        allow_legacy=False)
    async with in_transaction():
        await profiles_repository.upsert_enterprises([changed], source_system="test")
    assert await PolicyMatch.filter(policy_id=policy["id"], matched_via="rematch").count() == 0

    clock.freeze(start + dt.timedelta(minutes=6))
    assert await rematch_changed_since(start + dt.timedelta(minutes=4)) == 2
    page = await w.page("南沙乙")
    assert [i["id"] for i in page["policies"]["items"]] == [policy["id"]]
    assert [i["id"] for i in page["notices"]["items"]] == [standing["id"]]
    # Idempotent: the next sweep over the same window adds nothing.
    assert await rematch_changed_since(start + dt.timedelta(minutes=4)) == 0
    # Enterprises written before the window are not looked at.
    assert await rematch_changed_since(start + dt.timedelta(minutes=5, seconds=1)) == 0
