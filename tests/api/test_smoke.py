from __future__ import annotations

import httpx

from tests import factories as f


async def test_staff_sees_their_enterprise_page(client: httpx.AsyncClient) -> None:
    key = await f.integration_key()
    uscc = f.new_uscc()
    resp = await f.put_enterprise(client, key, uscc)
    assert resp.status_code == 201, resp.text
    _, tokens = await f.person_with_token(client, "13800000001", [(uscc, "admin")])
    page = await client.get(f"/v1/enterprises/{uscc}/page", headers=f.bearer(tokens["access_token"]))
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["enterprise"]["uscc"] == uscc
    assert body["enterprise"]["industry"]["label"].startswith("C3911")
