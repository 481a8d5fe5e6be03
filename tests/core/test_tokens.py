"""Access-token verification: our claim checks around PyJWT's signature check refuse what
`jwt.decode` would refuse (docs/adr/0012)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from core.errors import Unauthenticated
from core.tokens import AUDIENCE, TokenService, get_tokens


def _signed(service: TokenService, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, service._signing_key, algorithm=service.algorithm,
                      headers={"kid": service.kid, **header})


def _claims(service: TokenService, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": service.issuer, "aud": AUDIENCE, "sub": "person:1",
                              "pt": "person", "iat": now, "exp": now + 600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def test_a_valid_token_gives_its_claims(client: httpx.AsyncClient) -> None:
    service = get_tokens()
    token, _ = service.issue(subject="person:7", kind="person")
    assert service.verify(token)["sub"] == "person:7"
    listed = _signed(service, _claims(service, aud=["other", AUDIENCE]))
    assert service.verify(listed)["aud"] == ["other", AUDIENCE]


@pytest.mark.parametrize(("changes", "message"), [
    ({"aud": "someone-else"}, "another audience"),
    ({"aud": ["someone-else"]}, "another audience"),
    ({"iss": "https://elsewhere.example"}, "another issuer"),
    ({"exp": int(time.time()) - 60}, "expired"),
    ({"iat": int(time.time()) + 600, "exp": int(time.time()) + 1200}, "not valid yet"),
    ({"nbf": int(time.time()) + 600}, "not valid yet"),
    ({"exp": "tomorrow"}, "invalid"),
    ({"exp": True}, "invalid"),
    ({"iat": None}, "invalid"),
    ({"sub": None}, "invalid"),
    ({"aud": None}, "invalid"),
    ({"iss": None}, "invalid"),
    ({"exp": None}, "invalid"),
])
async def test_claims_outside_the_rules_are_refused(client: httpx.AsyncClient,
                                                    changes: dict[str, Any],
                                                    message: str) -> None:
    service = get_tokens()
    with pytest.raises(Unauthenticated, match=message):
        service.verify(_signed(service, _claims(service, **changes)))


async def test_a_changed_payload_or_header_breaks_the_signature(client: httpx.AsyncClient) -> None:
    service = get_tokens()
    token, _ = service.issue(subject="person:7", kind="person")
    header, payload, signature = token.split(".")
    other = _signed(service, _claims(service, sub="person:8")).split(".")[1]
    with pytest.raises(Unauthenticated, match="invalid"):
        service.verify(f"{header}.{other}.{signature}")
    with pytest.raises(Unauthenticated, match="invalid"):
        service.verify(_signed(service, _claims(service), crit=["exp"]))
    with pytest.raises(Unauthenticated, match="invalid"):
        service.verify(f"{header}.{payload}.{signature[:-4]}")  # a truncated signature


@pytest.mark.parametrize("token", [
    "", "a.b", "a.b.c.d", "a.b.", ".b.c", "a+b.c.d", "a.b.c=", "a.b.c d", "ä.b.c",
])
async def test_malformed_tokens_are_refused(client: httpx.AsyncClient, token: str) -> None:
    with pytest.raises(Unauthenticated):
        get_tokens().verify(token)


async def test_a_signed_payload_that_is_not_a_claims_object_is_refused(
        client: httpx.AsyncClient) -> None:
    service = get_tokens()
    token = jwt.api_jws.encode(b"[1, 2]", service._signing_key, algorithm=service.algorithm,
                               headers={"kid": service.kid})
    with pytest.raises(Unauthenticated, match="invalid"):
        service.verify(token)
