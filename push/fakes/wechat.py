"""Fake WeChat server API: `stable_token`, subscription-message `subscribe/send` and
`jscode2session`, answering like api.weixin.qq.com (HTTP 200 with `errcode`/`errmsg`).

Run: `python -m push.fakes.wechat --host 127.0.0.1 --port 9102 --rate-45009 0.01`
(`--port 0` picks a free port; the first stdout line says where it listens).

Login codes choose their fate: `bad-…` → 40029 invalid code, `risky-…` → 40226 high-risk user;
any other code logs in with a deterministic openid (`o` + hash of appid and code).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import random
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from push.fakes.config import (
    CommonFaults,
    pick_fault,
    restore_config,
    run_fake_cli,
    server_retry_after,
)
from push.fakes.control import CONTROL_PREFIX, handle_control
from push.fakes.http_server import FakeReply, FakeRequest, json_reply, serving
from push.fakes.recorder import Recorder

THING_MAX_CHARS = 20
_MINIPROGRAM_STATES = frozenset({"developer", "trial", "formal"})
# Normal-mode stable_token hands out a new token only in the last 5 minutes of the old one.
_RENEWAL_WINDOW_S = 300


@dataclass(slots=True)
class FakeWeChatConfig(CommonFaults):
    rate_40001: float = 0.0  # access token reported invalid
    rate_43101: float = 0.0  # user refused / no consent left
    rate_45009: float = 0.0  # API call quota reached
    rate_47003: float = 0.0  # template data invalid
    rate_system_busy: float = 0.0  # errcode -1
    rate_45011: float = 0.0  # jscode2session called too often
    refuse_openids: list[str] = field(default_factory=list)
    refuse_templates: list[str] = field(default_factory=list)
    token_ttl_s: int = 7200
    with_unionid: bool = True


def _error(errcode: int, errmsg: str, delay: float) -> FakeReply:
    rid = secrets.token_hex(4)
    return json_reply(200, {"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}"}, delay_s=delay)


_INJECTED_SEND_ERRORS: dict[str, tuple[int, str]] = {
    "invalid_token": (40001, "invalid credential, access_token is invalid or not latest"),
    "refused": (43101, "user refuse to accept the msg"),
    "quota": (45009, "reach max api daily quota limit"),
    "bad_data": (47003, "argument invalid! data.thing1.value invalid"),
    "busy": (-1, "system error"),
}


@dataclass(slots=True)
class _AppToken:
    token: str
    expires_at: float


class FakeWeChat:
    """The fake's state and request handling (an HTTP-free `FakeApp`)."""

    def __init__(
        self,
        config: FakeWeChatConfig | None = None,
        *,
        keep_messages: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.config = config or FakeWeChatConfig()
        self._initial_config = copy.deepcopy(self.config)
        self.recorder = Recorder(keep_messages=keep_messages)
        self._rng = random.Random(seed)
        self._current_tokens: dict[str, _AppToken] = {}  # appid -> newest token
        self._valid_tokens: dict[str, float] = {}  # every still-valid token -> expires_at
        self._msgids = itertools.count(2_000_000_000)

    def handle(self, request: FakeRequest) -> FakeReply:
        if request.path.startswith(CONTROL_PREFIX):
            return handle_control(
                request,
                config=self.config,
                recorder=self.recorder,
                reset=self.reset,
                revoke_tokens=self.revoke_access_tokens,
            )
        route = (request.method, request.path)
        if route == ("POST", "/cgi-bin/stable_token"):
            return self._guarded("stable_token", lambda delay: self._stable_token(request, delay))
        if route == ("POST", "/cgi-bin/message/subscribe/send"):
            return self._guarded("subscribe_send", lambda delay: self._subscribe_send(request, delay))
        if route == ("GET", "/sns/jscode2session"):
            return self._guarded("jscode2session", lambda delay: self._code2session(request, delay))
        return json_reply(404, {"errcode": 404, "errmsg": f"no route {request.method} {request.path}"})

    def reset(self) -> None:
        self.recorder.reset()
        restore_config(self.config, self._initial_config)

    def revoke_access_tokens(self) -> int:
        revoked = len(self._valid_tokens)
        self._valid_tokens.clear()
        self._current_tokens.clear()
        return revoked

    def _guarded(self, endpoint: str, answer: Any) -> FakeReply:
        """Count the request, apply latency and transport-level faults, then answer."""
        self.recorder.count(f"{endpoint}.requests")
        config = self.config
        delay = config.response_delay_s(self._rng)
        fault = pick_fault(
            self._rng,
            {"timeout": config.rate_timeout, "503": config.rate_503, "500": config.rate_500},
        )
        if fault is not None:
            self.recorder.count(f"{endpoint}.fault_{fault}")
            if fault == "timeout":
                return FakeReply(200, b"", hang=True)
            status = int(fault)
            body = b"<html><body>%d</body></html>" % status
            return FakeReply(
                status,
                body,
                headers=server_retry_after(config),
                delay_s=delay,
                content_type="text/html",
            )
        reply: FakeReply = answer(delay)
        return reply

    # --- access tokens ------------------------------------------------------------------
    def _stable_token(self, request: FakeRequest, delay: float) -> FakeReply:
        body = _json_object(request.body)
        if body is None:
            return _error(47001, "data format error", delay)
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type", delay)
        appid, secret = body.get("appid"), body.get("secret")
        if not isinstance(appid, str) or not appid:
            return _error(41002, "appid missing", delay)
        if not isinstance(secret, str) or not secret:
            return _error(41004, "appsecret missing", delay)
        now = time.monotonic()
        current = self._current_tokens.get(appid)
        forced = body.get("force_refresh") is True
        if forced:
            self.recorder.count("stable_token.forced")
            if current is not None:  # a forced refresh invalidates the previous token at once
                self._valid_tokens.pop(current.token, None)
        if forced or current is None or current.expires_at - now <= _RENEWAL_WINDOW_S:
            current = _AppToken(
                token=f"fake-wx-{secrets.token_urlsafe(24)}",
                expires_at=now + self.config.token_ttl_s,
            )
            self._current_tokens[appid] = current
            self._forget_expired_tokens(now)
            self._valid_tokens[current.token] = current.expires_at
            self.recorder.count("stable_token.issued")
        expires_in = max(0, round(current.expires_at - now))
        return json_reply(200, {"access_token": current.token, "expires_in": expires_in}, delay_s=delay)

    def _forget_expired_tokens(self, now: float) -> None:
        """Keeps memory flat however long the fake runs; an hour's grace still answers 42001."""
        expired = [t for t, expires_at in self._valid_tokens.items() if expires_at < now - 3600]
        for token in expired:
            del self._valid_tokens[token]

    def _token_problem(self, token: str | None, delay: float) -> FakeReply | None:
        if not token:
            return _error(41001, "access_token missing", delay)
        expires_at = self._valid_tokens.get(token)
        if expires_at is None:
            return _error(40001, "invalid credential, access_token is invalid or not latest", delay)
        if expires_at <= time.monotonic():
            return _error(42001, "access_token expired", delay)
        return None

    # --- subscription messages ----------------------------------------------------------
    def _subscribe_send(self, request: FakeRequest, delay: float) -> FakeReply:
        counts = self.recorder.counts
        problem = self._token_problem(request.query().get("access_token"), delay)
        if problem is not None:
            counts["subscribe_send.bad_token"] += 1
            return problem
        config = self.config
        fault = pick_fault(
            self._rng,
            {
                "invalid_token": config.rate_40001,
                "refused": config.rate_43101,
                "quota": config.rate_45009,
                "bad_data": config.rate_47003,
                "busy": config.rate_system_busy,
            },
        )
        if fault is not None:
            counts[f"subscribe_send.{fault}"] += 1
            return _error(*_INJECTED_SEND_ERRORS[fault], delay)
        body = _json_object(request.body)
        if body is None:
            return _error(47001, "data format error", delay)
        rejection = _validate_subscribe_message(body)
        if rejection is not None:
            counts["subscribe_send.rejected"] += 1
            return _error(*rejection, delay)
        if body["touser"] in config.refuse_openids or body["template_id"] in config.refuse_templates:
            counts["subscribe_send.refused"] += 1
            return _error(43101, "user refuse to accept the msg", delay)
        msgid = next(self._msgids)
        counts["subscribe_send.sent"] += 1
        self.recorder.remember({"msgid": msgid, "received_at": time.time(), **body})
        return json_reply(200, {"errcode": 0, "errmsg": "ok", "msgid": msgid}, delay_s=delay)

    # --- login --------------------------------------------------------------------------
    def _code2session(self, request: FakeRequest, delay: float) -> FakeReply:
        query = request.query()
        if query.get("grant_type") != "authorization_code":
            return _error(40002, "invalid grant_type", delay)
        appid, code = query.get("appid", ""), query.get("js_code", "")
        if not appid or not query.get("secret"):
            return _error(41002, "appid or secret missing", delay)
        if pick_fault(self._rng, {"limited": self.config.rate_45011}) is not None:
            self.recorder.count("jscode2session.rate_limited")
            return _error(45011, "api minute-quota reach limit  mustslower  retry next minute", delay)
        if not code or code.startswith("bad-"):
            self.recorder.count("jscode2session.invalid_code")
            return _error(40029, "invalid code", delay)
        if code.startswith("risky-"):
            self.recorder.count("jscode2session.high_risk")
            return _error(40226, "invalid user, high risk user", delay)
        self.recorder.count("jscode2session.ok")
        digest = hashlib.sha256(f"{appid}:{code}".encode()).hexdigest()
        session: dict[str, Any] = {
            "openid": "o" + digest[:27],
            "session_key": secrets.token_urlsafe(16),
        }
        if self.config.with_unionid:
            session["unionid"] = "u" + hashlib.sha256(f"union:{code}".encode()).hexdigest()[:27]
        return json_reply(200, session, delay_s=delay)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _validate_subscribe_message(body: dict[str, Any]) -> tuple[int, str] | None:
    """(errcode, errmsg) for a request WeChat would refuse, else None."""
    touser, template_id, data = body.get("touser"), body.get("template_id"), body.get("data")
    if not isinstance(touser, str) or not touser:
        return 40003, "invalid openid"
    if not isinstance(template_id, str) or not template_id:
        return 40037, "invalid template_id"
    state = body.get("miniprogram_state", "formal")
    if state not in _MINIPROGRAM_STATES:
        return 47003, "argument invalid! miniprogram_state invalid"
    if not isinstance(data, dict) or not data:
        return 47003, "argument invalid! data invalid"
    for key, item in data.items():
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value:
            return 47003, f"argument invalid! data.{key}.value invalid"
        if key.startswith("thing") and len(value) > THING_MAX_CHARS:
            return 47003, f"argument invalid! data.{key}.value invalid"
    return None


@dataclass(frozen=True, slots=True)
class RunningFakeWeChat:
    base_url: str
    fake: FakeWeChat


@contextlib.asynccontextmanager
async def running_fake_wechat(
    config: FakeWeChatConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    keep_messages: int = 1000,
    seed: int | None = None,
) -> AsyncIterator[RunningFakeWeChat]:
    """Serve a fake WeChat API on the running event loop (port 0: a free port) for the block."""
    fake = FakeWeChat(config, keep_messages=keep_messages, seed=seed)
    async with serving(fake, host=host, port=port) as base_url:
        yield RunningFakeWeChat(base_url=base_url, fake=fake)


def main(argv: list[str] | None = None) -> None:
    run_fake_cli(argv, prog="python -m push.fakes.wechat", description=__doc__, name="fake WeChat",
                 default_port=9102, config_cls=FakeWeChatConfig, build=FakeWeChat)

if __name__ == "__main__":
    main()
