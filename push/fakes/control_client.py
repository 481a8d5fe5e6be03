"""A small async client for a fake's `/_fake/` control API (tests, demos, the benchmark)."""

from __future__ import annotations

from typing import Any

import aiohttp


class FakeControlError(RuntimeError):
    pass


class FakeControl:
    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    async def configure(self, **settings: Any) -> dict[str, Any]:
        """Change fault/latency settings, e.g. `configure(rate_503=0.1, latency_ms=20)`."""
        return await self._call("POST", "config", json=settings)

    async def config(self) -> dict[str, Any]:
        return await self._call("GET", "config")

    async def stats(self) -> dict[str, int]:
        """Counts by outcome, e.g. {"send.sent": 10, "send.unregistered": 2}."""
        counts: dict[str, int] = (await self._call("GET", "stats"))["counts"]
        return counts

    async def messages(self, *, limit: int = 50) -> list[dict[str, Any]]:
        """Recently accepted messages, newest first."""
        recent: list[dict[str, Any]] = (await self._call("GET", "messages", params={"limit": str(limit)}))[
            "messages"
        ]
        return recent

    async def reset(self) -> None:
        await self._call("POST", "reset")

    async def revoke_tokens(self) -> int:
        """Invalidate every access token the fake issued (next calls get 401 / 40001)."""
        revoked: int = (await self._call("POST", "revoke_tokens"))["revoked"]
        return revoked

    async def _call(
        self,
        method: str,
        action: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        url = f"{self._base_url}/_fake/{action}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, json=json, params=params) as response,
        ):
            document: dict[str, Any] = await response.json(content_type=None)
            if response.status != 200:
                raise FakeControlError(f"{method} {url}: {response.status} {document}")
            return document
