"""Mini-program login: exchange a `wx.login()` code for the user's openid (`jscode2session`).
Failures are domain errors with stable codes; the HTTP edge decides how to show them."""

from __future__ import annotations

from dataclasses import dataclass

from yarl import URL

from core.errors import DomainError
from push.providers.http import PooledHttp
from push.providers.wechat_api import (
    HIGH_RISK_USER,
    INVALID_LOGIN_CODE,
    LOGIN_RATE_LIMITED,
    WeChatApiError,
    WeChatUnavailableError,
    call_wechat,
)


@dataclass(frozen=True, slots=True)
class WeChatSession:
    openid: str
    session_key: str
    unionid: str | None = None


class WeChatLoginError(DomainError):
    code = "wechat-login-failed"
    title = "WeChat login failed"


class WeChatLoginCodeInvalid(WeChatLoginError):
    code = "wechat-login-code-invalid"
    title = "The WeChat login code is invalid or already used"


class WeChatLoginRateLimited(WeChatLoginError):
    code = "wechat-login-rate-limited"
    title = "Too many WeChat logins; try again in a minute"


class WeChatUserHighRisk(WeChatLoginError):
    code = "wechat-user-high-risk"
    title = "WeChat flagged this user as high risk"


class WeChatLoginUnavailable(WeChatLoginError):
    code = "wechat-login-unavailable"
    title = "WeChat could not be reached; try again"


_ERRORS_BY_ERRCODE: dict[int, type[WeChatLoginError]] = {
    INVALID_LOGIN_CODE: WeChatLoginCodeInvalid,
    LOGIN_RATE_LIMITED: WeChatLoginRateLimited,
    HIGH_RISK_USER: WeChatUserHighRisk,
}


async def code2session(
    http: PooledHttp, *, api_base: str, appid: str, secret: str, js_code: str
) -> WeChatSession:
    if not js_code:
        raise WeChatLoginCodeInvalid("the login code is empty", field="code")
    url = URL(f"{api_base.rstrip('/')}/sns/jscode2session")
    params = {
        "appid": appid,
        "secret": secret,
        "js_code": js_code,
        "grant_type": "authorization_code",
    }
    try:
        document = await call_wechat(http.session, "GET", url, params=params)
    except WeChatApiError as error:
        error_type = _ERRORS_BY_ERRCODE.get(error.errcode, WeChatLoginError)
        raise error_type(error.errmsg, extra={"errcode": error.errcode}) from error
    except WeChatUnavailableError as error:
        raise WeChatLoginUnavailable(str(error)) from error
    openid, session_key = document.get("openid"), document.get("session_key")
    if not isinstance(openid, str) or not isinstance(session_key, str):
        raise WeChatLoginUnavailable("jscode2session answered without openid/session_key")
    unionid = document.get("unionid")
    return WeChatSession(
        openid=openid,
        session_key=session_key,
        unionid=unionid if isinstance(unionid, str) else None,
    )
