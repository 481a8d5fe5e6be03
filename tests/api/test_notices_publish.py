"""Publishing targeted notices over HTTP: drafts, preview, jurisdiction, idempotent publish,
scheduling, recall and what the enterprise page shows."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx

from core import clock
from notices import service
from notices.models import Notice, NoticeRecipient
from tests.notices.helpers import RULE_ALL, RULE_HIGH_TECH, RULE_NANSHA, make_world, operator_token


async def test_draft_validation_names_every_bad_field(client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    resp = await client.post("/v1/notices", headers=w.h(w.publisher), json={
        "kind": "memo", "title": "长" * 81, "body": "x", "action_url": "http://insecure.example",
        "rule": {"any": [{"field": "zone", "op": "prefix", "value": "nansha"}]},
        "expire_at": "2026-01-01T00:00:00Z", "publish_at": "2026-02-01T00:00:00Z",
        "colour": "red",
    })
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"kind", "title", "action_url", "rule/any/0/op", "expire_at", "colour"} <= fields


async def test_body_is_sanitized_and_source_kept(client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    source = "**注意** <script>alert(1)</script>[链接](javascript:alert(1)) <img src=x>"
    notice = await w.draft(body=source)
    assert notice["body"] == source
    assert "<strong>注意</strong>" in notice["body_html"]
    html = notice["body_html"]
    assert "<script" not in html and "alert(1)</" not in html and "<img" not in html
    assert 'href="javascript' not in html


async def test_preview_counts_and_samples_inside_jurisdiction(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    resp = await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                             json={"rule": RULE_NANSHA})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["enterprises"] == 2 and body["people"] == 2 and body["devices"] == 0
    assert {s["uscc"] for s in body["sample"]} == {w.enterprises["南沙甲"], w.enterprises["南沙乙"]}
    assert body["outside_jurisdiction"] == 0


async def test_preview_rejects_bad_rule_with_path(client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    resp = await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                             json={"rule": {"any": [{"field": "zone", "op": "like", "value": 1}]}})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "rule/any/0/op"
    resp = await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                             json={"rule": RULE_ALL, "extra": 1})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "extra"


async def test_rule_reaching_outside_jurisdiction_is_refused_not_narrowed(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    resp = await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                             json={"rule": RULE_ALL})
    assert resp.status_code == 403, resp.text
    problem = resp.json()
    assert problem["field"] == "rule" and problem["outside_jurisdiction"] == 1
    notice = await w.draft(rule=RULE_ALL)
    resp = await w.publish(notice["id"])
    assert resp.status_code == 403 and resp.json()["outside_jurisdiction"] == 1
    assert await NoticeRecipient.filter(notice_id=notice["id"]).count() == 0
    assert (await Notice.get(id=notice["id"])).status == "draft"
    # Admins have no jurisdiction limit.
    admin_notice = await w.draft(w.admin, rule=RULE_ALL)
    resp = await w.publish(admin_notice["id"], w.admin)
    assert resp.status_code == 200 and resp.json()["recipient_count"] == 3


async def test_publish_snapshots_recipients_and_shows_on_pages(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    before = await w.page("南沙甲")
    assert before["badges"]["notices_unread"] == 0
    notice = await w.published(rule=RULE_NANSHA, kind="warning", priority="urgent")
    assert notice["status"] == "published" and notice["recipient_count"] == 2
    page = await w.page("南沙甲")
    assert page["badges"]["notices_unread"] == 1
    assert page["notices"]["items"][0]["title"] == notice["title"]
    other = await w.page("前海丙")
    assert other["badges"]["notices_unread"] == 0 and other["notices"]["items"] == []


async def test_concurrent_publish_with_same_key_publishes_once(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.draft()
    first, second = await asyncio.gather(w.publish(notice["id"], key="pub-1"),
                                         w.publish(notice["id"], key="pub-1"))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    assert {first.headers.get("idempotent-replayed"), second.headers.get("idempotent-replayed")} \
        == {None, "true"}
    assert await NoticeRecipient.filter(notice_id=notice["id"]).count() == 2
    # A later retry with the key still gets the same answer; without it, a clean 409.
    again = await w.publish(notice["id"], key="pub-1")
    assert again.status_code == 200 and again.json() == first.json()
    conflict = await w.publish(notice["id"])
    assert conflict.status_code == 409 and conflict.json()["field"] == "status"


async def test_create_is_idempotent_with_key(client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    body = {"kind": "notice", "title": "通知", "body": "正文", "rule": RULE_NANSHA}
    headers = {**w.h(w.publisher), "Idempotency-Key": "create-1"}
    one, two = await asyncio.gather(client.post("/v1/notices", json=body, headers=headers),
                                    client.post("/v1/notices", json=body, headers=headers))
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] == two.json()["id"]
    assert await Notice.all().count() == 1
    reused = await client.post("/v1/notices", json={**body, "title": "别的"}, headers=headers)
    assert reused.status_code == 422 and reused.json()["field"] == "Idempotency-Key"


async def test_idempotency_keys_are_kept_a_day_then_forgotten(client: httpx.AsyncClient) -> None:
    w = await make_world(client, enterprises=False)
    body = {"kind": "notice", "title": "通知", "body": "正文", "rule": RULE_NANSHA}
    headers = {**w.h(w.publisher), "Idempotency-Key": "create-daily"}
    start = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    first = await client.post("/v1/notices", json=body, headers=headers)
    clock.freeze(start + dt.timedelta(hours=23, minutes=59))
    assert await service.expire_idempotency_keys() == 0
    retried = await client.post("/v1/notices", json=body, headers=headers)
    assert retried.json()["id"] == first.json()["id"]  # still a retry: the same notice
    clock.freeze(start + dt.timedelta(hours=24, seconds=1))
    assert await service.expire_idempotency_keys() == 1
    later = await client.post("/v1/notices", json=body, headers=headers)
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    assert await Notice.all().count() == 2


async def test_scheduled_notice_is_published_when_due(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    start = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    notice = await w.draft(publish_at="2026-03-01T04:00:00Z")
    resp = await w.publish(notice["id"])
    assert resp.status_code == 200 and resp.json()["status"] == "scheduled"
    assert await service.publish_due() == 0
    assert (await w.page("南沙甲"))["badges"]["notices_unread"] == 0
    clock.freeze(start + dt.timedelta(hours=2, seconds=1))
    results = await asyncio.gather(service.publish_due(), service.publish_due())
    assert sum(results) == 1
    assert await NoticeRecipient.filter(notice_id=notice["id"]).count() == 2
    assert (await w.page("南沙甲"))["badges"]["notices_unread"] == 1


async def test_recall_hides_from_page_and_inbox_but_keeps_records(
        client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published()
    assert (await w.page("南沙甲"))["badges"]["notices_unread"] == 1
    resp = await client.post(f"/v1/notices/{notice['id']}/recall", headers=w.h(w.publisher))
    assert resp.status_code == 200 and resp.json()["recalled_at"]
    page = await w.page("南沙甲")
    assert page["badges"]["notices_unread"] == 0 and page["notices"]["items"] == []
    assert (await w.inbox("南沙甲"))["items"] == []
    detail = await client.get(f"/v1/enterprises/{w.enterprises['南沙甲']}/notices/{notice['id']}",
                              headers=w.h(w.staff["南沙甲"]))
    assert detail.status_code == 404
    assert await NoticeRecipient.filter(notice_id=notice["id"]).count() == 2


async def test_expired_notice_drops_off(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    start = dt.datetime(2026, 5, 1, 1, 0, tzinfo=dt.UTC)
    clock.freeze(start)
    await w.published(expire_at="2026-05-01T03:00:00Z")
    assert (await w.inbox("南沙甲"))["unread"] == 1
    clock.freeze(start + dt.timedelta(hours=3))
    assert (await w.inbox("南沙甲"))["items"] == []
    await service.publish_due()  # the sweep bumps cached pages
    assert (await w.page("南沙甲"))["badges"]["notices_unread"] == 0


async def test_other_department_cannot_touch_or_read_stats(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    notice = await w.published()
    _, other = await operator_token(client, "tax.pub", department="南沙税务局", zones=["nansha"])
    for method, path in [("GET", "stats"), ("GET", "receipts"), ("GET", "audit"),
                         ("POST", "recall"), ("GET", "revisions")]:
        resp = await client.request(method, f"/v1/notices/{notice['id']}/{path}",
                                    headers=w.h(other))
        assert resp.status_code == 403, (path, resp.text)
    _, colleague = await operator_token(client, "nansha.pub2", zones=["nansha"])
    resp = await client.get(f"/v1/notices/{notice['id']}/stats", headers=w.h(colleague))
    assert resp.status_code == 200


async def test_staff_cannot_publish_or_preview(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    resp = await client.post("/v1/audiences/preview", headers=w.h(w.staff["南沙甲"]),
                             json={"rule": RULE_HIGH_TECH})
    assert resp.status_code == 403
    resp = await client.post("/v1/notices", headers=w.h(w.staff["南沙甲"]),
                             json={"kind": "notice", "title": "x", "body": "y"})
    assert resp.status_code == 403
