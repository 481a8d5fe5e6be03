"""Builders for test data through the real services (no mocks, no raw inserts)."""

from __future__ import annotations

import random
from typing import Any

import httpx

from profiles import accounts
from profiles.schemas import PersonInput
from profiles.standards.uscc import generate_uscc

PASSWORD = "correct horse battery"
_rng = random.Random(20261121)


def new_uscc(region_code: str = "440115") -> str:
    return generate_uscc(_rng, region_code=region_code)


def enterprise_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "广州南沙示例科技有限公司",
        "zone": "nansha",
        "region_code": "440115",
        "industry_code": "C3911",
        "size": "small",
        "registered_capital_yuan": 5_000_000,
        "established_on": "2019-03-08",
        "status": "active",
        "credit_level": "A",
        "tags": ["高新技术企业"],
        "licences": [],
    }
    body.update(overrides)
    return body


async def admin_token(client: httpx.AsyncClient, username: str = "root") -> str:
    await accounts.create_operator(username=username, display_name="管理员", password=PASSWORD,
                                   role="admin", department="市数据局", zones=[], regions=[])
    resp = await client.post("/v1/auth/operator-login",
                             json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


async def integration_key(source_system: str = "samr", *, registry: bool = True) -> str:
    issued = await accounts.create_integration(
        name=f"{source_system} feed", source_system=source_system,
        scopes=["enterprises:write", "matters:write"], is_registry=registry,
    )
    return issued.api_key


async def put_enterprise(client: httpx.AsyncClient, key: str, uscc: str,
                         **overrides: Any) -> httpx.Response:
    return await client.put(f"/v1/enterprises/{uscc}", json=enterprise_body(**overrides),
                            headers={"Authorization": f"ApiKey {key}"})


async def person_with_token(client: httpx.AsyncClient, phone: str,
                            memberships: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
    person = await accounts.create_person(PersonInput(phone, "张三", PASSWORD, tuple(memberships)))
    resp = await client.post("/v1/auth/login", json={"phone": phone, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return person.id, resp.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
