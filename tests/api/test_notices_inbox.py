"""The enterprise side: listing (unread first, cursor pages), reading, acknowledging and
archiving, exact unread counts under concurrency, corrections, and who may do what."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from core import clock
from core.tokens import get_tokens
from notices import service
from notices.models import NoticeRecipient
from profiles.models import Operator
from tests.notices.helpers import RULE_NANSHA, World, make_world, operator_token


def _path(w: World, label: str, notice_id: int | None = None, action: str = "") -> str:
    base = f"/v1/enterprises/{w.enterprises[label]}/notices"
    if notice_id is not None:
        base += f"/{notice_id}"
    return base + (f"/{action}" if action else "")


async def test_unread_first_then_newest_with_stable_cursor(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    ids = [(await w.published(title=f"通知{i}"))["id"] for i in range(5)]
    # Read the newest one: it moves behind the unread ones.
    resp = await client.post(_path(w, "南沙甲", ids[4], "read"), headers=w.h(w.staff["南沙甲"]))
    assert resp.status_code == 200 and resp.json()["read"] is True
    first = await w.inbox("南沙甲", limit=2)
    assert [i["id"] for i in first["items"]] == [ids[3], ids[2]]
    assert first["unread"] == 4 and first["next_cursor"]
    # A notice published between pages never shifts or repeats what follows.
    newer = await w.published(title="新通知")
    second = await w.inbox("南沙甲", limit=2, cursor=first["next_cursor"])
    assert [i["id"] for i in second["items"]] == [ids[1], ids[0]]
    third = await w.inbox("南沙甲", limit=2, cursor=second["next_cursor"])
    assert [i["id"] for i in third["items"]] == [ids[4]] and third["next_cursor"] is None
    everything = await w.inbox("南沙甲", limit=100)
    assert everything["items"][0]["id"] == newer["id"]
    unread = await w.inbox("南沙甲", state="unread")
    assert ids[4] not in [i["id"] for i in unread["items"]] and len(unread["items"]) == 5


async def test_bad_cursor_and_state_are_problems(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    headers = w.h(w.staff["南沙甲"])
    resp = await client.get(_path(w, "南沙甲"), params={"cursor": "garbage!"}, headers=headers)
    assert resp.status_code == 422 and resp.json()["field"] == "cursor"
    resp = await client.get(_path(w, "南沙甲"), params={"state": "starred"}, headers=headers)
    assert resp.status_code == 422 and resp.json()["field"] == "state"
    resp = await client.get(_path(w, "南沙甲"), params={"sort": "x"}, headers=headers)
    assert resp.status_code == 422 and resp.json()["field"] == "sort"


async def test_concurrent_reads_keep_unread_exact(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    ids = [(await w.published(title=f"通知{i}"))["id"] for i in range(6)]
    headers = w.h(w.staff["南沙甲"])
    targets = [ids[i % 4] for i in range(40)]  # 4 distinct notices, each read 10 times at once
    results = await asyncio.gather(*(client.post(_path(w, "南沙甲", n, "read"), headers=headers)
                                     for n in targets))
    assert all(r.status_code == 200 for r in results)
    page = await w.page("南沙甲")
    assert page["badges"]["notices_unread"] == 2 and page["notices"]["unread"] == 2
    assert (await w.inbox("南沙甲"))["unread"] == 2
    reads = await NoticeRecipient.filter(enterprise_id__isnull=False, read_at__isnull=False)
    assert len(reads) == 4  # first readers only, never double-counted
    # The other enterprise's state is its own.
    assert (await w.page("南沙乙"))["badges"]["notices_unread"] == 6


async def test_ack_only_when_required_idempotent_and_records_who(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    plain = await w.published()
    warning = await w.published(kind="warning", priority="urgent", ack_required=True)
    headers = w.h(w.staff["南沙甲"])
    resp = await client.post(_path(w, "南沙甲", plain["id"], "ack"), headers=headers)
    assert resp.status_code == 409 and resp.json()["field"] == "ack_required"
    first = await client.post(_path(w, "南沙甲", warning["id"], "ack"), headers=headers)
    second = await client.post(_path(w, "南沙甲", warning["id"], "ack"), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["acked_at"] == second.json()["acked_at"]
    body = first.json()
    assert body["acknowledged"] and body["read"]
    assert body["acked_by_person_id"] == w.staff_ids["南沙甲"]


async def test_archive_hides_from_default_list(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published()
    resp = await client.post(_path(w, "南沙甲", notice["id"], "archive"),
                             headers=w.h(w.staff["南沙甲"]))
    assert resp.status_code == 200 and resp.json()["archived"]
    assert (await w.inbox("南沙甲"))["items"] == []
    archived = await w.inbox("南沙甲", state="archived")
    assert [i["id"] for i in archived["items"]] == [notice["id"]]
    assert (await w.page("南沙甲"))["badges"]["notices_unread"] == 0


async def test_other_enterprises_users_are_refused_everywhere(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published()
    outsider = w.h(w.staff["前海丙"])  # a real person, member of another enterprise
    for method, action in [("GET", ""), ("POST", "read"), ("POST", "ack"), ("POST", "archive")]:
        resp = await client.request(method, _path(w, "南沙甲", notice["id"], action),
                                    headers=outsider)
        assert resp.status_code == 403, (action, resp.text)
    resp = await client.get(_path(w, "南沙甲"), headers=outsider)
    assert resp.status_code == 403
    # Notices never sent to an enterprise are not found, even for its own members.
    resp = await client.get(_path(w, "前海丙", notice["id"]), headers=outsider)
    assert resp.status_code == 404
    # Publishers are not enterprise members either.
    resp = await client.get(_path(w, "南沙甲"), headers=w.h(w.publisher))
    assert resp.status_code == 403


async def test_kiosk_session_reads_but_never_writes(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published()
    uscc = w.enterprises["南沙甲"]
    token, _ = get_tokens().issue(subject="kiosk_session:7", kind="kiosk_session",
                                  extra={"ent": uscc})
    kiosk = w.h(token)
    assert (await client.get(_path(w, "南沙甲"), headers=kiosk)).status_code == 200
    assert (await client.get(_path(w, "南沙甲", notice["id"]), headers=kiosk)).status_code == 200
    for action in ("read", "ack", "archive"):
        resp = await client.post(_path(w, "南沙甲", notice["id"], action), headers=kiosk)
        assert resp.status_code == 403, action
    assert (await client.get(_path(w, "南沙乙"), headers=kiosk)).status_code == 403


async def test_detail_explains_why_and_correction_is_marked(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published(rule={"all": [RULE_NANSHA, {"field": "tags", "op": "any",
                                                           "value": ["高新技术企业"]}]})
    detail = (await client.get(_path(w, "南沙甲", notice["id"]),
                               headers=w.h(w.staff["南沙甲"]))).json()
    assert detail["corrected"] is False and detail["corrected_label"] is None
    assert "片区：南沙" in detail["reasons"] and "标签：高新技术企业" in detail["reasons"]

    resp = await client.patch(f"/v1/notices/{notice['id']}", headers=w.h(w.publisher), json={
        "title": "关于开展年度企业年报工作的通知（更正）", "body": "截止日期更正为 **7月15日**。",
        "correction_note": "截止日期有误",
    })
    assert resp.status_code == 200, resp.text
    assert resp.json()["revision"] == 2
    detail = (await client.get(_path(w, "南沙甲", notice["id"]),
                               headers=w.h(w.staff["南沙甲"]))).json()
    assert detail["corrected"] is True and detail["corrected_label"] == "已更正"
    assert "7月15日" in detail["body_html"] and detail["title"].endswith("（更正）")
    page = await w.page("南沙甲")
    assert page["notices"]["items"][0]["corrected_label"] == "已更正"

    history = (await client.get(f"/v1/notices/{notice['id']}/revisions",
                                headers=w.h(w.publisher))).json()["items"]
    assert [r["number"] for r in history] == [1, 2]
    assert history[0]["body"] == "请于 **6月30日** 前完成年报。"
    assert history[1]["editor"] == f"operator:{w.publisher_id}"
    assert history[1]["note"] == "截止日期有误"
    assert set(history[1]["changes"]) == {"title", "body"}


async def test_revision_history_names_who_edited(client: httpx.AsyncClient) -> None:
    """修订记录 names a colleague's correction by their display name; the scheduler's publish and
    a since-deleted operator have no name (null), their `editor` subject stays as it was."""
    w = await make_world(client)
    colleague_id, colleague = await operator_token(client, "nansha.pub2", zones=["nansha"],
                                                   display_name="李文静")
    start = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    notice = await w.draft(publish_at="2026-03-01T04:00:00Z")
    assert (await w.publish(notice["id"])).json()["status"] == "scheduled"
    clock.freeze(start + dt.timedelta(hours=2, seconds=1))
    assert await service.publish_due() == 1
    for token, title in [(colleague, "年报通知（更正）"), (w.publisher, "年报通知（再更正）")]:
        resp = await client.patch(f"/v1/notices/{notice['id']}", headers=w.h(token),
                                  json={"title": title, "correction_note": "标题有误"})
        assert resp.status_code == 200, resp.text

    async def editors() -> list[tuple[str, str | None]]:
        resp = await client.get(f"/v1/notices/{notice['id']}/revisions", headers=w.h(w.publisher))
        assert resp.status_code == 200, resp.text
        return [(r["editor"], r["editor_name"]) for r in resp.json()["items"]]

    assert await editors() == [("system:scheduler", None),
                               (f"operator:{colleague_id}", "李文静"),
                               (f"operator:{w.publisher_id}", "nansha.pub")]
    await Operator.filter(id=colleague_id).delete()
    assert (await editors())[1] == (f"operator:{colleague_id}", None)


async def test_published_audience_cannot_be_edited(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published()
    for change in ({"rule": {"field": "zone", "op": "eq", "value": "hengqin"}},
                   {"ack_required": True}, {"kind": "warning"}):
        resp = await client.patch(f"/v1/notices/{notice['id']}", headers=w.h(w.publisher),
                                  json=change)
        assert resp.status_code == 409, resp.text
        assert resp.json()["field"] == next(iter(change))
    unchanged = await client.patch(f"/v1/notices/{notice['id']}", headers=w.h(w.publisher),
                                   json={"title": notice["title"]})
    assert unchanged.status_code == 200 and unchanged.json()["revision"] == 1


async def test_drafts_edit_freely_without_revisions(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.draft()
    resp = await client.patch(f"/v1/notices/{notice['id']}", headers=w.h(w.publisher),
                              json={"kind": "warning", "rule": None, "body_format": "html",
                                    "body": "<p>改为 <b>HTML</b></p><script>x()</script>"})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    assert body["kind"] == "warning" and body["rule"] is None and body["revision"] == 0
    assert body["body_html"] == "<p>改为 <b>HTML</b></p>"
    publish = await w.publish(notice["id"])
    assert publish.status_code == 422 and publish.json()["field"] == "rule"
