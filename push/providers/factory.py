"""Provider clients built from the process settings (`ENTPAGE_FCM_ENDPOINT`,
`ENTPAGE_WECHAT_API_BASE`, credentials), for the worker and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from firebase_admin import credentials
from redis.asyncio import Redis

from core.settings import Settings
from push.providers.base import PushProvider
from push.providers.fcm import FcmClient, FcmMessageTemplate
from push.providers.wechat import SubscribeMessageTemplate, WeChatClient


def load_fcm_credential(settings: Settings) -> credentials.Base:
    if not settings.fcm_credentials_file:
        raise RuntimeError("ENTPAGE_FCM_CREDENTIALS_FILE must name a service-account JSON to send with FCM")
    credential: credentials.Base = credentials.Certificate(settings.fcm_credentials_file)
    return credential


def fcm_client_from_settings(
    settings: Settings, *, max_in_flight: int = 256, timeout_s: float = 10.0
) -> FcmClient:
    return FcmClient(
        credential=load_fcm_credential(settings),
        project_id=settings.fcm_project_id,
        endpoint=settings.fcm_endpoint,
        max_in_flight=max_in_flight,
        timeout_s=timeout_s,
    )


def wechat_client_from_settings(
    settings: Settings, *, redis: Redis, max_in_flight: int = 64, timeout_s: float = 10.0
) -> WeChatClient:
    return WeChatClient(
        redis=redis,
        appid=settings.wechat_appid,
        secret=settings.wechat_secret,
        api_base=settings.wechat_api_base,
        max_in_flight=max_in_flight,
        timeout_s=timeout_s,
    )


if TYPE_CHECKING:  # mypy proves both clients satisfy the common provider interface

    def _both_are_providers(
        fcm: FcmClient, wechat: WeChatClient
    ) -> tuple[PushProvider[FcmMessageTemplate], PushProvider[SubscribeMessageTemplate]]:
        return fcm, wechat
