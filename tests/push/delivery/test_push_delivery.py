"""Publishing → deliveries → the worker → the fake FCM / WeChat, end to end, with preferences,
consents, quiet hours, dead tokens and statistics."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import orjson
import redis.asyncio as aioredis

from core import clock
from push import repository
from push.config import push_config
from push.fakes.control_client import FakeControl
from push.fakes.fcm import RunningFakeFcm
from push.fakes.wechat import RunningFakeWeChat
from push.messages import MessageRow, prepare
from push.providers.fcm import MAX_PAYLOAD_BYTES, FcmClient
from push.providers.wechat import WeChatClient
from tests import factories as f
from tests.notices.helpers import RULE_NANSHA, World, next_phone
from tests.push.helpers import deliveries, drain, fcm_token, register, statuses


async def test_publish_fans_out_and_the_worker_delivers(
        client: httpx.AsyncClient, world: World, fcm_client: FcmClient,
        fake_fcm: RunningFakeFcm, redis_client: aioredis.Redis) -> None:
    tokens = {label: [fcm_token() for _ in range(n)]
              for label, n in (("南沙甲", 2), ("南沙乙", 1), ("前海丙", 1))}
    for label, items in tokens.items():
        for token in items:
            assert (await register(client, world.staff[label], token)).status_code == 201
    preview = await client.post("/v1/audiences/preview", json={"rule": RULE_NANSHA},
                                headers=world.h(world.publisher))
    assert preview.json()["devices"] == 3

    pubsub = redis_client.pubsub()
    await pubsub.subscribe("entpage:events")
    notice = await world.published(title="关于开展2025年度企业年报工作的通知")
    assert await statuses("notice", notice["id"]) == {"pending": 3}
    # The event is relayed from the outbox once the publish committed.
    event = None
    for _ in range(100):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            event = orjson.loads(message["data"])
            break
    await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert event is not None and event["type"] == "notice.published"
    assert event["notice_id"] == notice["id"] and event["deliveries"] == 3

    stats = await drain(fcm=fcm_client, channels=["fcm"])
    assert stats.sent == 3 and stats.provider_calls == 3
    rows = await deliveries(source="notice", source_id=notice["id"])
    assert {r["status"] for r in rows} == {"sent"}
    assert all(str(r["provider_message_id"]).startswith("projects/entpage-test/messages/")
               for r in rows)
    received = await FakeControl(fake_fcm.base_url).messages(limit=10)
    assert sorted(m["token"] for m in received) == sorted(tokens["南沙甲"] + tokens["南沙乙"])
    wire = received[0]["message"]
    assert wire["notification"]["title"] == "关于开展2025年度企业年报工作的通知"
    assert wire["data"]["notice_id"] == str(notice["id"])

    body = (await client.get(f"/v1/notices/{notice['id']}/stats",
                             headers=world.h(world.publisher))).json()
    assert body["delivery"]["fcm"]["delivered"] == 3
    assert body["delivery"]["fcm"]["failed"] == body["delivery"]["fcm"]["dead"] == 0
    assert body["delivery"]["wechat"]["delivered"] == 0


async def test_one_delivery_per_device_and_preferences_decide(
        client: httpx.AsyncClient, world: World, fcm_client: FcmClient) -> None:
    # A person on the staff of both Nansha enterprises, with one phone.
    phone = next_phone()
    _, login = await f.person_with_token(client, phone, [
        (world.enterprises["南沙甲"], "staff"), (world.enterprises["南沙乙"], "staff")])
    await register(client, login["access_token"])
    opted_out = world.staff["南沙乙"]
    await register(client, opted_out)
    await client.put("/v1/me/push-preferences", headers=f.bearer(opted_out), json={
        "preferences": [{"kind": "notice", "channel": "fcm", "enabled": False}]})

    notice = await world.published()
    assert await statuses("notice", notice["id"]) == {"pending": 1, "skipped": 1}
    [skipped] = await deliveries(source="notice", source_id=notice["id"], status="skipped")
    assert skipped["reason"] == "preference_off"
    # A warning is another kind: the opt-out of notices does not cover it.
    warning = await world.published(kind="warning")
    assert await statuses("notice", warning["id"]) == {"pending": 2}
    await drain(fcm=fcm_client, channels=["fcm"])
    assert await statuses("notice", notice["id"]) == {"sent": 1, "skipped": 1}


async def test_wechat_sends_only_with_consent_and_spends_exactly_one(
        client: httpx.AsyncClient, world: World, wechat_client: WeChatClient,
        fake_wechat: RunningFakeWeChat) -> None:
    staff = world.staff["南沙甲"]
    await client.post("/v1/me/wechat", json={"code": "wx-user-1"}, headers=f.bearer(staff))
    [device] = await repository.devices_of(world.staff_ids["南沙甲"])
    template = push_config().template_for("notice")

    first = await world.published()  # no consent yet: skipped at once, never sent
    [row] = await deliveries(source="notice", source_id=first["id"])
    assert (row["status"], row["reason"]) == ("skipped", "no_consent")

    await client.post("/v1/me/wechat/consents", headers=f.bearer(staff),
                      json={"results": {template: "accept"}})
    second = await world.published()
    await drain(wechat=wechat_client, channels=["wechat"])
    [row] = await deliveries(source="notice", source_id=second["id"])
    assert row["status"] == "sent" and row["provider_message_id"]
    [sent] = await FakeControl(fake_wechat.base_url).messages(limit=5)
    assert sent["touser"] == device.token and sent["template_id"] == template
    assert len(sent["data"]["thing1"]["value"]) <= 20
    [consent] = await repository.consents_of([device.id])
    assert (consent.remaining, consent.consumed_total) == (0, 1)

    third = await world.published()  # the one credit is spent
    [row] = await deliveries(source="notice", source_id=third["id"])
    assert (row["status"], row["reason"]) == ("skipped", "no_consent")

    # The user refuses on WeChat's side (43101): the credit is zeroed and marked.
    await client.post("/v1/me/wechat/consents", headers=f.bearer(staff),
                      json={"results": {template: "accept"}})
    await client.post("/v1/me/wechat/consents", headers=f.bearer(staff),
                      json={"results": {template: "accept"}})
    await FakeControl(fake_wechat.base_url).configure(refuse_openids=[device.token])
    fourth = await world.published()
    await drain(wechat=wechat_client, channels=["wechat"])
    [row] = await deliveries(source="notice", source_id=fourth["id"])
    assert (row["status"], row["reason"]) == ("skipped", "consent_refused")
    [consent] = await repository.consents_of([device.id])
    assert (consent.remaining, consent.status) == (0, "refused")


async def test_quiet_hours_defer_normal_pushes_and_urgent_ones_go_through(
        client: httpx.AsyncClient, world: World, fcm_client: FcmClient) -> None:
    staff = world.staff["南沙甲"]
    await register(client, staff)
    await client.put("/v1/me/push-preferences", headers=f.bearer(staff),
                     json={"quiet_hours": {"start": "22:00", "end": "07:00"}})
    clock.freeze(dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC))  # 23:00 in Shanghai
    normal = await world.published(rule={"field": "uscc", "op": "in",
                                         "value": [world.enterprises["南沙甲"]]})
    urgent = await world.published(kind="warning", priority="urgent", rule={
        "field": "uscc", "op": "in", "value": [world.enterprises["南沙甲"]]})

    async def urgent_sent() -> bool:
        return (await statuses("notice", urgent["id"]))["sent"] == 1 and \
            (await statuses("notice", normal["id"]))["pending"] == 1 and \
            not (await deliveries(status="sending"))

    await drain(fcm=fcm_client, channels=["fcm"], until=urgent_sent)
    [deferred] = await deliveries(source="notice", source_id=normal["id"])
    assert deferred["status"] == "pending" and deferred["reason"] == "quiet_hours"
    assert deferred["attempts"] == 0  # deferring is not an attempt
    wakes = repository.as_datetime(deferred["next_attempt_at"])
    assert wakes == dt.datetime(2026, 6, 1, 23, 0, tzinfo=dt.UTC)  # 07:00 in Shanghai

    clock.freeze(dt.datetime(2026, 6, 1, 22, 59, tzinfo=dt.UTC))
    await drain(fcm=fcm_client, channels=["fcm"],
                until=lambda: _no_sending())  # still quiet: nothing to do
    assert (await statuses("notice", normal["id"]))["pending"] == 1
    clock.freeze(dt.datetime(2026, 6, 1, 23, 0, 1, tzinfo=dt.UTC))
    await drain(fcm=fcm_client, channels=["fcm"])
    assert await statuses("notice", normal["id"]) == {"sent": 1}


async def _no_sending() -> bool:
    await asyncio.sleep(0.2)
    return not await deliveries(status="sending")


async def test_dead_token_deactivates_the_device_and_skips_its_other_pushes(
        client: httpx.AsyncClient, world: World, fcm_client: FcmClient) -> None:
    staff = world.staff["南沙甲"]
    resp = await register(client, staff, fcm_token("unregistered"))
    device_id = resp.json()["id"]
    await client.put("/v1/me/push-preferences", headers=f.bearer(staff),
                     json={"quiet_hours": {"start": "22:00", "end": "07:00"}})
    clock.freeze(dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC))  # 23:00: only urgent goes out
    target = {"field": "uscc", "op": "in", "value": [world.enterprises["南沙甲"]]}
    later = await world.published(rule=target)
    urgent = await world.published(kind="warning", priority="urgent", rule=target)
    await drain(fcm=fcm_client, channels=["fcm"], until=lambda: _finished(urgent["id"]))
    [dead] = await deliveries(source="notice", source_id=urgent["id"])
    assert (dead["status"], dead["reason"]) == ("dead", "token:UNREGISTERED")
    [device] = (await client.get("/v1/me/devices", headers=f.bearer(staff))).json()["items"]
    assert device["id"] == device_id and device["active"] is False
    assert device["deactivated_reason"] == "token:UNREGISTERED"

    clock.freeze(dt.datetime(2026, 6, 1, 23, 1, tzinfo=dt.UTC))
    await drain(fcm=fcm_client, channels=["fcm"])
    [skipped] = await deliveries(source="notice", source_id=later["id"])
    assert (skipped["status"], skipped["reason"]) == ("skipped", "device_inactive")
    assert skipped["attempts"] == 0 or skipped["provider_message_id"] is None


async def _finished(notice_id: int) -> bool:
    return not {"pending", "sending", "failed"} & set(await statuses("notice", notice_id))


async def test_recalled_notice_is_not_pushed(client: httpx.AsyncClient, world: World,
                                             fcm_client: FcmClient,
                                             fake_fcm: RunningFakeFcm) -> None:
    await register(client, world.staff["南沙甲"])
    notice = await world.published()
    resp = await client.post(f"/v1/notices/{notice['id']}/recall",
                             headers=world.h(world.publisher))
    assert resp.status_code == 200, resp.text
    await drain(fcm=fcm_client, channels=["fcm"])
    [row] = await deliveries(source="notice", source_id=notice["id"])
    assert (row["status"], row["reason"]) == ("skipped", "recalled")
    assert (await FakeControl(fake_fcm.base_url).stats()).get("send.sent", 0) == 0


def test_long_text_is_shortened_to_the_payload_limit_without_splitting_characters() -> None:
    row = MessageRow(id=7, source="notice", source_id=7, kind="notice", urgent=True,
                     title="紧急通知" * 30, body="请登录企业专属网页核对经营信息。🏭" * 400,
                     data={"notice_id": "7", "url": "https://example.gov.cn/" + "a" * 400},
                     created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    prepared = prepare(row, push_config())
    assert prepared.fcm is not None and prepared.fcm.payload_bytes <= MAX_PAYLOAD_BYTES
    envelope = orjson.loads(prepared.fcm.body_for("t"))
    body = envelope["message"]["notification"]["body"]
    assert body.endswith("…") and body.encode("utf-8").decode("utf-8") == body
    assert prepared.wechat is not None
    wire = orjson.loads(prepared.wechat.body_for("openid"))
    assert len(wire["data"]["thing1"]["value"]) == 20


async def test_policy_matches_and_rematches_are_pushed_once(
        client: httpx.AsyncClient, world: World, fcm_client: FcmClient,
        fake_fcm: RunningFakeFcm) -> None:
    from tests.api.test_notices_policies import create_policy, publish_policy

    for label in ("南沙甲", "南沙乙"):
        await register(client, world.staff[label])
    policy = await create_policy(world)
    await publish_policy(world, policy["id"])  # 南沙甲 is the only high-tech one
    assert await statuses("policy", policy["id"]) == {"pending": 1}
    # 南沙乙 becomes high-tech: re-matching finds it, and only its device is added.
    await world.update_enterprise("南沙乙", zone="nansha", industry_code="F5191",
                                  tags=["高新技术企业"])
    assert await statuses("policy", policy["id"]) == {"pending": 2}
    await world.update_enterprise("南沙乙", zone="nansha", industry_code="F5191",
                                  tags=["高新技术企业", "专精特新"])
    assert await statuses("policy", policy["id"]) == {"pending": 2}
    await drain(fcm=fcm_client, channels=["fcm"])
    assert await statuses("policy", policy["id"]) == {"sent": 2}
    received = await FakeControl(fake_fcm.base_url).messages(limit=5)
    assert {m["message"]["notification"]["title"] for m in received} == {
        "政策推送：高新技术企业认定奖励"}
    assert {m["message"]["data"]["type"] for m in received} == {"policy"}


async def test_scheduled_notice_is_published_and_pushed_by_the_worker(
        client: httpx.AsyncClient, world: World, fcm_client: FcmClient) -> None:
    await register(client, world.staff["南沙甲"])
    clock.freeze(dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC))
    notice = await world.draft(publish_at="2026-06-01T02:00:30Z")
    resp = await world.publish(notice["id"])
    assert resp.status_code == 200 and resp.json()["status"] == "scheduled"
    assert await statuses("notice", notice["id"]) == {}
    clock.freeze(dt.datetime(2026, 6, 1, 2, 1, tzinfo=dt.UTC))

    async def pushed() -> bool:
        return (await statuses("notice", notice["id"]))["sent"] == 1  # the one device

    await drain(fcm=fcm_client, channels=["fcm"], run_scheduler=True,
                scheduler_interval_s=0.05, reminder_interval_s=3600, until=pushed)


async def test_in_process_worker_beside_the_api(client: httpx.AsyncClient, world: World,
                                                fcm_client: FcmClient) -> None:
    """The embedded default: a worker in the API process, woken through (in-process) Redis."""
    from push.worker import in_process_worker
    from tests.push.helpers import wait_for

    await register(client, world.staff["南沙甲"])
    async with in_process_worker(fcm=fcm_client, channels=["fcm"], poll_interval_s=5.0,
                                 relay_interval_s=0.05, run_scheduler=False):
        started = asyncio.get_running_loop().time()
        notice = await world.published()

        async def sent() -> bool:
            return (await statuses("notice", notice["id"]))["sent"] == 1

        await wait_for(sent, within_s=10, what="the embedded worker")
        # Woken by the outbox relay's wake-up, not by its 5 s poll.
        assert asyncio.get_running_loop().time() - started < 4.0
