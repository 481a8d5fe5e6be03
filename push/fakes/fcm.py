"""Fake Firebase Cloud Messaging: the HTTP v1 send endpoint and the OAuth2 token endpoint that
google-auth's service-account credentials call, speaking Google's documented wire format.

Run: `python -m push.fakes.fcm --host 127.0.0.1 --port 9101 --latency-ms 20 --rate-503 0.01`
(`--port 0` picks a free port; the first stdout line says where it listens).

Device tokens choose their fate: `unregistered-…` → 404 UNREGISTERED, `mismatch-…` → 403
SENDER_ID_MISMATCH, `invalid-…` → 400 INVALID_ARGUMENT (not a valid registration token); any
other token is accepted.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import itertools
import random
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

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

MAX_PAYLOAD_BYTES = 4096
# /v1/projects/{project}/messages:send, matched without a regex on the hot path
_SEND_PREFIX, _SEND_SUFFIX = "/v1/projects/", "/messages:send"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_TARGETS = ("token", "fid", "topic", "condition")


@dataclass(slots=True)
class FakeFcmConfig(CommonFaults):
    rate_429: float = 0.0  # QUOTA_EXCEEDED
    quota_retry_after_s: float = 60.0
    access_token_ttl_s: int = 3600


def _google_error(
    status: int,
    rpc_status: str,
    message: str,
    *,
    fcm_error_code: str | None = None,
    extra_details: tuple[dict[str, Any], ...] = (),
) -> bytes:
    """The google.rpc.Status body FCM v1 answers errors with."""
    error: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
    details: list[dict[str, Any]] = []
    if fcm_error_code is not None:
        details.append({"@type": _FCM_ERROR_TYPE, "errorCode": fcm_error_code})
    details.extend(extra_details)
    if details:
        error["details"] = details
    return orjson.dumps({"error": error})


_UNAUTHENTICATED = _google_error(
    401,
    "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
)
_UNREGISTERED = _google_error(
    404, "NOT_FOUND", "Requested entity was not found.", fcm_error_code="UNREGISTERED"
)
_SENDER_ID_MISMATCH = _google_error(
    403, "PERMISSION_DENIED", "SenderId mismatch", fcm_error_code="SENDER_ID_MISMATCH"
)
_INVALID_TOKEN_MESSAGE = "The registration token is not a valid FCM registration token"
_INVALID_TOKEN = _google_error(
    400,
    "INVALID_ARGUMENT",
    _INVALID_TOKEN_MESSAGE,
    fcm_error_code="INVALID_ARGUMENT",
    extra_details=(
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "message.token", "description": _INVALID_TOKEN_MESSAGE}],
        },
    ),
)
_UNAVAILABLE = _google_error(
    503, "UNAVAILABLE", "The service is currently unavailable.", fcm_error_code="UNAVAILABLE"
)
_INTERNAL = _google_error(500, "INTERNAL", "Internal error encountered.", fcm_error_code="INTERNAL")
_QUOTA_EXCEEDED = _google_error(
    429,
    "RESOURCE_EXHAUSTED",
    "Quota exceeded for quota metric 'Send messages' and limit 'Send messages per minute'.",
    fcm_error_code="QUOTA_EXCEEDED",
)


def _invalid_argument(message: str) -> bytes:
    return _google_error(400, "INVALID_ARGUMENT", message, fcm_error_code="INVALID_ARGUMENT")


class FakeFcm:
    """The fake's state and request handling (an HTTP-free `FakeApp`)."""

    def __init__(
        self,
        config: FakeFcmConfig | None = None,
        *,
        keep_messages: int = 1000,
        seed: int | None = None,
    ) -> None:
        self.config = config or FakeFcmConfig()
        self._initial_config = copy.deepcopy(self.config)
        self.recorder = Recorder(keep_messages=keep_messages)
        self._rng = random.Random(seed)
        self._access_tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self._message_ids = itertools.count(1)

    # --- FakeApp -------------------------------------------------------------------------
    def handle(self, request: FakeRequest) -> FakeReply:
        if request.path.startswith(CONTROL_PREFIX):
            return handle_control(
                request,
                config=self.config,
                recorder=self.recorder,
                reset=self.reset,
                revoke_tokens=self.revoke_access_tokens,
            )
        if request.path == "/token" and request.method == "POST":
            return self._issue_access_token(request)
        path = request.path
        if path.startswith(_SEND_PREFIX) and path.endswith(_SEND_SUFFIX) and request.method == "POST":
            project = path[len(_SEND_PREFIX) : -len(_SEND_SUFFIX)]
            if project and "/" not in project:
                return self._send(request, project=project)
        return FakeReply(
            404, _google_error(404, "NOT_FOUND", f"No route for {request.method} {request.path}")
        )

    def reset(self) -> None:
        self.recorder.reset()
        restore_config(self.config, self._initial_config)

    def revoke_access_tokens(self) -> int:
        revoked = len(self._access_tokens)
        self._access_tokens.clear()
        return revoked

    # --- OAuth2 token endpoint (RFC 7523 JWT bearer grant) --------------------------------
    def _issue_access_token(self, request: FakeRequest) -> FakeReply:
        self.recorder.count("oauth_token.requests")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get("grant_type") != _JWT_BEARER:
            return self._oauth_error("unsupported_grant_type", "Invalid grant_type.")
        claims = _jwt_claims(form.get("assertion", ""))
        if claims is None:
            return self._oauth_error("invalid_grant", "Invalid JWT assertion.")
        if not claims.get("iss") or not claims.get("scope"):
            return self._oauth_error("invalid_scope", "JWT must carry iss and scope.")
        if float(claims.get("exp", 0)) < time.time():
            return self._oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token.")
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        ttl = self.config.access_token_ttl_s
        self._access_tokens[token] = time.monotonic() + ttl
        self.recorder.count("oauth_token.issued")
        return json_reply(200, {"access_token": token, "expires_in": ttl, "token_type": "Bearer"})

    def _oauth_error(self, error: str, description: str) -> FakeReply:
        self.recorder.count(f"oauth_token.{error}")
        return json_reply(400, {"error": error, "error_description": description})

    # --- messages:send ------------------------------------------------------------------
    def _send(self, request: FakeRequest, *, project: str) -> FakeReply:
        counts = self.recorder.counts
        counts["send.requests"] += 1
        config = self.config
        delay = config.response_delay_s(self._rng)
        if not self._authorized(request.headers.get(b"authorization")):
            counts["send.unauthenticated"] += 1
            return FakeReply(401, _UNAUTHENTICATED, delay_s=delay)

        if config.rate_timeout or config.rate_503 or config.rate_500 or config.rate_429:
            fault = pick_fault(
                self._rng,
                {
                    "timeout": config.rate_timeout,
                    "unavailable": config.rate_503,
                    "internal": config.rate_500,
                    "quota_exceeded": config.rate_429,
                },
            )
            if fault is not None:
                counts[f"send.{fault}"] += 1
                return self._fault_reply(fault, delay)

        try:
            envelope = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            counts["send.invalid_argument"] += 1
            return FakeReply(400, _invalid_argument("Invalid JSON payload received."), delay_s=delay)
        problem, message, target = _validate_envelope(envelope, body_size=len(request.body))
        if problem is not None:
            counts["send.invalid_argument"] += 1
            return FakeReply(400, _invalid_argument(problem), delay_s=delay)
        assert message is not None and target is not None

        device = target[1] if target[0] in ("token", "fid") else ""
        if device.startswith("unregistered-"):
            counts["send.unregistered"] += 1
            return FakeReply(404, _UNREGISTERED, delay_s=delay)
        if device.startswith("mismatch-"):
            counts["send.sender_id_mismatch"] += 1
            return FakeReply(403, _SENDER_ID_MISMATCH, delay_s=delay)
        if device.startswith("invalid-"):
            counts["send.invalid_token"] += 1
            return FakeReply(400, _INVALID_TOKEN, delay_s=delay)

        name = f"projects/{project}/messages/{next(self._message_ids)}"
        if envelope.get("validate_only") is True:
            counts["send.validated"] += 1
            return json_reply(200, {"name": f"projects/{project}/messages/fake_message_id"}, delay_s=delay)
        counts["send.sent"] += 1
        self.recorder.remember(
            {"name": name, "received_at": time.time(), target[0]: target[1], "message": message}
        )
        return FakeReply(200, b'{"name":"%s"}' % name.encode(), delay_s=delay)

    def _authorized(self, header: bytes | None) -> bool:
        if header is None or not header.startswith(b"Bearer "):
            return False
        expires_at = self._access_tokens.get(header[7:].decode("latin-1"))
        return expires_at is not None and expires_at > time.monotonic()

    def _fault_reply(self, fault: str, delay: float) -> FakeReply:
        if fault == "timeout":
            return FakeReply(200, b"", hang=True)
        if fault == "quota_exceeded":
            quota_wait = (("Retry-After", _seconds(self.config.quota_retry_after_s)),)
            return FakeReply(429, _QUOTA_EXCEEDED, headers=quota_wait, delay_s=delay)
        body, status = (_UNAVAILABLE, 503) if fault == "unavailable" else (_INTERNAL, 500)
        return FakeReply(status, body, headers=server_retry_after(self.config), delay_s=delay)


