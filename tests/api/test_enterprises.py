"""Department systems sync enterprises and matters; bad input is refused and nothing is written."""

from __future__ import annotations

import httpx

from profiles.models import Enterprise, Licence, Matter
from tests import factories as f

LEGACY_USCC = "91350203M0001QKT19"  # a real pre-2016 code that fails the GB 32100 check digit


def api_key(key: str) -> dict[str, str]:
    return {"Authorization": f"ApiKey {key}"}


async def test_put_creates_then_updates_only_what_changed(client: httpx.AsyncClient) -> None:
    key = await f.integration_key()
    uscc = f.new_uscc()
    created = await f.put_enterprise(client, key, uscc, licences=[
        {"kind": "food", "number": "JY1", "name": "食品经营许可证", "expires_on": "2027-01-01"}])
    assert created.status_code == 201
    assert created.json()["created"] is True

    same = await f.put_enterprise(client, key, uscc, licences=[
        {"kind": "food", "number": "JY1", "name": "食品经营许可证", "expires_on": "2027-01-01"}])
    assert same.status_code == 200
    assert same.json()["changed_fields"] == []

    changed = await f.put_enterprise(client, key, uscc, size="medium", tags=["专精特新"])
    assert changed.json()["changed_fields"] == ["licences", "size", "tags"]
    enterprise = await Enterprise.get(uscc=uscc)
    assert enterprise.size == "medium"
    assert await Licence.filter(enterprise=enterprise).count() == 0


async def test_legacy_codes_only_from_registry_feeds(client: httpx.AsyncClient) -> None:
    department = await f.integration_key("tax", registry=False)
    refused = await f.put_enterprise(client, department, LEGACY_USCC)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["field"] == "uscc"
    assert "check" in refused.json()["detail"].lower()

    registry = await f.integration_key("samr", registry=True)
    accepted = await f.put_enterprise(client, registry, LEGACY_USCC)
    assert accepted.status_code == 201
    assert accepted.json()["legacy_uscc"] is True
    assert (await Enterprise.get(uscc=LEGACY_USCC)).legacy_uscc is True


async def test_invalid_payloads_name_the_field_and_write_nothing(client: httpx.AsyncClient) -> None:
    key = await f.integration_key()
    uscc = f.new_uscc()
    cases = [
        ({"industry_code": "C9999"}, "industry_code"),
        ({"zone": "mars"}, "zone"),
        ({"registered_capital_yuan": "lots"}, "registered_capital_yuan"),
        ({"established_on": "2019-02-30"}, "established_on"),
        ({"favourite_colour": "red"}, "favourite_colour"),
        ({"licences": [{"kind": "food", "number": "1", "name": "x", "issued_on": "2020-01-01",
                        "expires_on": "2019-01-01"}]}, "licences/0/expires_on"),
        ({"region_code": "44011"}, "region_code"),
    ]
    for overrides, field in cases:
        resp = await f.put_enterprise(client, key, uscc, **overrides)
        assert resp.status_code == 422, (overrides, resp.text)
        problem = resp.json()
        assert problem["type"] == "/problems/validation-failed"
        assert field in [e["field"] for e in problem["errors"]], problem
    assert await Enterprise.filter(uscc=uscc).count() == 0

    department = await f.integration_key("tax", registry=False)
    for wrong_code in ("91350100M000100Y44", "91350100M000100Y4", "91350100M000100I43"):
        resp = await f.put_enterprise(client, department, wrong_code)
        assert resp.status_code == 422
        assert resp.json()["field"] == "uscc"


async def test_malformed_and_oversized_bodies(client: httpx.AsyncClient) -> None:
    key = await f.integration_key()
    uscc = f.new_uscc()
    broken = await client.put(f"/v1/enterprises/{uscc}", content=b'{"name": ',
                              headers={**api_key(key), "content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.json()["type"] == "/problems/malformed-json"
    not_object = await client.put(f"/v1/enterprises/{uscc}", json=[1, 2],
                                  headers=api_key(key))
    assert not_object.status_code == 422
    huge = await client.put(f"/v1/enterprises/{uscc}",
                            content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
                            headers={**api_key(key), "content-type": "application/json"})
    assert huge.status_code == 413
    assert huge.headers["content-type"] == "application/problem+json"

    async def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(40):
            yield b" " * 65_536

    streamed = await client.put(f"/v1/enterprises/{uscc}", content=chunks(),
                                headers={**api_key(key), "content-type": "application/json"})
    assert streamed.status_code == 413
    assert streamed.json()["type"] == "/problems/payload-too-large"
    assert await Enterprise.filter(uscc=uscc).count() == 0


async def test_integration_keys_are_checked_and_scoped(client: httpx.AsyncClient) -> None:
    uscc = f.new_uscc()
    assert (await f.put_enterprise(client, "ek_nope_nope", uscc)).status_code == 401
    assert (await client.put(f"/v1/enterprises/{uscc}", json=f.enterprise_body())).status_code == 401
    key = await f.integration_key("tax", registry=False)
    assert (await f.put_enterprise(client, key, uscc)).status_code == 201
    # A key writes its own source system's matters only.
    other = await client.put("/v1/matters/samr/X1", headers=api_key(key), json={
        "uscc": uscc, "title": "t", "state": "submitted", "updated_at": "2026-01-01T00:00:00Z"})
    assert other.status_code == 403


async def test_matters_upsert_idempotently_and_ignore_late_old_versions(
    client: httpx.AsyncClient,
) -> None:
    key = await f.integration_key("tax")
    uscc = f.new_uscc()
    await f.put_enterprise(client, key, uscc)
    url = "/v1/matters/tax/2026-000123"
    newer = {"uscc": uscc, "title": "税务登记变更", "state": "needs_supplement",
             "due_on": "2026-12-01", "updated_at": "2026-11-20T10:00:00+08:00"}
    older = {**newer, "state": "submitted", "updated_at": "2026-11-19T10:00:00+08:00"}
    first = await client.put(url, json=newer, headers=api_key(key))
    assert (first.status_code, first.json()["result"]) == (201, "created")
    again = await client.put(url, json=newer, headers=api_key(key))
    assert again.json()["result"] == "stale"  # same version: nothing to change
    late = await client.put(url, json=older, headers=api_key(key))
    assert (late.status_code, late.json()["result"]) == (200, "stale")
    assert (await Matter.get(external_id="2026-000123")).state == "needs_supplement"
    newest = {**newer, "state": "approved", "updated_at": "2026-11-21T09:00:00+08:00"}
    assert (await client.put(url, json=newest, headers=api_key(key))).json()["result"] == "updated"
    assert await Matter.filter(external_id="2026-000123").count() == 1

    unknown = await client.put("/v1/matters/tax/1", headers=api_key(key),
                               json={**newer, "uscc": f.new_uscc()})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "uscc"
    bad_state = await client.put("/v1/matters/tax/2", headers=api_key(key),
                                 json={**newer, "state": "pending"})
    assert bad_state.json()["field"] == "state"
    naive = await client.put("/v1/matters/tax/3", headers=api_key(key),
                             json={**newer, "updated_at": "2026-11-21T09:00:00"})
    assert naive.json()["field"] == "updated_at"
