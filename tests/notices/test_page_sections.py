"""The page's notices and policies sections: rows carry ids and versions, and what they refer
to is remembered per version or read once for what this process has not seen."""

from __future__ import annotations

import httpx

from core import clock
from notices import policies, service
from profiles.page import build_page, load_pages
from profiles.repository import PageQuery
from tests.api.test_notices_policies import create_policy, publish_policy
from tests.notices.helpers import RULE_NANSHA, make_world


def _forget_everything_shown() -> None:
    """As a process that has never shown these notices and policies (a new worker)."""
    for memo in (service._notice_items, policies._page_views, policies._explained):
        memo._values.clear()


async def test_a_page_is_the_same_whether_its_notices_and_policies_are_remembered_or_read(
    client: httpx.AsyncClient,
) -> None:
    w = await make_world(client)
    await w.published(rule=RULE_NANSHA, title="关于开展年报工作的通知")
    await publish_policy(w, (await create_policy(w))["id"])
    uscc = w.enterprises["南沙甲"]
    remembered = await build_page(uscc)
    assert remembered is not None
    assert [i["title"] for i in remembered["notices"]["items"]] == ["关于开展年报工作的通知"]
    assert remembered["policies"]["items"] and remembered["policies"]["items"][0]["reasons"]
    _forget_everything_shown()
    assert await build_page(uscc) == remembered


async def test_what_a_page_read_is_remembered_under_the_versions_its_rows_carry(
    client: httpx.AsyncClient,
) -> None:
    """Otherwise every cold page would read the notices and policies again: the page's rows
    (JSON text on PostgreSQL) and the detail queries must spell a version the same way."""
    w = await make_world(client)
    notice = await w.published(rule=RULE_NANSHA)
    policy = await publish_policy(w, (await create_policy(w))["id"])
    _forget_everything_shown()
    [loaded] = await load_pages([PageQuery(w.enterprises["南沙甲"], None)])
    by_name = {section.name: (rows, details) for section, rows, details in loaded.sections}
    notice_rows, notice_details = by_name["notices"]
    assert [row[0] for row in notice_rows] == [notice["id"]]
    assert notice_details  # read, as nothing was remembered
    [notice_key] = [tuple(row[:5]) for row in notice_rows]
    assert service._notice_items.peek(notice_key) is not None
    policy_rows, policy_details = by_name["policies"]
    assert [row[0] for row in policy_rows] == [policy["id"]]
    assert policy_details
    day = clock.today_shanghai()
    assert all(policies._page_views.peek((row[0], row[1], day)) is not None for row in policy_rows)


async def test_a_correction_shows_on_pages_rendered_after_it(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published(rule=RULE_NANSHA, title="原标题")
    uscc = w.enterprises["南沙甲"]
    before = await build_page(uscc)
    assert before is not None and before["notices"]["items"][0]["title"] == "原标题"
    resp = await client.patch(f"/v1/notices/{notice['id']}", headers=w.h(w.publisher),
                              json={"title": "更正后的标题", "correction_note": "标题有误"})
    assert resp.status_code == 200, resp.text
    after = await build_page(uscc)
    assert after is not None
    [item] = after["notices"]["items"]
    assert item["title"] == "更正后的标题" and item["corrected_label"] == "已更正"
