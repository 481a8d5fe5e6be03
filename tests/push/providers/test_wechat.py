"""The WeChat client against the real fake WeChat server, with the token shared through Redis
(in-process fakeredis and, when reachable, the real Redis db 15)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from push.fakes.control_client import FakeControl
from push.fakes.wechat import RunningFakeWeChat
from push.providers.base import SendStatus
from push.providers.wechat import SubscribeMessageTemplate, WeChatClient
from push.providers.wechat_api import WeChatApiError
from push.providers.wechat_login import (
    WeChatLoginCodeInvalid,
    WeChatLoginError,
    WeChatLoginRateLimited,
    WeChatUserHighRisk,
)
from push.providers.wechat_template import TemplateDataInvalid, truncate_chars

REMINDER = SubscribeMessageTemplate.build(
    template_id="tmpl-reminder",
    data={"thing1": "年报报送提醒", "time2": "2025-06-30"},
    page="pages/notice/index?id=42",
)


@pytest_asyncio.fixture
async def wechat(
    fake_wechat: RunningFakeWeChat, wechat_redis: aioredis.Redis, wechat_appid: str
) -> AsyncIterator[WeChatClient]:
    client = WeChatClient(
        redis=wechat_redis,
        appid=wechat_appid,
        secret="test-secret",
        api_base=fake_wechat.base_url,
        timeout_s=1.0,
    )
    yield client
    await client.aclose()
    keys = [key async for key in wechat_redis.scan_iter(match=f"entpage:wechat:{wechat_appid}:*")]
    if keys:
        await wechat_redis.delete(*keys)


async def test_message_arrives_for_the_openid_with_its_template(
    wechat: WeChatClient, fake_wechat: RunningFakeWeChat
) -> None:
    outcome = await wechat.subscribe_send(REMINDER, "o-user-1")

    assert outcome.status is SendStatus.SENT
    [arrived] = await FakeControl(fake_wechat.base_url).messages()
    assert str(arrived["msgid"]) == outcome.provider_message_id
    assert arrived["touser"] == "o-user-1"
    assert arrived["template_id"] == "tmpl-reminder"
    assert arrived["page"] == "pages/notice/index?id=42"
    assert arrived["data"] == {"thing1": {"value": "年报报送提醒"}, "time2": {"value": "2025-06-30"}}
    assert (arrived["miniprogram_state"], arrived["lang"]) == ("formal", "zh_CN")


async def test_token_is_fetched_once_and_shared_through_redis(
    fake_wechat: RunningFakeWeChat,
    wechat: WeChatClient,
    wechat_redis: aioredis.Redis,
    wechat_appid: str,
) -> None:
    # A second worker process: its own client and HTTP pool, the same Redis.
    other_worker = WeChatClient(
        redis=wechat_redis, appid=wechat_appid, secret="test-secret", api_base=fake_wechat.base_url
    )
    async with other_worker:
        outcomes = await wechat.send_batch(REMINDER, [f"o-{i}" for i in range(10)])
        outcomes += await other_worker.send_batch(REMINDER, [f"o-{i}" for i in range(10, 20)])

    assert {o.status for o in outcomes} == {SendStatus.SENT}
    stats = await FakeControl(fake_wechat.base_url).stats()
    assert stats["stable_token.requests"] == 1
    assert stats["subscribe_send.sent"] == 20


async def test_many_workers_waiting_for_a_token_do_not_stampede(
    fake_wechat: RunningFakeWeChat, wechat: WeChatClient
) -> None:
    await FakeControl(fake_wechat.base_url).configure(latency_ms=100)

    tokens = await asyncio.gather(*(wechat.tokens.current() for _ in range(30)))

    assert len(set(tokens)) == 1
    assert (await FakeControl(fake_wechat.base_url).stats())["stable_token.requests"] == 1


async def test_40001_refreshes_the_token_and_retries_once(
    fake_wechat: RunningFakeWeChat, wechat: WeChatClient
) -> None:
    control = FakeControl(fake_wechat.base_url)
    assert (await wechat.subscribe_send(REMINDER, "o-before")).status is SendStatus.SENT
    await control.revoke_tokens()  # as if another system had forced a refresh
    await control.reset()  # count from here

    outcome = await wechat.subscribe_send(REMINDER, "o-after")

    assert outcome.status is SendStatus.SENT
    stats = await control.stats()
    assert stats["subscribe_send.requests"] == 2  # the refused send and its one retry
    assert stats["subscribe_send.bad_token"] == 1
    assert stats["stable_token.requests"] == 1  # one extra fetch, no forced refresh needed
    assert "stable_token.forced" not in stats
    assert await wechat.tokens.forced_refreshes_today() == 0


async def test_a_rejected_token_wechat_still_hands_out_is_force_refreshed_within_limit(
    fake_wechat: RunningFakeWeChat, wechat_redis: aioredis.Redis, wechat_appid: str
) -> None:
    control = FakeControl(fake_wechat.base_url)
    client = WeChatClient(
        redis=wechat_redis,
        appid=wechat_appid,
        secret="test-secret",
        api_base=fake_wechat.base_url,
        forced_refresh_limit_per_day=2,
    )
    async with client:
        await client.tokens.current()
        await control.configure(rate_40001=1.0)  # WeChat keeps calling the token invalid

        outcomes = [await client.subscribe_send(REMINDER, f"o-{i}") for i in range(3)]
        forced_today = await client.tokens.forced_refreshes_today()

    # Each send: refused, token force-refreshed, retried once, refused again → retry later.
    assert [o.status for o in outcomes] == [SendStatus.RETRY] * 3
    assert [o.error_code for o in outcomes] == ["40001", "40001", "forced_refresh_limit"]
    assert outcomes[2].retry_after_s is not None and 0 < outcomes[2].retry_after_s <= 86400
    stats = await control.stats()
    assert stats["stable_token.forced"] == 2  # the limit, shared through Redis
    assert stats["subscribe_send.requests"] == 5  # 2 + 2 + the third's refused first try
    assert forced_today == 3  # the refused third attempt is counted too


async def test_43101_means_consent_refused(fake_wechat: RunningFakeWeChat, wechat: WeChatClient) -> None:
    await FakeControl(fake_wechat.base_url).configure(refuse_openids=["o-refuser"])

    outcomes = await wechat.send_batch(REMINDER, ["o-ok", "o-refuser"])

    assert [o.status for o in outcomes] == [SendStatus.SENT, SendStatus.CONSENT_REFUSED]
    assert outcomes[1].error_code == "43101"
    assert isinstance(outcomes[1].cause, WeChatApiError)
    assert outcomes[1].cause.errcode == 43101


@pytest.mark.parametrize(
    ("setting", "status", "retry_after_s"),
    [
        ("rate_47003", SendStatus.REJECTED, None),
        ("rate_45009", SendStatus.RETRY, 60.0),
        ("rate_system_busy", SendStatus.RETRY, 1.0),
    ],
)
async def test_errcodes_map_to_outcomes(
    fake_wechat: RunningFakeWeChat,
    wechat: WeChatClient,
    setting: str,
    status: SendStatus,
    retry_after_s: float | None,
) -> None:
    await wechat.tokens.current()
    await FakeControl(fake_wechat.base_url).configure(**{setting: 1.0})

    outcome = await wechat.subscribe_send(REMINDER, "o-1")

    assert (outcome.status, outcome.retry_after_s) == (status, retry_after_s)


async def test_unreachable_or_failing_wechat_is_a_retry(
    fake_wechat: RunningFakeWeChat, wechat: WeChatClient
) -> None:
    await wechat.tokens.current()
    control = FakeControl(fake_wechat.base_url)
    await control.configure(rate_503=1.0, server_retry_after_s=9)
    failing = await wechat.subscribe_send(REMINDER, "o-1")
    await control.configure(rate_503=0.0, rate_timeout=1.0)
    hanging = await wechat.subscribe_send(REMINDER, "o-1")

    assert (failing.status, failing.retry_after_s) == (SendStatus.RETRY, 9.0)
    assert hanging.status is SendStatus.RETRY


async def test_thing_values_over_20_characters_arrive_truncated_by_character(
    fake_wechat: RunningFakeWeChat, wechat: WeChatClient
) -> None:
    long_title = "关于开展2025年度高新技术企业认定申报工作的通知"  # 25 characters
    template = SubscribeMessageTemplate.build(
        template_id="tmpl-policy", data={"thing1": long_title, "phrase2": "待申报状态"}
    )

    outcome = await wechat.subscribe_send(template, "o-1")

    assert outcome.status is SendStatus.SENT
    [arrived] = await FakeControl(fake_wechat.base_url).messages()
    sent_title = arrived["data"]["thing1"]["value"]
    assert len(sent_title) == 20
    assert sent_title == long_title[:19] + "…"
    assert arrived["data"]["phrase2"]["value"] == "待申报状态"


@pytest.mark.parametrize(
    "data",
    [{"character_string1": "X" * 33}, {"thing1": ""}, {}, {"car_number1": "粤B123456789"}],
)
async def test_template_data_that_cannot_be_fixed_is_refused_before_sending(
    data: dict[str, str],
) -> None:
    with pytest.raises(TemplateDataInvalid) as refused:
        SubscribeMessageTemplate.build(template_id="tmpl", data=data)
    assert refused.value.code == "wechat-template-data-invalid"


@given(st.text(), st.integers(min_value=1, max_value=40))
def test_truncate_chars_keeps_within_the_limit_and_a_prefix(text: str, limit: int) -> None:
    shortened = truncate_chars(text, limit)
    assert len(shortened) <= limit
    if len(text) <= limit:
        assert shortened == text
    else:
        kept = shortened.removesuffix("…")
        assert text.startswith(kept)


async def test_login_code_gives_a_stable_openid(wechat: WeChatClient) -> None:
    first = await wechat.code2session("code-from-wx-login")
    again = await wechat.code2session("code-from-wx-login")

    assert first.openid == again.openid
    assert first.openid.startswith("o")
    assert first.session_key and first.unionid


@pytest.mark.parametrize(
    ("code", "error_type", "domain_code"),
    [
        ("bad-expired", WeChatLoginCodeInvalid, "wechat-login-code-invalid"),
        ("risky-farm", WeChatUserHighRisk, "wechat-user-high-risk"),
    ],
)
async def test_login_failures_are_typed_domain_errors(
    wechat: WeChatClient, code: str, error_type: type[WeChatLoginError], domain_code: str
) -> None:
    with pytest.raises(error_type) as failed:
        await wechat.code2session(code)
    assert failed.value.code == domain_code
    assert not hasattr(failed.value, "status_code")


async def test_login_rate_limit_is_its_own_error(
    fake_wechat: RunningFakeWeChat, wechat: WeChatClient
) -> None:
    await FakeControl(fake_wechat.base_url).configure(rate_45011=1.0)
    with pytest.raises(WeChatLoginRateLimited):
        await wechat.code2session("code-1")
