"""Devices, the mini-program login and binding, consents and preferences over HTTP."""

from __future__ import annotations

import httpx

from push import repository
from push.providers.wechat import WeChatClient
from tests import factories as f
from tests.notices.helpers import World
from tests.push.helpers import fcm_token, register


async def test_register_refresh_move_and_unregister(client: httpx.AsyncClient, world: World) -> None:
    staff = world.staff["南沙甲"]
    token = fcm_token()
    first = await register(client, staff, token, installation_id="inst-1")
    assert first.status_code == 201, first.text
    device = first.json()
    assert device["channel"] == "fcm" and device["platform"] == "android" and device["active"]
    assert token.endswith(device["token_suffix"]) and "token" not in device

    again = await register(client, staff, token, installation_id="inst-1")
    assert again.status_code == 200 and again.json()["id"] == device["id"]

    # FCM refreshed the token: the same device row carries the new one (pending deliveries
    # follow it), named by `replaces` …
    refreshed = fcm_token()
    resp = await register(client, staff, refreshed, replaces=token)
    assert resp.status_code == 200 and resp.json()["id"] == device["id"]
    assert await repository.device_by_token("fcm", token) is None
    # … or by the same installation id.
    newest = fcm_token()
    resp = await register(client, staff, newest, installation_id="inst-1")
    assert resp.status_code == 200 and resp.json()["id"] == device["id"]

    # Another person logs in on that phone: the token moves to them.
    other = world.staff["南沙乙"]
    moved = await register(client, other, newest)
    assert moved.status_code == 200 and moved.json()["id"] == device["id"]
    mine = (await client.get("/v1/me/devices", headers=f.bearer(staff))).json()["items"]
    assert mine == []

    resp = await client.delete(f"/v1/me/devices/{device['id']}", headers=f.bearer(staff))
    assert resp.status_code == 404  # not theirs any more
    resp = await client.delete(f"/v1/me/devices/{device['id']}", headers=f.bearer(other))
    assert resp.status_code == 204
    [listed] = (await client.get("/v1/me/devices", headers=f.bearer(other))).json()["items"]
    assert listed["active"] is False and listed["deactivated_reason"] == "unregistered"

    # Logging in again on the same phone reactivates it.
    resp = await register(client, other, newest)
    assert resp.status_code == 200 and resp.json()["active"] is True
    resp = await client.post("/v1/me/devices/unregister", json={"token": newest}, headers=f.bearer(other))
    assert resp.status_code == 204
    assert (await repository.device_by_token("fcm", newest)).active is False  # type: ignore[union-attr]


async def test_registration_validation_names_every_field(client: httpx.AsyncClient, world: World) -> None:
    resp = await client.post(
        "/v1/me/devices",
        headers=f.bearer(world.staff["南沙甲"]),
        json={
            "token": "short",
            "platform": "symbian",
            "locale": "??",
            "colour": "red",
            "channel": "wechat",
        },
    )
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"token", "platform", "locale", "colour", "channel"} <= fields
    resp = await client.post(
        "/v1/me/devices", json={"token": fcm_token(), "platform": "ios"}, headers=f.bearer(world.admin)
    )
    assert resp.status_code == 403


async def test_wechat_login_needs_a_binding_then_logs_in(
    client: httpx.AsyncClient, world: World, wechat_client: WeChatClient
) -> None:
    resp = await client.post("/v1/auth/wechat", json={"code": "code-001"})
    assert resp.status_code == 401
    assert resp.json()["type"] == "/problems/wechat-not-bound"

    staff = world.staff["南沙甲"]
    resp = await client.post("/v1/me/wechat", json={"code": "code-002"}, headers=f.bearer(staff))
    assert resp.status_code == 200, resp.text
    assert resp.json()["bound"] is True and resp.json()["moved_from_another_account"] is False

    # A later wx.login() gives another code for the same user (the fake derives the openid
    # from appid + code, so the same code stands in for the same user here).
    resp = await client.post("/v1/auth/wechat", json={"code": "code-002"})
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    me = await client.get("/v1/me", headers=f.bearer(tokens["access_token"]))
    assert me.json()["id"] == world.staff_ids["南沙甲"]
    devices = (await client.get("/v1/me/devices", headers=f.bearer(staff))).json()["items"]
    assert [(d["channel"], d["platform"], d["active"]) for d in devices] == [("wechat", "miniprogram", True)]

    resp = await client.post("/v1/auth/wechat", json={"code": "bad-code"})
    assert resp.status_code == 400
    assert resp.json()["type"] == "/problems/wechat-login-code-invalid"

    resp = await client.delete("/v1/me/wechat", headers=f.bearer(staff))
    assert resp.status_code == 204
    resp = await client.post("/v1/auth/wechat", json={"code": "code-002"})
    assert resp.status_code == 401


