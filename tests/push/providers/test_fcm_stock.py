"""The stock firebase-admin `send_each` path, re-pointed at the fake FCM."""

from __future__ import annotations

import asyncio

import firebase_admin
import pytest
from firebase_admin import messaging

from push.fakes.control_client import FakeControl
from push.fakes.fcm import RunningFakeFcm
from push.providers.base import SendStatus
from push.providers.fcm import route_messaging_to_endpoint, send_each_in_batches


def to_device(token: str) -> messaging.Message:
    return messaging.Message(
        notification=messaging.Notification(title="政策推送", body="新的惠企政策可申报"),
        data={"policy_id": "p-9"},
        fid=token,
    )


async def test_send_each_really_reaches_the_fake_in_batches_of_500(
    fake_fcm: RunningFakeFcm, firebase_app: firebase_admin.App
) -> None:
    route_messaging_to_endpoint(firebase_app, fake_fcm.base_url)
    tokens = [f"stock-{i}" for i in range(620)] + ["unregistered-zz"]

    outcomes = await asyncio.to_thread(send_each_in_batches, [to_device(t) for t in tokens], app=firebase_app)

    assert [o.status for o in outcomes] == [SendStatus.SENT] * 620 + [SendStatus.DEAD_TOKEN]
    assert isinstance(outcomes[-1].cause, messaging.UnregisteredError)
    stats = await FakeControl(fake_fcm.base_url).stats()
    assert stats["send.sent"] == 620
    assert stats["oauth_token.issued"] >= 1  # google-auth's real flow, against the fake
    [newest] = await FakeControl(fake_fcm.base_url).messages(limit=1)
    assert newest["message"]["notification"] == {"title": "政策推送", "body": "新的惠企政策可申报"}
    assert newest["fid"].startswith("stock-")


async def test_stock_path_maps_quota_errors_like_the_fast_client(
    fake_fcm: RunningFakeFcm, firebase_app: firebase_admin.App
) -> None:
    route_messaging_to_endpoint(firebase_app, fake_fcm.base_url)
    # firebase-admin's urllib3 retry policy sleeps out a 429's Retry-After (or its 0.5 s-based
    # backoff) and tries 4 more times inside send_each; Retry-After 1 keeps this test short.
    await FakeControl(fake_fcm.base_url).configure(rate_429=1.0, quota_retry_after_s=1)

    [outcome] = await asyncio.to_thread(send_each_in_batches, [to_device("t")], app=firebase_app)

    assert outcome.status is SendStatus.RETRY
    assert outcome.error_code == "QUOTA_EXCEEDED"
    assert outcome.retry_after_s == 60.0  # the 60 s floor, whatever Retry-After said
    assert (await FakeControl(fake_fcm.base_url).stats())["send.quota_exceeded"] == 5


async def test_batches_larger_than_firebase_admin_allows_are_refused(
    firebase_app: firebase_admin.App,
) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        send_each_in_batches([to_device("t")], app=firebase_app, batch_size=501)
