"""Logins, token rotation, forged and expired tokens, and enterprise isolation."""

from __future__ import annotations

import base64
import json

import httpx
import jwt

from core.tokens import get_tokens
from tests import factories as f
from tests.token_helpers import forger_key


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def _member(client: httpx.AsyncClient, phone: str = "13900000001") -> tuple[str, dict[str, str]]:
    key = await f.integration_key()
    uscc = f.new_uscc()
    await f.put_enterprise(client, key, uscc)
    _, tokens = await f.person_with_token(client, phone, [(uscc, "staff")])
    return uscc, tokens


async def test_wrong_password_and_unknown_phone_look_the_same(client: httpx.AsyncClient) -> None:
    await _member(client)
    wrong = await client.post("/v1/auth/login", json={"phone": "13900000001", "password": "nope-nope"})
    unknown = await client.post("/v1/auth/login", json={"phone": "13900000099", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_repeated_failures_are_throttled(client: httpx.AsyncClient) -> None:
    await _member(client)
    for _ in range(10):
        await client.post("/v1/auth/login", json={"phone": "13900000001", "password": "wrong-one"})
    blocked = await client.post("/v1/auth/login",
                                json={"phone": "13900000001", "password": f.PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    uscc, tokens = await _member(client)
    first = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    page = await client.get(f"/v1/enterprises/{uscc}/page", headers=f.bearer(rotated["access_token"]))
    assert page.status_code == 200

    reuse = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401
    # The thief's use also ended the legitimate session that rotated before it.
    after = await client.post("/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401


async def test_logout_ends_the_refresh_family(client: httpx.AsyncClient) -> None:
    _, tokens = await _member(client)
    assert (await client.post("/v1/auth/logout",
                              json={"refresh_token": tokens["refresh_token"]})).status_code == 204
    assert (await client.post("/v1/auth/refresh",
                              json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_forged_expired_and_alg_none_tokens_are_refused(client: httpx.AsyncClient) -> None:
    uscc, tokens = await _member(client)
    url = f"/v1/enterprises/{uscc}/page"
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]

    algorithm = get_tokens().algorithm
    forged = jwt.encode(claims, forger_key(algorithm), algorithm=algorithm, headers={"kid": kid})
    none_token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}."
    hs_confusion = jwt.encode(claims, "not-the-key-but-long-enough-0123456789", algorithm="HS256",
                              headers={"kid": kid})
    expired, _ = get_tokens().issue(subject=claims["sub"], kind="person", ttl_s=-60)
    for token in (forged, none_token, hs_confusion, expired, "not.a.jwt"):
        resp = await client.get(url, headers=f.bearer(token))
        assert resp.status_code == 401, token
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.headers["www-authenticate"].startswith("Bearer")


async def test_staff_of_one_enterprise_cannot_read_another(client: httpx.AsyncClient) -> None:
    key = await f.integration_key()
    mine, theirs = f.new_uscc(), f.new_uscc()
    await f.put_enterprise(client, key, mine)
    await f.put_enterprise(client, key, theirs)
    _, tokens = await f.person_with_token(client, "13700000001", [(mine, "legal_rep")])
    headers = f.bearer(tokens["access_token"])
    assert (await client.get(f"/v1/enterprises/{mine}/page", headers=headers)).status_code == 200
    for path in (f"/v1/enterprises/{theirs}/page", f"/v1/enterprises/{theirs}"):
        resp = await client.get(path, headers=headers)
        assert resp.status_code == 403
        assert resp.json()["type"] == "/problems/forbidden"
    # Asking twice hits the cached membership answer; still refused.
    assert (await client.get(f"/v1/enterprises/{theirs}/page", headers=headers)).status_code == 403
    # Integrations sync data but never read pages.
    assert (await client.get(f"/v1/enterprises/{mine}/page",
                             headers={"Authorization": f"ApiKey {key}"})).status_code == 403


async def test_membership_granted_later_takes_effect_at_once(client: httpx.AsyncClient) -> None:
    key = await f.integration_key()
    mine, later = f.new_uscc(), f.new_uscc()
    await f.put_enterprise(client, key, mine)
    await f.put_enterprise(client, key, later)
    person_id, tokens = await f.person_with_token(client, "13700000002", [(mine, "staff")])
    headers = f.bearer(tokens["access_token"])
    assert (await client.get(f"/v1/enterprises/{later}/page", headers=headers)).status_code == 403
    admin = await f.admin_token(client)
    granted = await client.put(f"/v1/admin/people/{person_id}/memberships/{later}",
                               json={"role": "admin"}, headers=f.bearer(admin))
    assert granted.status_code == 200
    assert (await client.get(f"/v1/enterprises/{later}/page", headers=headers)).status_code == 200
    await client.delete(f"/v1/admin/people/{person_id}/memberships/{later}", headers=f.bearer(admin))
    assert (await client.get(f"/v1/enterprises/{later}/page", headers=headers)).status_code == 403


async def test_jwks_publishes_the_signing_key(client: httpx.AsyncClient) -> None:
    _, tokens = await _member(client)
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    [jwk] = [k for k in keys if k["kid"] == kid]
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(tokens["access_token"], public, algorithms=[jwk["alg"]],
                        audience="entpage")
    assert jwk["alg"] == jwt.get_unverified_header(tokens["access_token"])["alg"] == "RS256"
    assert claims["pt"] == "person"


async def test_only_admins_use_admin_endpoints(client: httpx.AsyncClient) -> None:
    _, tokens = await _member(client)
    resp = await client.post("/v1/admin/integrations", headers=f.bearer(tokens["access_token"]),
                             json={"name": "x", "source_system": "abc", "scopes": []})
    assert resp.status_code == 403
