"""Shared fixtures for the push tests: the real fakes on 127.0.0.1 random ports, firebase-admin
credentials that fetch tokens from the fake, Redis (in-process and, when reachable, the real one),
and a guard that fails any test whose code tries to reach anything but loopback."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import firebase_admin
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric import rsa
from fakeredis import FakeAsyncRedis
from firebase_admin import credentials

from push.fakes.credentials import fake_service_account_info
from push.fakes.fcm import RunningFakeFcm, running_fake_fcm
from push.fakes.wechat import RunningFakeWeChat, running_fake_wechat
from tests.redis_helpers import reachable_or_skip

PROJECT_ID = "entpage-test"
REAL_REDIS_URL = "redis://127.0.0.1:6379/15"


def _is_loopback(host: Any) -> bool:
    if host in (None, "", b"", "localhost", b"localhost"):
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def only_loopback_traffic(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Our code must never reach Google or Tencent: refuse and record any other destination."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            attempts.append(str(host))
            raise OSError(f"test network guard: {host!r} is not loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(str(address[0]))
            raise OSError(f"test network guard: {address!r} is not loopback")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield attempts
    assert attempts == [], f"tried to reach non-loopback hosts: {attempts}"


@pytest_asyncio.fixture
async def fake_fcm() -> AsyncIterator[RunningFakeFcm]:
    async with running_fake_fcm(seed=7) as running:
        yield running


@pytest_asyncio.fixture
async def fake_wechat() -> AsyncIterator[RunningFakeWeChat]:
    async with running_fake_wechat(seed=7) as running:
        yield running


@pytest.fixture(scope="session")
def service_account_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fcm_credential(
    fake_fcm: RunningFakeFcm, service_account_key: rsa.RSAPrivateKey
) -> credentials.Certificate:
    """A real firebase-admin credential whose token_uri is the fake's /token."""
    info = fake_service_account_info(
        token_uri=fake_fcm.token_uri, project_id=PROJECT_ID, private_key=service_account_key
    )
    return credentials.Certificate(info)


@pytest.fixture
def firebase_app(fcm_credential: credentials.Certificate) -> Iterator[firebase_admin.App]:
    app = firebase_admin.initialize_app(fcm_credential, name=f"test-{secrets.token_hex(4)}")
    yield app
    firebase_admin.delete_app(app)


@pytest_asyncio.fixture(params=["in-process", "real-redis"])
async def wechat_redis(request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    """Each Redis-backed test runs on fakeredis and on the real server (db 15) when it is up."""
    if request.param == "in-process":
        client: aioredis.Redis = FakeAsyncRedis()
        yield client
        await client.aclose()
        return
    client = await reachable_or_skip(
        aioredis.Redis.from_url(REAL_REDIS_URL, socket_connect_timeout=0.5))
    yield client
    await client.aclose()


@pytest.fixture
def wechat_appid() -> str:
    """Unique per test, so tests sharing the real Redis db never see each other's keys."""
    return f"wx-test-{secrets.token_hex(6)}"
