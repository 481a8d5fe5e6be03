"""Builders for notices tests, through the real services and the HTTP API (no mocks)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

from profiles import accounts
from tests import factories as f

_phones = itertools.count(13900000000)
RULE_ALL: dict[str, Any] = {"all": []}
RULE_NANSHA: dict[str, Any] = {"field": "zone", "op": "eq", "value": "nansha"}
RULE_HIGH_TECH: dict[str, Any] = {"field": "tags", "op": "any", "value": ["高新技术企业"]}


def next_phone() -> str:
    return str(next(_phones))


async def operator_token(client: httpx.AsyncClient, username: str, *, role: str = "publisher",
                         department: str | None = "南沙区科技局", zones: list[str] | None = None,
                         regions: list[str] | None = None,
                         display_name: str | None = None) -> tuple[int, str]:
    op = await accounts.create_operator(
        username=username, display_name=display_name or username, password=f.PASSWORD, role=role,
        department=department, zones=zones if zones is not None else ["nansha"],
        regions=regions or [],
    )
    resp = await client.post("/v1/auth/operator-login",
                             json={"username": username, "password": f.PASSWORD})
    assert resp.status_code == 200, resp.text
    return op.id, str(resp.json()["access_token"])


@dataclass
class World:
    """A small population: enterprises in three zones, staff for each, a publisher, an admin."""

    client: httpx.AsyncClient
    key: str
    admin: str
    publisher: str
    publisher_id: int
    enterprises: dict[str, str] = field(default_factory=dict)  # label → uscc
    staff: dict[str, str] = field(default_factory=dict)  # label → person access token
    staff_ids: dict[str, int] = field(default_factory=dict)

    def h(self, token: str) -> dict[str, str]:
        return f.bearer(token)

    async def enterprise(self, label: str, *, staff: bool = True, **overrides: Any) -> str:
        uscc = f.new_uscc(overrides.get("region_code", "440115"))
        resp = await f.put_enterprise(self.client, self.key, uscc,
                                      name=f"{label}有限公司", **overrides)
        assert resp.status_code == 201, resp.text
        self.enterprises[label] = uscc
        if staff:
            person_id, tokens = await f.person_with_token(self.client, next_phone(),
                                                          [(uscc, "admin")])
            self.staff[label] = tokens["access_token"]
            self.staff_ids[label] = person_id
        return uscc

    async def update_enterprise(self, label: str, **overrides: Any) -> httpx.Response:
        return await f.put_enterprise(self.client, self.key, self.enterprises[label],
                                      name=f"{label}有限公司", **overrides)

    async def draft(self, token: str | None = None, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "notice", "title": "关于开展年度企业年报工作的通知",
            "body": "请于 **6月30日** 前完成年报。", "rule": RULE_NANSHA,
        }
        body.update(overrides)
        resp = await self.client.post("/v1/notices", json=body,
                                      headers=self.h(token or self.publisher))
        assert resp.status_code == 201, resp.text
        result: dict[str, Any] = resp.json()
        return result

    async def publish(self, notice_id: int, token: str | None = None,
                      key: str | None = None) -> httpx.Response:
        headers = self.h(token or self.publisher)
        if key:
            headers["Idempotency-Key"] = key
        return await self.client.post(f"/v1/notices/{notice_id}/publish", headers=headers)

    async def published(self, token: str | None = None, **overrides: Any) -> dict[str, Any]:
        notice = await self.draft(token, **overrides)
        resp = await self.publish(notice["id"], token)
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    async def page(self, label: str) -> dict[str, Any]:
        resp = await self.client.get(f"/v1/enterprises/{self.enterprises[label]}/page",
                                     headers=self.h(self.staff[label]))
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    async def inbox(self, label: str, **params: Any) -> dict[str, Any]:
        resp = await self.client.get(f"/v1/enterprises/{self.enterprises[label]}/notices",
                                     params=params, headers=self.h(self.staff[label]))
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result


async def make_world(client: httpx.AsyncClient, *, enterprises: bool = True) -> World:
    key = await f.integration_key()
    admin = await f.admin_token(client)
    publisher_id, publisher = await operator_token(client, "nansha.pub", zones=["nansha"])
    world = World(client, key, admin, publisher, publisher_id)
    if enterprises:
        await world.enterprise("南沙甲", zone="nansha", tags=["高新技术企业"])
        await world.enterprise("南沙乙", zone="nansha", tags=[], industry_code="F5191")
        await world.enterprise("前海丙", zone="qianhai", region_code="440305", tags=[])
    return world
