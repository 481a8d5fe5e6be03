"""The fake WeChat API over HTTP, as any client sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from push.fakes.control_client import FakeControl
from push.fakes.process import spawned_fake
from push.fakes.wechat import RunningFakeWeChat


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def stable_token(
    http: aiohttp.ClientSession, fake: RunningFakeWeChat, *, force: bool = False
) -> dict[str, Any]:
    body = {"grant_type": "client_credential", "appid": "wx1", "secret": "s", "force_refresh": force}
    async with http.post(f"{fake.base_url}/cgi-bin/stable_token", json=body) as response:
        assert response.status == 200
        document: dict[str, Any] = await response.json()
        return document


async def subscribe_send(
    http: aiohttp.ClientSession, fake: RunningFakeWeChat, token: str, **overrides: Any
) -> dict[str, Any]:
    body = {
        "touser": "o-user-1",
        "template_id": "tmpl-reminder",
        "page": "pages/notice/index?id=1",
        "data": {"thing1": {"value": "年报提醒"}, "time2": {"value": "2025-06-30"}},
        "miniprogram_state": "formal",
        "lang": "zh_CN",
        **overrides,
    }
    url = f"{fake.base_url}/cgi-bin/message/subscribe/send"
    async with http.post(url, params={"access_token": token}, json=body) as response:
        assert response.status == 200  # WeChat reports API errors in the body
        document: dict[str, Any] = await response.json()
        return document


async def code2session(http: aiohttp.ClientSession, fake: RunningFakeWeChat, code: str) -> dict[str, Any]:
    params = {"appid": "wx1", "secret": "s", "js_code": code, "grant_type": "authorization_code"}
    async with http.get(f"{fake.base_url}/sns/jscode2session", params=params) as response:
        document: dict[str, Any] = await response.json(content_type=None)
        return document


async def test_stable_token_is_stable_until_forced(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    first = await stable_token(http, fake_wechat)
    again = await stable_token(http, fake_wechat)
    forced = await stable_token(http, fake_wechat, force=True)

    assert first["access_token"] == again["access_token"]
    assert 7190 <= first["expires_in"] <= 7200
    assert forced["access_token"] != first["access_token"]
    # A forced refresh invalidates the previous token at once.
    assert (await subscribe_send(http, fake_wechat, first["access_token"]))["errcode"] == 40001
    assert (await subscribe_send(http, fake_wechat, forced["access_token"]))["errcode"] == 0


async def test_subscribe_send_is_recorded_for_a_demo_user(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await stable_token(http, fake_wechat))["access_token"]
    answer = await subscribe_send(http, fake_wechat, token)

    assert (answer["errcode"], answer["errmsg"]) == (0, "ok")
    [kept] = await FakeControl(fake_wechat.base_url).messages()
    assert kept["msgid"] == answer["msgid"]
    assert kept["touser"] == "o-user-1"
    assert kept["data"]["thing1"] == {"value": "年报提醒"}


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"data": {"thing1": {"value": "一二三四五六七八九十一二三四五六七八九十一"}}}, 47003),
        ({"data": {}}, 47003),
        ({"touser": ""}, 40003),
        ({"template_id": ""}, 40037),
        ({"miniprogram_state": "production"}, 47003),
    ],
)
async def test_subscribe_send_validates_like_wechat(
    fake_wechat: RunningFakeWeChat,
    http: aiohttp.ClientSession,
    overrides: dict[str, Any],
    errcode: int,
) -> None:
    token = (await stable_token(http, fake_wechat))["access_token"]
    assert (await subscribe_send(http, fake_wechat, token, **overrides))["errcode"] == errcode
    assert await FakeControl(fake_wechat.base_url).messages() == []


async def test_exactly_20_characters_of_thing_are_accepted(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    token = (await stable_token(http, fake_wechat))["access_token"]
    twenty = "一二三四五六七八九十一二三四五六七八九十"
    answer = await subscribe_send(http, fake_wechat, token, data={"thing1": {"value": twenty}})
    assert answer["errcode"] == 0


async def test_bad_tokens_are_refused(fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession) -> None:
    assert (await subscribe_send(http, fake_wechat, ""))["errcode"] == 41001
    assert (await subscribe_send(http, fake_wechat, "made-up"))["errcode"] == 40001
    token = (await stable_token(http, fake_wechat))["access_token"]
    assert await FakeControl(fake_wechat.base_url).revoke_tokens() == 1
    assert (await subscribe_send(http, fake_wechat, token))["errcode"] == 40001


async def test_refusing_users_and_templates_answer_43101(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    await FakeControl(fake_wechat.base_url).configure(
        refuse_openids=["o-refuser"], refuse_templates=["tmpl-nobody-wants"]
    )
    token = (await stable_token(http, fake_wechat))["access_token"]

    assert (await subscribe_send(http, fake_wechat, token, touser="o-refuser"))["errcode"] == 43101
    refused_template = await subscribe_send(http, fake_wechat, token, template_id="tmpl-nobody-wants")
    assert refused_template["errcode"] == 43101
    assert (await subscribe_send(http, fake_wechat, token))["errcode"] == 0


@pytest.mark.parametrize(
    ("setting", "errcode"),
    [
        ("rate_40001", 40001),
        ("rate_43101", 43101),
        ("rate_45009", 45009),
        ("rate_47003", 47003),
        ("rate_system_busy", -1),
    ],
)
async def test_errcode_faults_are_injectable(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession, setting: str, errcode: int
) -> None:
    token = (await stable_token(http, fake_wechat))["access_token"]
    await FakeControl(fake_wechat.base_url).configure(**{setting: 1.0})
    assert (await subscribe_send(http, fake_wechat, token))["errcode"] == errcode


async def test_transport_faults_are_http_errors(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    await FakeControl(fake_wechat.base_url).configure(rate_503=1.0, server_retry_after_s=4)
    url = f"{fake_wechat.base_url}/cgi-bin/stable_token"
    async with http.post(url, json={}) as response:
        assert (response.status, response.headers["Retry-After"]) == (503, "4")
    assert (await FakeControl(fake_wechat.base_url).stats())["stable_token.fault_503"] == 1


async def test_login_codes_map_to_deterministic_openids(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession
) -> None:
    first = await code2session(http, fake_wechat, "code-alice")
    second = await code2session(http, fake_wechat, "code-alice")
    other = await code2session(http, fake_wechat, "code-bob")

    assert first["openid"] == second["openid"]
    assert first["openid"].startswith("o")
    assert other["openid"] != first["openid"]
    assert first["session_key"] and "unionid" in first


@pytest.mark.parametrize(("code", "errcode"), [("bad-used-twice", 40029), ("risky-bot", 40226), ("", 40029)])
async def test_login_failures_answer_with_errcodes(
    fake_wechat: RunningFakeWeChat, http: aiohttp.ClientSession, code: str, errcode: int
) -> None:
    document = await code2session(http, fake_wechat, code)
    assert document["errcode"] == errcode
    assert "openid" not in document


async def test_runs_as_a_command_with_flags() -> None:
    with spawned_fake("push.fakes.wechat", args=["--refuse-openids", "o-a,o-b"]) as spawned:
        settings = await FakeControl(spawned.base_url).config()
    assert settings["refuse_openids"] == ["o-a", "o-b"]
