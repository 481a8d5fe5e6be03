"""WeChat client: subscription messages (one-time consent, `subscribe/send`) and mini-program
login (`jscode2session`), over one pooled aiohttp session, with the access token shared through
Redis (see `wechat_token`).

Outcome rules (DESIGN.md): 40001/40014/42001 → fresh token and one more try; 43101 → the user
refused or has no consent left; 47003 → template data invalid (checked beforehand too, see
`wechat_template`); 45009 → quota reached, back off; -1 → system busy, retry soon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from yarl import URL

from push.providers.base import ClosingClient, SendOutcome, SendStatus
from push.providers.http import PooledHttp
from push.providers.wechat_api import (
    API_QUOTA_REACHED,
    DEFAULT_WECHAT_API_BASE,
    INVALID_OPENID,
    SYSTEM_BUSY,
    TOKEN_ERRCODES,
    USER_REFUSED,
    WeChatApiError,
    WeChatUnavailableError,
    call_wechat,
)
from push.providers.wechat_login import WeChatSession, code2session
from push.providers.wechat_template import SubscribeMessageTemplate
from push.providers.wechat_token import ForcedRefreshLimitReached, WeChatAccessTokens

__all__ = [
    "DEFAULT_WECHAT_API_BASE",
    "SubscribeMessageTemplate",
    "WeChatClient",
    "WeChatSession",
    "outcome_for_errcode",
]

logger = logging.getLogger(__name__)


def outcome_for_errcode(
    error: WeChatApiError, *, quota_retry_after_s: float, busy_retry_after_s: float
) -> SendOutcome:
    def outcome(status: SendStatus, retry_after_s: float | None = None) -> SendOutcome:
        return SendOutcome.failed(
            status,
            error_code=str(error.errcode),
            error_message=error.errmsg,
            cause=error,
            retry_after_s=retry_after_s,
        )

    if error.errcode == USER_REFUSED:
        return outcome(SendStatus.CONSENT_REFUSED)
    if error.errcode == API_QUOTA_REACHED:
        return outcome(SendStatus.RETRY, quota_retry_after_s)
    if error.errcode == SYSTEM_BUSY:
        return outcome(SendStatus.RETRY, busy_retry_after_s)
    if error.errcode in TOKEN_ERRCODES:  # still refused after one fresh token
        return outcome(SendStatus.RETRY)
    if error.errcode == INVALID_OPENID:
        return outcome(SendStatus.DEAD_TOKEN)
    return outcome(SendStatus.REJECTED)  # 47003, 40037 and anything unknown: do not resend


class WeChatClient(ClosingClient):
    channel = "wechat"

    def __init__(
        self,
        *,
        redis: Redis,
        appid: str,
        secret: str,
        api_base: str = DEFAULT_WECHAT_API_BASE,
        max_in_flight: int = 64,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        forced_refresh_limit_per_day: int = 20,
        quota_retry_after_s: float = 60.0,
        busy_retry_after_s: float = 1.0,
    ) -> None:
        self._http = PooledHttp(
            max_connections=max_in_flight, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s
        )
        self._api_base = api_base.rstrip("/")
        self._appid = appid
        self._secret = secret
        self._max_in_flight = max_in_flight
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._send_url = URL(f"{self._api_base}/cgi-bin/message/subscribe/send")
        self._quota_retry_after_s = quota_retry_after_s
        self._busy_retry_after_s = busy_retry_after_s
        self.tokens = WeChatAccessTokens(
            redis=redis,
            http=self._http,
            api_base=self._api_base,
            appid=appid,
            secret=secret,
            forced_refresh_limit_per_day=forced_refresh_limit_per_day,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def code2session(self, js_code: str) -> WeChatSession:
        """The openid behind a `wx.login()` code; raises a WeChatLoginError subclass."""
        return await code2session(
            self._http,
            api_base=self._api_base,
            appid=self._appid,
            secret=self._secret,
            js_code=js_code,
        )

    async def send_batch(
        self, template: SubscribeMessageTemplate, recipients: Sequence[str]
    ) -> list[SendOutcome]:
        """One outcome per openid, in order, at most `max_in_flight` requests at once."""
        outcomes: list[SendOutcome | None] = [None] * len(recipients)
        pending = iter(range(len(recipients)))

        async def drain() -> None:
            for index in pending:  # the shared iterator hands each index to exactly one sender
                outcomes[index] = await self.subscribe_send(template, recipients[index])

        await asyncio.gather(*(drain() for _ in range(min(self._max_in_flight, len(recipients)))))
        return [outcome for outcome in outcomes if outcome is not None]

    async def subscribe_send(self, template: SubscribeMessageTemplate, openid: str) -> SendOutcome:
        body = template.body_for(openid)
        try:
            token = await self.tokens.current()
            try:
                document = await self._post_send(body, token)
            except WeChatApiError as error:
                if error.errcode not in TOKEN_ERRCODES:
                    raise
                logger.info(
                    "push.wechat.token_rejected",
                    extra={"errcode": error.errcode, "template_id": template.template_id},
                )
                token = await self.tokens.replace_rejected(token)
                document = await self._post_send(body, token)
        except WeChatApiError as error:
            outcome = outcome_for_errcode(
                error,
                quota_retry_after_s=self._quota_retry_after_s,
                busy_retry_after_s=self._busy_retry_after_s,
            )
            logger.debug(
                "push.wechat.send_failed",
                extra={"status": outcome.status.value, "errcode": error.errcode},
            )
            return outcome
        except ForcedRefreshLimitReached as error:
            return SendOutcome.failed(
                SendStatus.RETRY,
                error_code="forced_refresh_limit",
                error_message=str(error),
                cause=error,
                retry_after_s=error.retry_after_s,
            )
        except WeChatUnavailableError as error:
            return SendOutcome.failed(
                SendStatus.RETRY,
                error_code="unavailable",
                error_message=str(error),
                cause=error,
                retry_after_s=error.retry_after_s,
            )
        return SendOutcome.sent(str(document.get("msgid", "")))

    async def _post_send(self, body: bytes, token: str) -> dict[str, Any]:
        async with self._in_flight:
            return await call_wechat(
                self._http.session,
                "POST",
                self._send_url,
                params={"access_token": token},
                body=body,
            )
