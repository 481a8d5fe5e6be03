"""The WeChat access token, shared by every worker through Redis.

`stable_token` is used (not the legacy `token` endpoint) so fetching never invalidates the token
other workers hold. One worker fetches at a time under a short Redis lock while the others wait
for its result. A forced refresh (which does invalidate the old token) is used only when WeChat
rejected a token that a normal fetch still returns, and at most `forced_refresh_limit_per_day`
times a day (WeChat allows 20), counted in Redis across all workers.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import time
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis
from yarl import URL

from push.providers.http import PooledHttp
from push.providers.wechat_api import WeChatUnavailableError, call_wechat

logger = logging.getLogger(__name__)

# WeChat's day for quotas is China's calendar day (no DST, so a fixed offset is exact).
CHINA_TZ = datetime.timezone(datetime.timedelta(hours=8), name="Asia/Shanghai")


class ForcedRefreshLimitReached(Exception):
    """Today's forced refreshes are used up; the token cannot be replaced before tomorrow."""

    def __init__(self, limit: int, *, retry_after_s: float) -> None:
        super().__init__(f"forced access-token refreshes are limited to {limit} a day")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class _FetchedToken:
    token: str
    expires_in_s: int


class WeChatAccessTokens:
    def __init__(
        self,
        *,
        redis: Redis,
        http: PooledHttp,
        api_base: str,
        appid: str,
        secret: str,
        forced_refresh_limit_per_day: int = 20,
        refresh_margin_s: int = 300,
        lock_ttl_s: float = 10.0,
        wait_timeout_s: float = 15.0,
        poll_interval_s: float = 0.05,
    ) -> None:
        self._redis = redis
        self._http = http
        self._url = URL(f"{api_base.rstrip('/')}/cgi-bin/stable_token")
        self._appid = appid
        self._secret = secret
        self._forced_limit = forced_refresh_limit_per_day
        self._refresh_margin_s = refresh_margin_s
        self._lock_ttl_ms = int(lock_ttl_s * 1000)
        self._wait_timeout_s = wait_timeout_s
        self._poll_interval_s = poll_interval_s
        prefix = f"entpage:wechat:{appid}"
        self._token_key = f"{prefix}:access_token"
        self._lock_key = f"{prefix}:access_token:lock"
        self._forced_key_prefix = f"{prefix}:forced_refreshes:"

    async def current(self) -> str:
        cached = await self._cached()
        if cached is not None:
            return cached
        return await self._replace(rejected=None)

    async def replace_rejected(self, rejected: str) -> str:
        """A token other than `rejected`, which WeChat just refused (40001/40014/42001)."""
        return await self._replace(rejected=rejected)

    async def forced_refreshes_today(self) -> int:
        raw = await self._redis.get(self._forced_key())
        return 0 if raw is None else int(raw)

    async def _cached(self) -> str | None:
        raw = await self._redis.get(self._token_key)
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def _replace(self, *, rejected: str | None) -> str:
        deadline = time.monotonic() + self._wait_timeout_s
        owner = secrets.token_hex(8)
        while True:
            cached = await self._cached()
            if cached is not None and cached != rejected:  # someone else already replaced it
                return cached
            if await self._redis.set(self._lock_key, owner, nx=True, px=self._lock_ttl_ms):
                try:
                    return await self._fetch_and_share(rejected=rejected)
                finally:
                    await self._release_lock(owner)
            if time.monotonic() >= deadline:
                raise WeChatUnavailableError("timed out waiting for another worker's token fetch")
            await asyncio.sleep(self._poll_interval_s)

    async def _fetch_and_share(self, *, rejected: str | None) -> str:
        cached = await self._cached()  # it may have landed between our check and the lock
        if cached is not None and cached != rejected:
            return cached
        fetched = await self._fetch(force=False)
        forced = False
        if rejected is not None and fetched.token == rejected:
            # WeChat still hands out the token it rejects: only a forced refresh replaces it.
            await self._count_forced_refresh()
            fetched = await self._fetch(force=True)
            forced = True
        ttl = max(1, fetched.expires_in_s - self._refresh_margin_s)
        await self._redis.set(self._token_key, fetched.token, ex=ttl)
        logger.info(
            "push.wechat.token_refreshed",
            extra={"appid": self._appid, "forced": forced, "ttl_s": ttl},
        )
        return fetched.token

    async def _fetch(self, *, force: bool) -> _FetchedToken:
        body = orjson.dumps(
            {
                "grant_type": "client_credential",
                "appid": self._appid,
                "secret": self._secret,
                "force_refresh": force,
            }
        )
        document = await call_wechat(self._http.session, "POST", self._url, body=body)
        token = document.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatUnavailableError("stable_token answered without an access_token")
        return _FetchedToken(token=token, expires_in_s=int(document.get("expires_in", 7200)))

    async def _count_forced_refresh(self) -> None:
        key = self._forced_key()
        used = int(await self._redis.incr(key))
        if used == 1:
            await self._redis.expire(key, 2 * 24 * 3600)  # outlives the day it counts
        if used > self._forced_limit:
            logger.warning(
                "push.wechat.forced_refresh_refused",
                extra={"appid": self._appid, "limit": self._forced_limit},
            )
            raise ForcedRefreshLimitReached(self._forced_limit, retry_after_s=_seconds_to_tomorrow())

    async def _release_lock(self, owner: str) -> None:
        # Only our own lock: if it expired and another worker holds it now, leave it alone.
        held = await self._redis.get(self._lock_key)
        if held is not None and (held.decode() if isinstance(held, bytes) else held) == owner:
            await self._redis.delete(self._lock_key)

    def _forced_key(self) -> str:
        return self._forced_key_prefix + datetime.datetime.now(CHINA_TZ).strftime("%Y%m%d")


def _seconds_to_tomorrow() -> float:
    now = datetime.datetime.now(CHINA_TZ)
    tomorrow = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()
