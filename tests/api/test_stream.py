"""GET /v1/stream at the HTTP edge: who may connect and how, heartbeats and the retry hint,
isolation between enterprises, kiosk sessions, the per-principal cap, revocation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from core.settings import Settings
from push import stream
from tests import factories as f
from tests.api.test_kiosk import kiosk_session
from tests.notices.helpers import RULE_NANSHA, make_world, next_phone
from tests.push.test_stream import live_server, sse, stream_env


@pytest.fixture
async def server(db: None, settings: Settings) -> AsyncIterator[str]:
    with stream_env(stream_heartbeat_s="0.3", stream_max_per_principal="2"):
        async with live_server(settings) as url:
            yield url


async def test_who_may_connect_and_how(client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    async with httpx.AsyncClient(base_url=server) as http:
        resp = await http.get("/v1/stream")
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")
        resp = await http.get("/v1/stream", params={"access_token": "not-a-token"})
        assert resp.status_code == 401
        # Operators and department systems have no enterprise to listen to.
        for token in (w.publisher, w.admin):
            assert (await http.get("/v1/stream", headers=w.h(token))).status_code == 403
        resp = await http.get("/v1/stream", headers={"Authorization": f"ApiKey {w.key}"})
        assert resp.status_code == 403
        # Header and query naming two different tokens is refused.
        resp = await http.get("/v1/stream", headers=w.h(w.staff["南沙甲"]),
                              params={"access_token": w.staff["南沙乙"]})
        assert resp.status_code == 401
        # The query token is for the stream only.
        resp = await http.get(f"/v1/enterprises/{w.enterprises['南沙甲']}/page",
                              params={"access_token": w.staff["南沙甲"]})
        assert resp.status_code == 401
    async with sse(server, w.staff["南沙甲"], via_query=True) as s:
        assert s.response.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in s.response.headers["cache-control"]
        assert s.response.headers["referrer-policy"] == "no-referrer"


async def test_retry_hint_and_heartbeats(client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    async with sse(server, w.staff["南沙甲"]) as s:
        await s.nothing_more(1.0)  # 0.3 s heartbeats are comments, not events
        assert s.retry_ms == 3000
        assert s.comments.count("heartbeat") >= 2
        assert s.last_id and stream.Cursor.parse(s.last_id) is not None


async def test_events_never_cross_enterprises(client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    both_id, both = await f.person_with_token(
        client, next_phone(), [(w.enterprises["南沙甲"], "staff"), (w.enterprises["前海丙"], "staff")])
    kiosk = await kiosk_session(client, w, "南沙乙")
    async with sse(server, w.staff["南沙甲"]) as jia, \
            sse(server, kiosk["access_token"], via_query=True) as yi_kiosk, \
            sse(server, both["access_token"]) as two, sse(server, w.staff["前海丙"]) as bing:
        notice = await w.published(title="南沙片区通知", rule=RULE_NANSHA)
        await stream.announce_notice_published(int(notice["id"]))
        assert (await jia.next(within=1.0)).data["uscc"] == w.enterprises["南沙甲"]
        assert (await yi_kiosk.next(within=1.0)).data["uscc"] == w.enterprises["南沙乙"]
        assert (await two.next(within=1.0)).data["uscc"] == w.enterprises["南沙甲"]
        # Explicit enterprise events reach exactly that enterprise's listeners.
        await stream.publish_enterprise_event(w.enterprises["前海丙"], "matter.updated", {"n": 1})
        assert (await bing.next(within=1.0)).data == {"uscc": w.enterprises["前海丙"], "n": 1}
        assert (await two.next(within=1.0)).data["uscc"] == w.enterprises["前海丙"]
        await stream.publish_enterprise_event(w.enterprises["南沙甲"], "matter.updated", {"n": 2})
        assert (await jia.next(within=1.0)).data["n"] == 2
        for quiet in (yi_kiosk, bing):
            await quiet.nothing_more(0.4)
        await jia.nothing_more(0.2)
    assert both_id


async def test_concurrent_streams_are_capped_per_principal(
        client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    token = w.staff["南沙甲"]
    async with sse(server, token), sse(server, token), httpx.AsyncClient(base_url=server) as http:
        resp = await http.get("/v1/stream", headers=w.h(token))
        assert resp.status_code == 429 and resp.headers["retry-after"]
        # Another person is not affected.
        async with sse(server, w.staff["南沙乙"]):
            pass
    # Closing frees the slots.
    async with sse(server, token), sse(server, token):
        pass


async def test_a_kiosk_session_stream_ends_with_the_session(
        client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    kiosk = await kiosk_session(client, w, "南沙甲")
    token = kiosk["access_token"]
    async with sse(server, token, via_query=True) as s:
        resp = await client.post("/v1/kiosk/session/end", headers=w.h(token))
        assert resp.status_code == 204
        event = await s.next(within=1.5)
        assert event.event == "session-ended"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(s._task, timeout=2.0)
        assert s.ended
    async with sse(server, token, via_query=True, expect=401):
        pass


async def test_the_stream_closes_when_its_token_expires(
        client: httpx.AsyncClient, server: str) -> None:
    w = await make_world(client)
    with stream_env(kiosk_session_ttl="1"):
        kiosk = await kiosk_session(client, w, "南沙甲")
    async with sse(server, kiosk["access_token"], via_query=True) as s:
        event = await s.next(within=3.0)
        assert event.event == "token-expired"
