"""The FCM fast client against the real fake FCM server on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from firebase_admin import credentials, exceptions, messaging
from hypothesis import given
from hypothesis import strategies as st

from push.fakes.control_client import FakeControl
from push.fakes.fcm import RunningFakeFcm
from push.providers.base import SendStatus
from push.providers.fcm import (
    FcmClient,
    FcmMessageTemplate,
    PayloadTooLargeError,
    fit_to_payload_limit,
    truncate_utf8,
)
from push.providers.fcm_message import payload_size

PROJECT_ID = "entpage-test"


def notice(title: str = "年报提醒", body: str = "请于6月30日前报送2025年度年报。") -> messaging.Message:
    return messaging.Message(
        notification=messaging.Notification(title=title, body=body),
        data={"notice_id": "n-1", "kind": "reminder"},
        android=messaging.AndroidConfig(priority="high", collapse_key="n-1"),
        apns=messaging.APNSConfig(payload=messaging.APNSPayload(aps=messaging.Aps(badge=1))),
    )


def client_for(fake: RunningFakeFcm, credential: credentials.Certificate, **options: float) -> FcmClient:
    return FcmClient(
        credential=credential,
        project_id=PROJECT_ID,
        endpoint=fake.base_url,
        **options,  # type: ignore[arg-type]
    )


async def test_message_arrives_with_its_token_and_firebase_admin_encoding(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    template = FcmMessageTemplate.from_message(notice())
    async with client_for(fake_fcm, fcm_credential) as client:
        outcome = await client.send(template, "device-token-a1")

    assert outcome.status is SendStatus.SENT
    assert outcome.provider_message_id is not None
    assert outcome.provider_message_id.startswith(f"projects/{PROJECT_ID}/messages/")
    [arrived] = await FakeControl(fake_fcm.base_url).messages()
    assert arrived["name"] == outcome.provider_message_id
    assert arrived["token"] == "device-token-a1"
    wire = arrived["message"]
    assert wire["notification"] == {"title": "年报提醒", "body": "请于6月30日前报送2025年度年报。"}
    assert wire["data"] == {"notice_id": "n-1", "kind": "reminder"}
    # firebase-admin's encoder, not ours: AndroidConfig/APNSConfig in their wire form.
    assert wire["android"] == {"priority": "high", "collapse_key": "n-1"}
    assert wire["apns"] == {"payload": {"aps": {"badge": 1}}}


async def test_over_long_notice_arrives_truncated_within_4096_bytes(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    long_body = "企业年报公示提醒：" + "请登录企业专属网页核对经营信息并按时报送。" * 200
    message = notice(body=long_body)
    with pytest.raises(PayloadTooLargeError):
        FcmMessageTemplate.from_message(message)

    fitted = fit_to_payload_limit(message)
    template = FcmMessageTemplate.from_message(fitted)
    async with client_for(fake_fcm, fcm_credential) as client:
        outcome = await client.send(template, "device-token-b2")

    assert outcome.status is SendStatus.SENT
    [arrived] = await FakeControl(fake_fcm.base_url).messages()
    body = arrived["message"]["notification"]["body"]
    assert body.endswith("…")
    assert long_body.startswith(body[:-1])
    assert 4096 - 3 <= payload_size(fitted) <= 4096  # fills the budget, no more
    assert arrived["message"]["notification"]["title"] == "年报提醒"  # body is shortened first


async def test_dead_tokens_come_back_as_dead_token(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    tokens = ["ok-1", "unregistered-2", "mismatch-3", "invalid-4", "ok-5"]
    async with client_for(fake_fcm, fcm_credential) as client:
        outcomes = await client.send_batch(FcmMessageTemplate.from_message(notice()), tokens)

    assert [o.status for o in outcomes] == [
        SendStatus.SENT,
        SendStatus.DEAD_TOKEN,
        SendStatus.DEAD_TOKEN,
        SendStatus.DEAD_TOKEN,
        SendStatus.SENT,
    ]
    assert [o.error_code for o in outcomes[1:4]] == [
        "UNREGISTERED",
        "SENDER_ID_MISMATCH",
        "INVALID_ARGUMENT",
    ]
    assert isinstance(outcomes[1].cause, messaging.UnregisteredError)
    assert isinstance(outcomes[2].cause, messaging.SenderIdMismatchError)
    assert isinstance(outcomes[3].cause, exceptions.InvalidArgumentError)
    assert {m["token"] for m in await FakeControl(fake_fcm.base_url).messages()} == {"ok-1", "ok-5"}


async def test_other_invalid_argument_is_rejected_not_dead(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    # A body firebase-admin would never build (a non-string data value), to see FCM refuse it.
    bad = FcmMessageTemplate(head=b'{"message":{"data":{"n":1},"token":', tail=b"}}", payload_bytes=0)
    async with client_for(fake_fcm, fcm_credential) as client:
        outcome = await client.send(bad, "ok-token")

    assert outcome.status is SendStatus.REJECTED
    assert outcome.error_code == "INVALID_ARGUMENT"
    assert isinstance(outcome.cause, exceptions.InvalidArgumentError)


async def test_503_storm_is_retried_later_honouring_retry_after(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    await FakeControl(fake_fcm.base_url).configure(rate_503=1.0, server_retry_after_s=7)
    async with client_for(fake_fcm, fcm_credential) as client:
        outcomes = await client.send_batch(
            FcmMessageTemplate.from_message(notice()), [f"t{i}" for i in range(20)]
        )

    assert {o.status for o in outcomes} == {SendStatus.RETRY}
    assert {o.retry_after_s for o in outcomes} == {7.0}
    assert all(isinstance(o.cause, exceptions.UnavailableError) for o in outcomes)
    assert (await FakeControl(fake_fcm.base_url).stats())["send.unavailable"] == 20


async def test_500_without_retry_after_leaves_the_backoff_to_the_caller(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    await FakeControl(fake_fcm.base_url).configure(rate_500=1.0)
    async with client_for(fake_fcm, fcm_credential) as client:
        outcome = await client.send(FcmMessageTemplate.from_message(notice()), "t")

    assert outcome.status is SendStatus.RETRY
    assert outcome.retry_after_s is None
    assert isinstance(outcome.cause, exceptions.InternalError)


@pytest.mark.parametrize(("server_says", "expected"), [(5, 60.0), (120, 120.0)])
async def test_quota_exceeded_backs_off_at_least_60_seconds(
    fake_fcm: RunningFakeFcm,
    fcm_credential: credentials.Certificate,
    server_says: int,
    expected: float,
) -> None:
    await FakeControl(fake_fcm.base_url).configure(rate_429=1.0, quota_retry_after_s=server_says)
    async with client_for(fake_fcm, fcm_credential) as client:
        outcome = await client.send(FcmMessageTemplate.from_message(notice()), "t")

    assert outcome.status is SendStatus.RETRY
    assert outcome.error_code == "QUOTA_EXCEEDED"
    assert outcome.retry_after_s == expected
    assert isinstance(outcome.cause, messaging.QuotaExceededError)


async def test_a_hanging_fcm_times_out_into_retry(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    await FakeControl(fake_fcm.base_url).configure(rate_timeout=1.0)
    async with client_for(fake_fcm, fcm_credential, timeout_s=0.3) as client:
        await client.send(FcmMessageTemplate.from_message(notice()), "warm-up")  # token fetch
        started = time.monotonic()
        outcome = await client.send(FcmMessageTemplate.from_message(notice()), "t")

    assert time.monotonic() - started < 2.0
    assert outcome.status is SendStatus.RETRY
    assert isinstance(outcome.cause, exceptions.DeadlineExceededError)


async def test_unreachable_fcm_is_a_retry(fcm_credential: credentials.Certificate) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    # The credential still gets its token from the fake; only the send endpoint is dead.
    client = FcmClient(
        credential=fcm_credential,
        project_id=PROJECT_ID,
        endpoint=f"http://127.0.0.1:{closed_port}",
    )
    async with client:
        outcome = await client.send(FcmMessageTemplate.from_message(notice()), "t")

    assert outcome.status is SendStatus.RETRY
    assert isinstance(outcome.cause, exceptions.UnavailableError)


async def test_credential_fetches_its_token_from_the_fake_and_reuses_it(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    token_info = await asyncio.to_thread(fcm_credential.get_access_token)
    assert token_info.access_token.startswith("ya29.fake-")
    assert (await FakeControl(fake_fcm.base_url).stats())["oauth_token.issued"] == 1

    async with client_for(fake_fcm, fcm_credential) as client:
        outcomes = await client.send_batch(
            FcmMessageTemplate.from_message(notice()), [f"t{i}" for i in range(50)]
        )

    assert {o.status for o in outcomes} == {SendStatus.SENT}
    # 50 concurrent sends share one cached token fetched through google-auth's JWT-bearer flow.
    assert (await FakeControl(fake_fcm.base_url).stats())["oauth_token.issued"] == 2


async def test_a_401_refreshes_the_token_once_and_resends(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    template = FcmMessageTemplate.from_message(notice())
    async with client_for(fake_fcm, fcm_credential) as client:
        first = await client.send(template, "before-revoke")
        assert await FakeControl(fake_fcm.base_url).revoke_tokens() == 1
        second = await client.send(template, "after-revoke")

    assert (first.status, second.status) == (SendStatus.SENT, SendStatus.SENT)
    stats = await FakeControl(fake_fcm.base_url).stats()
    assert stats["send.unauthenticated"] == 1
    assert stats["oauth_token.issued"] == 2
    assert [m["token"] for m in await FakeControl(fake_fcm.base_url).messages()] == [
        "after-revoke",
        "before-revoke",
    ]


async def test_send_batch_keeps_order_and_bounds_requests_in_flight(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> None:
    await FakeControl(fake_fcm.base_url).configure(latency_ms=50)
    tokens = [f"ok-{i}" if i % 3 else f"unregistered-{i}" for i in range(24)]
    async with client_for(fake_fcm, fcm_credential, max_in_flight=4) as client:
        await client.send(FcmMessageTemplate.from_message(notice()), "warm-up")
        started = time.monotonic()
        outcomes = await client.send_batch(FcmMessageTemplate.from_message(notice()), tokens)
        elapsed = time.monotonic() - started

    expected = [SendStatus.SENT if i % 3 else SendStatus.DEAD_TOKEN for i in range(24)]
    assert [o.status for o in outcomes] == expected
    assert elapsed >= 24 / 4 * 0.05 * 0.9  # 4 at a time, 50 ms each


async def test_a_message_that_cannot_fit_is_refused_before_sending() -> None:
    huge_data = {f"k{i}": "x" * 100 for i in range(50)}
    message = messaging.Message(notification=messaging.Notification(title="t", body="b"), data=huge_data)
    with pytest.raises(PayloadTooLargeError):
        fit_to_payload_limit(message)


async def test_a_template_must_not_carry_a_target() -> None:
    with pytest.raises(ValueError, match="target"):
        FcmMessageTemplate.from_message(messaging.Message(topic="news"))


@given(st.text(), st.integers(min_value=0, max_value=64))
def test_truncate_utf8_never_splits_a_character(text: str, max_bytes: int) -> None:
    shortened = truncate_utf8(text, max_bytes)
    assert len(shortened.encode("utf-8")) <= max_bytes
    if len(text.encode("utf-8")) <= max_bytes:
        assert shortened == text
    else:
        assert text.startswith(shortened.removesuffix("…"))
