"""The stock firebase-admin path a typical project uses: `messaging.send_each` in batches of 500,
pointed at `ENTPAGE_FCM_ENDPOINT`. Kept for the side-by-side benchmark and as a fallback.

How it is pointed elsewhere: firebase-admin has no endpoint option for FCM. It hard-codes
`https://fcm.googleapis.com` in `_MessagingService.FCM_URL` and mounts a pooled requests
`HTTPAdapter` on that prefix of its (google-auth) session. We leave its URL building alone and
mount, on the very same prefix, an adapter that rewrites the origin just before the request goes
out. requests' transport adapters are its documented extension point and the longest matching
prefix wins, so firebase-admin's own headers, authorisation, retry policy and pool size still
apply; only the origin changes.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import firebase_admin
import requests
import requests.adapters
from firebase_admin import _http_client, exceptions, messaging

from push.providers.base import SendOutcome
from push.providers.fcm_errors import outcome_for_error
from push.providers.http import parse_retry_after

GOOGLE_FCM_ORIGIN = "https://fcm.googleapis.com"
STOCK_BATCH_LIMIT = 500  # firebase-admin refuses larger send_each batches
# Mirrors firebase-admin's own FCM adapter, so only the origin differs from the stock setup.
_POOL_SIZE = 100


class _OriginRewritingAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, *, replaced_origin: str, target_origin: str) -> None:
        super().__init__(
            pool_connections=_POOL_SIZE,
            pool_maxsize=_POOL_SIZE,
            max_retries=_http_client.DEFAULT_RETRY_CONFIG,
        )
        self._replaced_origin = replaced_origin
        self._target_origin = target_origin

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if url.startswith(self._replaced_origin):
            request.url = self._target_origin + url[len(self._replaced_origin) :]
        return super().send(request, *args, **kwargs)


def route_messaging_to_endpoint(app: firebase_admin.App, endpoint: str) -> None:
    """Send `app`'s FCM calls (send, send_each) to `endpoint` instead of Google."""
    endpoint = endpoint.rstrip("/")
    if endpoint == GOOGLE_FCM_ORIGIN:
        return
    service = messaging._get_messaging_service(app)
    session: requests.Session = service._client.session
    session.mount(
        GOOGLE_FCM_ORIGIN,
        _OriginRewritingAdapter(replaced_origin=GOOGLE_FCM_ORIGIN, target_origin=endpoint),
    )
    _skip_regional_access_boundary_lookup(service._credential)


def _skip_regional_access_boundary_lookup(google_credential: Any) -> None:
    """google-auth (≥ 2.4x) starts a background lookup at iamcredentials.googleapis.com after a
    token refresh inside an authorised session. With FCM replaced by another endpoint that call
    would still go to Google; settle the boundary up front through the hook gcloud uses
    (`_set_regional_access_boundary`), so no request leaves for Google."""
    set_boundary = getattr(google_credential, "_set_regional_access_boundary", None)
    if set_boundary is None:  # older google-auth: no lookup to skip
        return
    far_future = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(days=3650)
    set_boundary({"encodedLocations": "0x0", "expiry": far_future})


def send_each_in_batches(
    messages: Sequence[messaging.Message],
    *,
    app: firebase_admin.App | None = None,
    batch_size: int = STOCK_BATCH_LIMIT,
) -> list[SendOutcome]:
    """firebase-admin's `send_each`, 500 messages per call (its limit); one outcome per message.
    Blocking: run it in a thread from async code."""
    if not 0 < batch_size <= STOCK_BATCH_LIMIT:
        raise ValueError(f"batch_size must be within 1..{STOCK_BATCH_LIMIT}")
    outcomes: list[SendOutcome] = []
    for start in range(0, len(messages), batch_size):
        batch = list(messages[start : start + batch_size])
        response = messaging.send_each(batch, app=app)
        outcomes.extend(_outcome_for_response(item) for item in response.responses)
    return outcomes


def _outcome_for_response(response: messaging.SendResponse) -> SendOutcome:
    if response.success:
        return SendOutcome.sent(str(response.message_id))
    error: exceptions.FirebaseError = response.exception
    http_response = error.http_response
    retry_after = None if http_response is None else http_response.headers.get("Retry-After")
    return outcome_for_error(error, retry_after_s=parse_retry_after(retry_after))