def _validate_envelope(
    envelope: Any, *, body_size: int
) -> tuple[str | None, dict[str, Any] | None, tuple[str, str] | None]:
    """(problem, message, (target kind, target value)) as FCM checks a send request."""
    if not isinstance(envelope, dict):
        return "Invalid JSON payload received. Expected an object.", None, None
    message = envelope.get("message")
    if not isinstance(message, dict):
        return "Request contains an invalid argument: message is required.", None, None
    targets = [(kind, message[kind]) for kind in _TARGETS if kind in message]
    if len(targets) != 1:
        return "Exactly one of token, topic or condition must be specified.", None, None
    kind, value = targets[0]
    if not isinstance(value, str) or not value:
        return f"Invalid value at 'message.{kind}': must be a non-empty string.", None, None
    data = message.get("data", {})
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return "Invalid value at 'message.data': values must be strings.", None, None
    # A compact re-encoding is never longer than the body it came from, so only bodies over
    # the limit need measuring.
    if body_size > MAX_PAYLOAD_BYTES and _payload_size(message) > MAX_PAYLOAD_BYTES:
        return f"Message is too big. The payload limit is {MAX_PAYLOAD_BYTES} bytes.", None, None
    return None, message, (kind, value)


def _payload_size(message: dict[str, Any]) -> int:
    """Bytes counted against the limit: the message without its target, compactly encoded."""
    return len(orjson.dumps({k: v for k, v in message.items() if k not in _TARGETS}))


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    """Claims of a JWT, without checking its signature: the fake trusts any service account."""
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _seconds(value: float) -> str:
    return str(max(0, round(value)))


@dataclass(frozen=True, slots=True)
class RunningFakeFcm:
    base_url: str
    fake: FakeFcm

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"


@contextlib.asynccontextmanager
async def running_fake_fcm(
    config: FakeFcmConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    keep_messages: int = 1000,
    seed: int | None = None,
) -> AsyncIterator[RunningFakeFcm]:
    """Serve a fake FCM on the running event loop (port 0: a free port) for the block."""
    fake = FakeFcm(config, keep_messages=keep_messages, seed=seed)
    async with serving(fake, host=host, port=port) as base_url:
        yield RunningFakeFcm(base_url=base_url, fake=fake)


def main(argv: list[str] | None = None) -> None:
    run_fake_cli(argv, prog="python -m push.fakes.fcm", description=__doc__, name="fake FCM",
                 default_port=9101, config_cls=FakeFcmConfig, build=FakeFcm)

if __name__ == "__main__":
    main()
