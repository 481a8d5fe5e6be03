"""OAuth2 access tokens for FCM, from a firebase-admin credential, cached until shortly before
they expire. google-auth refreshes with blocking I/O, so the refresh runs in a worker thread."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable

from firebase_admin import credentials

logger = logging.getLogger(__name__)

# google-auth reports no expiry for some credentials; assume a conservative lifetime.
_ASSUMED_LIFETIME_S = 1800.0


class FcmAccessTokens:
    def __init__(
        self,
        credential: credentials.Base,
        *,
        refresh_margin_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._refresh_margin_s = refresh_margin_s
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    def cached(self) -> str | None:
        """The current token if it is still fresh; no I/O, so callers can skip an await."""
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    async def current(self) -> str:
        token = self.cached()
        if token is not None:
            return token
        async with self._lock:  # one refresh however many sends are waiting
            token = self.cached()
            if token is not None:
                return token
            return await self._refresh(reason="expired")

    async def replace_rejected(self, rejected: str) -> str:
        """After FCM answered 401 to `rejected`: a new token, unless another send got one."""
        async with self._lock:
            if self._token is not None and self._token != rejected:
                return self._token
            return await self._refresh(reason="rejected")

    async def _refresh(self, *, reason: str) -> str:
        info = await asyncio.to_thread(self._credential.get_access_token)
        token: str = info.access_token
        expiry: datetime.datetime | None = info.expiry
        if expiry is None:
            expires_at = self._clock() + _ASSUMED_LIFETIME_S
        else:
            # google-auth reports naive UTC datetimes.
            expires_at = expiry.replace(tzinfo=datetime.UTC).timestamp()
        self._token = token
        self._refresh_at = expires_at - self._refresh_margin_s
        logger.info(
            "push.fcm.token_refreshed",
            extra={"reason": reason, "expires_in_s": round(expires_at - self._clock())},
        )
        return token
