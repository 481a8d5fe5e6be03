"""The FCM client the delivery worker uses: HTTP v1 `messages:send`, one message per request,
many in flight over a pool of keep-alive HTTP/1.1 connections (`http1.Http1Pool`, ADR 0006).

Per device a send costs a bytes join (the body is pre-encoded once per notice by firebase-admin,
see `FcmMessageTemplate`), one write of pre-built request bytes, and a tiny JSON parse. Errors
become firebase-admin's own exception types and then `SendOutcome`s (see `fcm_errors`).
`fcm_stock` holds the stock `messaging.send_each` path used for comparison.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import orjson
from firebase_admin import credentials, exceptions
from google.auth.exceptions import GoogleAuthError

from push.providers.base import ClosingClient, SendOutcome
from push.providers.fcm_auth import FcmAccessTokens
from push.providers.fcm_errors import (
    connection_error,
    firebase_error_from_response,
    outcome_for_error,
    timeout_error,
)
from push.providers.fcm_message import (
    MAX_PAYLOAD_BYTES,
    FcmMessageTemplate,
    PayloadTooLargeError,
    fit_to_payload_limit,
    truncate_utf8,
)
from push.providers.fcm_stock import route_messaging_to_endpoint, send_each_in_batches
from push.providers.http import parse_retry_after
from push.providers.http1 import Http1Pool

__all__ = [
    "DEFAULT_FCM_ENDPOINT",
    "MAX_PAYLOAD_BYTES",
    "FcmClient",
    "FcmMessageTemplate",
    "PayloadTooLargeError",
    "fit_to_payload_limit",
    "route_messaging_to_endpoint",
    "send_each_in_batches",
    "truncate_utf8",
]

logger = logging.getLogger(__name__)

DEFAULT_FCM_ENDPOINT = "https://fcm.googleapis.com"
_UNAUTHORIZED = 401


class FcmClient(ClosingClient):
    channel = "fcm"

    def __init__(
        self,
        *,
        credential: credentials.Base,
        project_id: str,
        endpoint: str = DEFAULT_FCM_ENDPOINT,
        max_in_flight: int = 256,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._tokens = FcmAccessTokens(credential)
        # The pool bounds requests in flight (one per connection) across every caller.
        self._http = Http1Pool(endpoint, max_connections=max_in_flight, timeout_s=timeout_s,
                               connect_timeout_s=connect_timeout_s)
        self._max_in_flight = max_in_flight
        base_path = urlsplit(endpoint).path.rstrip("/")
        self._send_path = f"{base_path}/v1/projects/{project_id}/messages:send"
        self._head_token: str | None = None
        self._head = b""

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send_batch(self, template: FcmMessageTemplate, recipients: Sequence[str]) -> list[SendOutcome]:
        """One outcome per token, in order. A fixed pool of senders drains the list, so a batch of
        any size costs `max_in_flight` coroutines, not one task per token."""
        outcomes: list[SendOutcome | None] = [None] * len(recipients)
        pending = iter(range(len(recipients)))

        async def drain() -> None:
            for index in pending:  # the shared iterator hands each index to exactly one sender
                outcomes[index] = await self.send(template, recipients[index])

        senders = min(self._max_in_flight, len(recipients))
        await asyncio.gather(*(drain() for _ in range(senders)))
        return [outcome for outcome in outcomes if outcome is not None]

    async def send(self, template: FcmMessageTemplate, token: str) -> SendOutcome:
        body = template.body_for(token)
        try:
            access_token = self._tokens.cached() or await self._tokens.current()
            status, payload, retry_after = await self._post(body, access_token)
            if status == _UNAUTHORIZED:
                access_token = await self._tokens.replace_rejected(access_token)
                status, payload, retry_after = await self._post(body, access_token)
        except TimeoutError as error:
            return self._failed(timeout_error(error), retry_after_s=None)
        except ConnectionError as error:
            return self._failed(connection_error(error), retry_after_s=None)
        except GoogleAuthError as error:
            unauthenticated = exceptions.UnauthenticatedError(
                f"Could not obtain an FCM access token: {error}", cause=error
            )
            return self._failed(unauthenticated, retry_after_s=None)
        if status == 200:
            try:
                return SendOutcome.sent(orjson.loads(payload)["name"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                malformed = exceptions.UnknownError(f"FCM answered 200 without a name: {payload!r}")
                return self._failed(malformed, retry_after_s=None)
        return self._failed(
            firebase_error_from_response(status, payload),
            retry_after_s=parse_retry_after(retry_after),
        )

    async def _post(self, body: bytes, access_token: str) -> tuple[int, bytes, str | None]:
        response = await self._http.request(self._head_for(access_token), body)
        return response.status, response.body, response.retry_after

    def _head_for(self, access_token: str) -> bytes:
        """Request line and headers, rebuilt only when the access token changes (hourly)."""
        if access_token != self._head_token:
            self._head = self._http.request_head("POST", self._send_path, {
                "Authorization": f"Bearer {access_token}",
                "Content-Type": "application/json; charset=UTF-8",
                "X-GOOG-API-FORMAT-VERSION": "2",
            })
            self._head_token = access_token
        return self._head

    def _failed(self, error: exceptions.FirebaseError, *, retry_after_s: float | None) -> SendOutcome:
        outcome = outcome_for_error(error, retry_after_s=retry_after_s)
        logger.debug(
            "push.fcm.send_failed",
            extra={
                "status": outcome.status.value,
                "error_code": outcome.error_code,
                "retry_after_s": outcome.retry_after_s,
            },
        )
        return outcome