async def test_consents_count_accepts_and_ban_voids_them(
    client: httpx.AsyncClient, world: World, wechat_client: WeChatClient
) -> None:
    staff = world.staff["南沙甲"]
    resp = await client.post(
        "/v1/me/wechat/consents", headers=f.bearer(staff), json={"results": {"tpl-notice": "accept"}}
    )
    assert resp.status_code == 409  # bind first
    await client.post("/v1/me/wechat", json={"code": "code-c"}, headers=f.bearer(staff))
    for _ in range(2):
        resp = await client.post(
            "/v1/me/wechat/consents",
            headers=f.bearer(staff),
            json={
                "results": {
                    "tpl-notice": "accept",
                    "tpl-policy": "reject",
                    "errMsg": "requestSubscribeMessage:ok",
                }
            },
        )
        assert resp.status_code == 200, resp.text
    consents = {c["template_id"]: c for c in resp.json()["consents"]}
    assert consents["tpl-notice"]["remaining"] == 2
    assert consents["tpl-notice"]["accepted_total"] == 2
    assert consents["tpl-policy"]["remaining"] == 0
    assert consents["tpl-policy"]["status"] == "reject"
    resp = await client.post(
        "/v1/me/wechat/consents", headers=f.bearer(staff), json={"results": {"tpl-notice": "ban"}}
    )
    consents = {c["template_id"]: c for c in resp.json()["consents"]}
    assert consents["tpl-notice"]["remaining"] == 0 and consents["tpl-notice"]["status"] == "ban"
    resp = await client.post(
        "/v1/me/wechat/consents",
        headers=f.bearer(staff),
        json={"results": {"tpl-notice": "maybe", "bad id!": "accept"}},
    )
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json()["errors"]} == {"results/tpl-notice", "results/bad id!"}


async def test_preferences_defaults_switches_and_quiet_hours(client: httpx.AsyncClient, world: World) -> None:
    staff = world.staff["南沙甲"]
    prefs = (await client.get("/v1/me/push-preferences", headers=f.bearer(staff))).json()
    assert all(p["enabled"] for p in prefs["preferences"]) and prefs["quiet_hours"] is None
    assert len(prefs["preferences"]) == 8  # 4 kinds × 2 channels
    resp = await client.put(
        "/v1/me/push-preferences",
        headers=f.bearer(staff),
        json={
            "preferences": [{"kind": "policy", "channel": "fcm", "enabled": False}],
            "quiet_hours": {"start": "22:00", "end": "07:00"},
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    off = [(p["kind"], p["channel"]) for p in body["preferences"] if not p["enabled"]]
    assert off == [("policy", "fcm")]
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00", "timezone": "Asia/Shanghai"}
    # Omitting quiet_hours keeps them; null removes them.
    resp = await client.put(
        "/v1/me/push-preferences",
        headers=f.bearer(staff),
        json={"preferences": [{"kind": "policy", "channel": "fcm", "enabled": True}]},
    )
    assert resp.json()["quiet_hours"] is not None
    resp = await client.put("/v1/me/push-preferences", headers=f.bearer(staff), json={"quiet_hours": None})
    assert resp.json()["quiet_hours"] is None
    resp = await client.put(
        "/v1/me/push-preferences",
        headers=f.bearer(staff),
        json={
            "preferences": [{"kind": "gossip", "channel": "sms", "enabled": "yes"}],
            "quiet_hours": {"start": "25:00", "end": "07:00", "timezone": "Mars/Olympus"},
        },
    )
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json()["errors"]} == {
        "preferences/0/kind",
        "preferences/0/channel",
        "preferences/0/enabled",
        "quiet_hours/start",
        "quiet_hours/timezone",
    }
