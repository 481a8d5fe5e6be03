"""The fake FCM server over HTTP, as any client (or a demo user with curl) sees it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from firebase_admin import credentials

from push.fakes.control_client import FakeControl, FakeControlError
from push.fakes.credentials import fake_service_account_info
from push.fakes.fcm import FakeFcmConfig, RunningFakeFcm, running_fake_fcm
from push.fakes.process import spawned_fake

SEND = "/v1/projects/demo/messages:send"


@pytest_asyncio.fixture
async def bearer(fcm_credential: credentials.Certificate) -> str:
    token_info = await asyncio.to_thread(fcm_credential.get_access_token)
    return f"Bearer {token_info.access_token}"


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post_send(
    http: aiohttp.ClientSession, fake: RunningFakeFcm, body: Any, *, authorization: str | None
) -> tuple[int, dict[str, Any], aiohttp.typedefs.LooseHeaders]:
    headers = {"Authorization": authorization} if authorization else {}
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with http.post(fake.base_url + SEND, data=data, headers=headers) as response:
        return response.status, orjson.loads(await response.read()), response.headers


async def test_accepts_a_valid_message_and_names_it(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str
) -> None:
    message = {"token": "abc", "notification": {"title": "t"}, "data": {"k": "v"}}
    status, body, _ = await post_send(http, fake_fcm, {"message": message}, authorization=bearer)

    assert status == 200
    assert body["name"].startswith("projects/demo/messages/")
    [kept] = await FakeControl(fake_fcm.base_url).messages()
    assert kept["name"] == body["name"]
    assert kept["message"] == message


@pytest.mark.parametrize("authorization", [None, "Bearer not-issued-by-the-fake", "Basic abc"])
async def test_rejects_missing_or_unknown_tokens_like_google(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, authorization: str | None
) -> None:
    status, body, _ = await post_send(
        http, fake_fcm, {"message": {"token": "abc"}}, authorization=authorization
    )

    assert status == 401
    assert body["error"]["code"] == 401
    assert body["error"]["status"] == "UNAUTHENTICATED"
    assert "invalid authentication credentials" in body["error"]["message"]


@pytest.mark.parametrize(
    ("token", "status", "rpc_status", "error_code", "message"),
    [
        ("unregistered-1", 404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
        ("mismatch-1", 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
        (
            "invalid-1",
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        ),
    ],
)
async def test_token_prefixes_produce_fcm_v1_error_bodies(
    fake_fcm: RunningFakeFcm,
    http: aiohttp.ClientSession,
    bearer: str,
    token: str,
    status: int,
    rpc_status: str,
    error_code: str,
    message: str,
) -> None:
    got_status, body, _ = await post_send(http, fake_fcm, {"message": {"token": token}}, authorization=bearer)

    assert got_status == status
    error = body["error"]
    assert (error["code"], error["status"], error["message"]) == (status, rpc_status, message)
    assert error["details"][0] == {
        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
        "errorCode": error_code,
    }
    assert await FakeControl(fake_fcm.base_url).messages() == []


@pytest.mark.parametrize(
    "envelope",
    [
        {"message": {"notification": {"title": "no target"}}},
        {"message": {"token": "a", "topic": "news"}},
        {"message": {"token": ""}},
        {"message": {"token": "a", "data": {"n": 1}}},
        {"message": {"token": "a", "data": {"blob": "x" * 4100}}},
        {"not_a_message": {}},
        b"{not json",
    ],
)
async def test_validates_the_body_like_fcm(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str, envelope: Any
) -> None:
    status, body, _ = await post_send(http, fake_fcm, envelope, authorization=bearer)

    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT"


async def test_payload_of_exactly_4096_bytes_is_accepted(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str
) -> None:
    overhead = len(orjson.dumps({"data": {"blob": ""}}))
    message = {"token": "a", "data": {"blob": "x" * (4096 - overhead)}}
    status, _, _ = await post_send(http, fake_fcm, {"message": message}, authorization=bearer)
    assert status == 200


async def test_fault_injection_is_configurable_at_runtime(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str
) -> None:
    control = FakeControl(fake_fcm.base_url)
    settings = await control.configure(rate_503=1.0, server_retry_after_s=3)
    assert settings["rate_503"] == 1.0

    status, body, headers = await post_send(http, fake_fcm, {"message": {"token": "a"}}, authorization=bearer)
    assert (status, body["error"]["status"], headers["Retry-After"]) == (503, "UNAVAILABLE", "3")

    await control.configure(rate_503=0.0, rate_429=1.0, quota_retry_after_s=75)
    status, body, headers = await post_send(http, fake_fcm, {"message": {"token": "a"}}, authorization=bearer)
    assert (status, headers["Retry-After"]) == (429, "75")
    assert body["error"]["details"][0]["errorCode"] == "QUOTA_EXCEEDED"

    stats = await control.stats()
    assert (stats["send.unavailable"], stats["send.quota_exceeded"]) == (1, 1)


async def test_partial_rates_inject_roughly_that_share_of_faults(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str
) -> None:
    await FakeControl(fake_fcm.base_url).configure(rate_500=0.3)
    statuses = [
        (await post_send(http, fake_fcm, {"message": {"token": "a"}}, authorization=bearer))[0]
        for _ in range(300)
    ]
    assert 45 <= statuses.count(500) <= 135
    assert statuses.count(500) + statuses.count(200) == 300


@pytest.mark.parametrize(
    "update", [{"rate_503": 1.5}, {"no_such_setting": 1}, {"latency_ms": "fast"}, [1, 2]]
)
async def test_bad_config_updates_are_refused_and_change_nothing(
    fake_fcm: RunningFakeFcm, update: Any
) -> None:
    control = FakeControl(fake_fcm.base_url)
    before = await control.config()
    with pytest.raises(FakeControlError):
        await control._call("POST", "config", json=update)
    assert await control.config() == before


async def test_latency_is_simulated(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str
) -> None:
    await FakeControl(fake_fcm.base_url).configure(latency_ms=150, jitter_ms=50)
    started = time.monotonic()
    await post_send(http, fake_fcm, {"message": {"token": "a"}}, authorization=bearer)
    assert 0.15 <= time.monotonic() - started < 1.0


async def test_hang_fault_never_answers(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str
) -> None:
    await FakeControl(fake_fcm.base_url).configure(rate_timeout=1.0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await post_send(http, fake_fcm, {"message": {"token": "a"}}, authorization=bearer)


async def test_recent_messages_are_a_bounded_ring() -> None:
    async with (
        running_fake_fcm(FakeFcmConfig(), keep_messages=10) as fake,
        aiohttp.ClientSession() as http,
    ):
        info = fake_service_account_info(token_uri=fake.token_uri, project_id="demo")
        token_info = await asyncio.to_thread(credentials.Certificate(info).get_access_token)
        bearer = f"Bearer {token_info.access_token}"
        for i in range(50):
            await post_send(http, fake, {"message": {"token": f"t{i}"}}, authorization=bearer)
        control = FakeControl(fake.base_url)
        recent = await control.messages(limit=100)
        stats = await control.stats()

    assert [m["token"] for m in recent] == [f"t{i}" for i in range(49, 39, -1)]
    assert stats["send.sent"] == 50


async def test_reset_clears_counts_and_restores_startup_settings(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession, bearer: str
) -> None:
    control = FakeControl(fake_fcm.base_url)
    await post_send(http, fake_fcm, {"message": {"token": "a"}}, authorization=bearer)
    await control.configure(rate_503=1.0)

    await control.reset()

    assert await control.stats() == {}
    assert await control.messages() == []
    assert (await control.config())["rate_503"] == 0.0


async def test_pipelined_requests_are_answered_in_order(fake_fcm: RunningFakeFcm, bearer: str) -> None:
    await FakeControl(fake_fcm.base_url).configure(latency_ms=1, jitter_ms=40)
    host, port = fake_fcm.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    requests = b""
    for i in range(20):
        body = orjson.dumps({"message": {"token": f"pipelined-{i}"}})
        requests += (
            f"POST {SEND} HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
    writer.write(requests)
    names = []
    for _ in range(20):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        names.append(orjson.loads(await reader.readexactly(length))["name"])
    writer.close()

    ids = [int(name.rsplit("/", 1)[1]) for name in names]
    assert ids == sorted(ids)
    assert len(set(ids)) == 20


async def test_runs_as_a_command_with_flags() -> None:
    flags = ["--latency-ms", "5", "--rate-503", "0.25", "--keep-messages", "3"]
    with spawned_fake("push.fakes.fcm", args=flags) as spawned:
        control = FakeControl(spawned.base_url)
        settings = await control.config()
        assert (settings["latency_ms"], settings["rate_503"]) == (5.0, 0.25)
        async with (
            aiohttp.ClientSession() as http,
            http.post(spawned.base_url + SEND, data=b"{}") as response,
        ):
            assert response.status == 401  # it serves FCM, and wants a token from itself
    assert spawned.base_url.startswith("http://127.0.0.1:")


async def test_token_endpoint_refuses_other_grants(
    fake_fcm: RunningFakeFcm, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        fake_fcm.token_uri, data={"grant_type": "client_credentials", "assertion": "x"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"
