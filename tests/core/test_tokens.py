"""Access-token verification: our claim checks around PyJWT's signature check refuse what
`jwt.decode` would refuse (docs/adr/0012)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.errors import Unauthenticated
from core.tokens import AUDIENCE, TokenService, get_tokens
from tests.token_helpers import forger_key, token_service


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


def test_new_deployments_sign_rs256_and_publish_the_rsa_key(tmp_path: Path) -> None:
    service = token_service(tmp_path)
    assert service.algorithm == "RS256"
    assert (tmp_path / "jwt-rs256.pem").exists()
    token, _ = service.issue(subject="person:7", kind="person")
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": service.kid,
                                                "typ": "JWT"}
    [jwk] = service.jwks()["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["kid"], jwk["e"]) == ("RSA", "RS256", service.kid, "AQAB")
    # Anyone holding the JWKS verifies the token with a stock library.
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=AUDIENCE)
    assert claims["sub"] == "person:7"
    assert service.verify(token)["sub"] == "person:7"
    # The same key next start: same kid, earlier tokens still valid.
    again = token_service(tmp_path)
    assert again.kid == service.kid and again.verify(token)["sub"] == "person:7"


def test_a_deployment_with_an_ec_key_keeps_es256(tmp_path: Path) -> None:
    """An installation whose data directory holds the ES256 key an earlier version generated
    (or whose configured key is EC) keeps signing ES256: its tokens and JWKS stay valid."""
    earlier = token_service(tmp_path, jwt_algorithm="ES256")
    token, _ = earlier.issue(subject="person:7", kind="person")
    upgraded = token_service(tmp_path)
    assert upgraded.algorithm == "ES256" and upgraded.kid == earlier.kid
    assert upgraded.verify(token)["sub"] == "person:7"
    assert [k["kty"] for k in upgraded.jwks()["keys"]] == ["EC"]
    configured = token_service(tmp_path / "other",
                               jwt_private_key_file=str(tmp_path / "jwt-es256.pem"))
    assert configured.algorithm == "ES256"


def test_a_key_that_does_not_fit_the_algorithm_is_refused(tmp_path: Path) -> None:
    weak = tmp_path / "weak.pem"
    weak.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(RuntimeError, match="2048 bits"):
        token_service(tmp_path, jwt_private_key_file=str(weak))
    with pytest.raises(RuntimeError, match="EC P-256"):
        token_service(tmp_path, jwt_private_key_file=str(weak), jwt_algorithm="ES256")


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_each_algorithm_refuses_another_keys_signature_and_other_algorithms(
        tmp_path: Path, algorithm: str) -> None:
    service = token_service(tmp_path, jwt_algorithm=algorithm)
    claims = _claims(service)
    forged = jwt.encode(claims, forger_key(algorithm), algorithm=algorithm,
                        headers={"kid": service.kid})
    with pytest.raises(Unauthenticated, match="invalid"):
        service.verify(forged)
    public_pem = service._keys[service.kid].key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    confused = _hs256_signed_with(public_pem, {"alg": "HS256", "kid": service.kid}, claims)
    with pytest.raises(Unauthenticated, match="disallowed algorithm"):
        service.verify(confused)
    assert service.verify(_signed(service, claims))["sub"] == "person:1"


def _hs256_signed_with(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The classic confusion attack: HS256 with the public key as the secret (by hand: PyJWT
    refuses to sign with a PEM key)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(claims))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def test_moving_from_es256_to_rs256_keeps_earlier_tokens_valid(tmp_path: Path) -> None:
    """The rotation path of ADR 0014: the new RS256 service lists the old EC key in
    ENTPAGE_JWT_EXTRA_PUBLIC_KEYS_FILE; tokens signed before still verify until they expire."""
    earlier = token_service(tmp_path / "before", jwt_algorithm="ES256")
    old_token, _ = earlier.issue(subject="person:7", kind="person")
    extra = tmp_path / "previous-keys.json"
    extra.write_text(orjson.dumps(earlier.jwks()).decode())
    moved = token_service(tmp_path / "after", jwt_algorithm="RS256",
                          jwt_extra_public_keys_file=str(extra))
    new_token, _ = moved.issue(subject="person:8", kind="person")
    assert jwt.get_unverified_header(new_token)["alg"] == "RS256"
    assert moved.verify(old_token)["sub"] == "person:7"
    assert moved.verify(new_token)["sub"] == "person:8"
    assert sorted(k["alg"] for k in moved.jwks()["keys"]) == ["ES256", "RS256"]
    assert {kid for kid, _, _ in moved.public_keys()} == {earlier.kid, moved.kid}
