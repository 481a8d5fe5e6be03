"""Calling the WeChat server API: JSON in, `{errcode, errmsg, …}` out, with its error codes.

WeChat answers API errors with HTTP 200 and a non-zero `errcode`; only transport trouble (5xx,
timeouts, refused connections) shows as HTTP. Both become typed errors here, so the callers above
deal in errcodes and never in HTTP statuses.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from yarl import URL

from push.providers.http import parse_retry_after

DEFAULT_WECHAT_API_BASE = "https://api.weixin.qq.com"

SYSTEM_BUSY = -1
INVALID_ACCESS_TOKEN = 40001
INVALID_OPENID = 40003
INVALID_ACCESS_TOKEN_FORMAT = 40014
INVALID_LOGIN_CODE = 40029
INVALID_TEMPLATE_ID = 40037
HIGH_RISK_USER = 40226
ACCESS_TOKEN_EXPIRED = 42001
USER_REFUSED = 43101
API_QUOTA_REACHED = 45009
LOGIN_RATE_LIMITED = 45011
TEMPLATE_DATA_INVALID = 47003

# The token is the problem: get a fresh one and try the call once more.
TOKEN_ERRCODES = frozenset({INVALID_ACCESS_TOKEN, INVALID_ACCESS_TOKEN_FORMAT, ACCESS_TOKEN_EXPIRED})


class WeChatApiError(Exception):
    """WeChat refused the call with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatUnavailableError(Exception):
    """WeChat could not be reached or answered garbage; worth another try later."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


async def call_wechat(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    params: dict[str, str] | None = None,
    body: bytes | None = None,
) -> dict[str, Any]:
    """The decoded JSON object of a successful call; raises WeChatApiError for errcode ≠ 0 and
    WeChatUnavailableError for transport trouble."""
    headers = {"Content-Type": "application/json"} if body is not None else None
    try:
        async with session.request(method, url, params=params, data=body, headers=headers) as response:
            payload = await response.read()
            if response.status != 200:
                raise WeChatUnavailableError(
                    f"WeChat answered HTTP {response.status}",
                    retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
                )
    except TimeoutError as error:
        raise WeChatUnavailableError(f"WeChat timed out: {error!r}") from error
    except aiohttp.ClientError as error:
        raise WeChatUnavailableError(f"WeChat unreachable: {error!r}") from error
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise WeChatUnavailableError(f"WeChat answered non-JSON: {payload[:200]!r}") from error
    if not isinstance(document, dict):
        raise WeChatUnavailableError(f"WeChat answered a non-object: {payload[:200]!r}")
    errcode = document.get("errcode", 0)
    if errcode:
        raise WeChatApiError(int(errcode), str(document.get("errmsg", "")))
    return document
