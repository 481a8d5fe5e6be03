"""Fixtures for the delivery pipeline tests: provider clients pointed at the real fakes, and a
population with a publisher and staff (through the real services)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from firebase_admin import credentials

from push import service
from push.fakes.fcm import RunningFakeFcm
from push.fakes.wechat import RunningFakeWeChat
from push.providers.fcm import FcmClient
from push.providers.wechat import WeChatClient
from tests.notices.helpers import World, make_world

PROJECT_ID = "entpage-test"


@pytest.fixture
async def fcm_client(
    fake_fcm: RunningFakeFcm, fcm_credential: credentials.Certificate
) -> AsyncIterator[FcmClient]:
    client = FcmClient(
        credential=fcm_credential,
        project_id=PROJECT_ID,
        endpoint=fake_fcm.base_url,
        max_in_flight=64,
        timeout_s=5.0,
    )
    yield client
    await client.aclose()


@pytest.fixture
async def wechat_client(
    fake_wechat: RunningFakeWeChat, redis_client: aioredis.Redis
) -> AsyncIterator[WeChatClient]:
    client = WeChatClient(
        redis=redis_client,
        appid="wx-entpage-test",
        secret="test-secret",
        api_base=fake_wechat.base_url,
        max_in_flight=16,
        timeout_s=5.0,
        quota_retry_after_s=1.0,
    )
    service.use_wechat_client(client)
    yield client
    service.use_wechat_client(None)
    await client.aclose()


@pytest.fixture
async def world(client: httpx.AsyncClient) -> World:
    return await make_world(client)

