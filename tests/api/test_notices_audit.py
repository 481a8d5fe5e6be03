"""Full traceability (全程留痕): every publisher and admin action lands in the append-only audit
log with who, what, when and from where; admins manage publishers."""

from __future__ import annotations

import httpx
import pytest

from core.settings import reset_settings_cache
from notices.models import AuditEntry
from tests.notices.helpers import RULE_ALL, RULE_NANSHA, make_world


async def test_every_action_is_audited_with_origin(client: httpx.AsyncClient,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTPAGE_TRUSTED_PROXIES", "127.0.0.1/32")
    reset_settings_cache()  # settings are read once; this test changes them
    w = await make_world(client)
    h = {**w.h(w.publisher), "User-Agent": "console/1.0", "X-Forwarded-For": "203.0.113.9"}
    notice = (await client.post("/v1/notices", headers=h, json={
        "kind": "notice", "title": "通知", "body": "正文", "rule": RULE_NANSHA})).json()
    nid = notice["id"]
    assert (await client.patch(f"/v1/notices/{nid}", headers=h, json={"title": "通知（改）"})) \
        .status_code == 200
    assert (await client.post(f"/v1/notices/{nid}/publish", headers=h)).status_code == 200
    assert (await client.patch(f"/v1/notices/{nid}", headers=h, json={"body": "正文（更正）"})) \
        .status_code == 200
    assert (await client.post(f"/v1/notices/{nid}/recall", headers=h)).status_code == 200
    wide = (await client.post("/v1/notices", headers=h, json={
        "kind": "notice", "title": "越界", "body": "正文", "rule": RULE_ALL})).json()
    refused = await client.post(f"/v1/notices/{wide['id']}/publish", headers=h)
    assert refused.status_code == 403
    scheduled = (await client.post("/v1/notices", headers=h, json={
        "kind": "reminder", "title": "定时", "body": "正文", "rule": RULE_NANSHA,
        "publish_at": "2099-01-01T00:00:00Z"})).json()
    assert (await client.post(f"/v1/notices/{scheduled['id']}/publish", headers=h)).json()[
        "status"] == "scheduled"

    trail = (await client.get(f"/v1/notices/{nid}/audit", headers=w.h(w.publisher))).json()
    actions = [e["action"] for e in trail["items"]]
    assert actions == ["notice.recalled", "notice.corrected", "notice.published",
                       "notice.edited", "notice.created"]
    published = trail["items"][2]
    assert published["summary"]["recipients"] == 2
    assert published["actor"] == f"operator:{w.publisher_id}"
    assert published["actor_department"] == "南沙区科技局"
    assert published["ip"] == "203.0.113.9" and published["user_agent"] == "console/1.0"
    corrected = trail["items"][1]["summary"]
    assert corrected["revision"] == 2 and set(corrected["changes"]) == {"body"}

    everything = await client.get("/v1/audit", headers=w.h(w.admin))
    assert everything.status_code == 200
    all_actions = {e["action"] for e in everything.json()["items"]}
    assert {"notice.publish_refused", "notice.scheduled"} <= all_actions
    refusal = next(e for e in everything.json()["items"] if e["action"] == "notice.publish_refused")
    assert refusal["summary"]["outside_jurisdiction"] == 1 and refusal["ip"] == "203.0.113.9"
    by_actor = (await client.get("/v1/audit", params={
        "actor": f"operator:{w.publisher_id}", "action": "notice.", "limit": 2},
        headers=w.h(w.admin))).json()
    assert len(by_actor["items"]) == 2 and by_actor["next_cursor"]
    more = (await client.get("/v1/audit", params={
        "actor": f"operator:{w.publisher_id}", "action": "notice.", "limit": 2,
        "cursor": by_actor["next_cursor"]}, headers=w.h(w.admin))).json()
    assert more["items"][0]["id"] < by_actor["items"][-1]["id"]
    assert (await client.get("/v1/audit", headers=w.h(w.publisher))).status_code == 403


async def test_forwarded_for_is_ignored_unless_trusted(client: httpx.AsyncClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENTPAGE_TRUSTED_PROXIES", raising=False)
    reset_settings_cache()
    w = await make_world(client, enterprises=False)
    await client.post("/v1/notices", headers={**w.h(w.publisher), "X-Forwarded-For": "6.6.6.6"},
                      json={"kind": "notice", "title": "通知", "body": "正文"})
    entry = await AuditEntry.get(action="notice.created")
    assert entry.ip == "127.0.0.1"


async def test_admin_lists_and_deactivates_publishers(client: httpx.AsyncClient) -> None:
    w = await make_world(client)
    listing = (await client.get("/v1/admin/publishers", headers=w.h(w.admin))).json()
    assert [p["username"] for p in listing["items"]] == ["nansha.pub"]
    assert listing["items"][0]["jurisdiction"] == {"zones": ["nansha"], "regions": []}
    assert (await client.get("/v1/admin/publishers", headers=w.h(w.publisher))).status_code \
        == 403
    resp = await client.patch(f"/v1/admin/publishers/{w.publisher_id}", headers=w.h(w.admin),
                              json={"jurisdiction_zones": ["nansha", "hengqin"],
                                    "jurisdiction_regions": ["4403"]})
    assert resp.status_code == 200 and resp.json()["jurisdiction"]["regions"] == ["4403"]
    # The wider jurisdiction applies at once (前海丙 is in region 440305).
    preview = await client.post("/v1/audiences/preview", headers=w.h(w.publisher),
                                json={"rule": RULE_ALL})
    assert preview.status_code == 200 and preview.json()["enterprises"] == 3
    bad = await client.patch(f"/v1/admin/publishers/{w.publisher_id}", headers=w.h(w.admin),
                             json={"jurisdiction_zones": ["mars"], "role": "admin"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"jurisdiction_zones/0", "role"}

    resp = await client.post(f"/v1/admin/publishers/{w.publisher_id}/deactivate",
                             headers=w.h(w.admin))
    assert resp.status_code == 200 and resp.json()["active"] is False
    # The still-unexpired access token no longer lets the publisher act.
    denied = await client.post("/v1/notices", headers=w.h(w.publisher),
                               json={"kind": "notice", "title": "x", "body": "y"})
    assert denied.status_code == 403
    inactive = (await client.get("/v1/admin/publishers", params={"active": "false"},
                                 headers=w.h(w.admin))).json()["items"]
    assert [p["id"] for p in inactive] == [w.publisher_id]
    actions = [e.action for e in await AuditEntry.filter(object_type="operator").order_by("id")]
    assert actions == ["publisher.updated", "publisher.deactivated"]
