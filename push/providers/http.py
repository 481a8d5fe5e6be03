"""One pooled aiohttp session per provider client, and the Retry-After header parser."""

from __future__ import annotations

import asyncio
import time
from email.utils import parsedate_to_datetime

import aiohttp


class PooledHttp:
    """Owns one keep-alive `aiohttp.ClientSession`, created on first use inside the running loop
    (aiohttp binds a session to the loop it was created on)."""

    def __init__(
        self,
        *,
        max_connections: int = 256,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        keepalive_s: float = 60.0,
    ) -> None:
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,  # one host per provider: `limit` is the real bound
                keepalive_timeout=self._keepalive_s,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                # Per-request savings that matter at thousands of requests a second: provider
                # APIs set no cookies, and small JSON answers need no compression (so we must
                # not advertise any: Accept-Encoding is skipped with auto_decompress off).
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                auto_decompress=False,
                raise_for_status=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            # Let the connector's transports finish closing before the loop may go away.
            await asyncio.sleep(0)
        self._session = None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
