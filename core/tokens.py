"""JWT access tokens (PyJWT): keys with a `kid`, rotation through extra public keys, JWKS.

Asymmetric by default (ES256): the private key comes from ENTPAGE_JWT_PRIVATE_KEY_FILE, or on
the embedded default is generated once into the data directory. HS256 with ENTPAGE_JWT_SECRET is
accepted for single-service deployments (no JWKS then).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import Unauthenticated
from core.settings import Settings
from core.signatures import SignatureWorker, SignatureWorkerUnavailable

AUDIENCE = "entpage"
_ASYMMETRIC = {"ES256", "ES384", "RS256", "EdDSA"}


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str
    algorithm: str
    key: Any  # a public key object, or the shared secret bytes for HS256
    jwk: dict[str, Any] | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _ec_public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    numbers = public_key.public_numbers()
    size = (public_key.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(size, "big")),
        "y": _b64(numbers.y.to_bytes(size, "big")),
    }


def _thumbprint(jwk: dict[str, Any]) -> str:
    # RFC 7638: required members only, lexicographic order, no whitespace.
    required = {k: jwk[k] for k in ("crv", "kty", "x", "y") if k in jwk}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    return _b64(hashlib.sha256(canonical).digest())[:16]


def _load_or_create_private_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    path = (
        Path(settings.jwt_private_key_file)
        if settings.jwt_private_key_file
        else settings.data_dir / "jwt-es256.pem"
    )
    if not path.exists():
        if settings.jwt_private_key_file:
            raise RuntimeError(f"ENTPAGE_JWT_PRIVATE_KEY_FILE {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            # O_EXCL: when several processes start at once, exactly one key wins.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise RuntimeError("the JWT private key must be an EC P-256 key for ES256")
    return loaded


class TokenService:
    """Issues and verifies access tokens. Verified tokens are memoised until they expire, so a
    busy app client costs one signature check per token, not one per request."""

    def __init__(self, settings: Settings, *, cache_size: int = 20_000) -> None:
        self.issuer = settings.jwt_issuer
        self.access_ttl_s = settings.access_token_ttl_s
        self.algorithm = settings.jwt_algorithm
        self._keys: dict[str, VerificationKey] = {}
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self.signature_worker: SignatureWorker | None = None  # set while the API runs one
        if self.algorithm == "HS256":
            if len(settings.jwt_secret) < 32:
                raise RuntimeError("ENTPAGE_JWT_SECRET must be at least 32 characters for HS256")
            self.kid = settings.jwt_kid or "hs-1"
            self._signing_key: Any = settings.jwt_secret.encode()
            self._keys[self.kid] = VerificationKey(self.kid, "HS256", self._signing_key, None)
        elif self.algorithm == "ES256":
            private_key = _load_or_create_private_key(settings)
            jwk = _ec_public_jwk(private_key.public_key())
            self.kid = settings.jwt_kid or _thumbprint(jwk)
            self._signing_key = private_key
            jwk = {**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}
            self._keys[self.kid] = VerificationKey(self.kid, "ES256", private_key.public_key(), jwk)
        else:
            raise RuntimeError(f"unsupported ENTPAGE_JWT_ALGORITHM {self.algorithm!r}")
        if settings.jwt_extra_public_keys_file:
            self._load_extra_keys(Path(settings.jwt_extra_public_keys_file))

    def _load_extra_keys(self, path: Path) -> None:
        """Previous public keys stay valid for verification while their tokens expire."""
        document = json.loads(path.read_text())
        for jwk in document.get("keys", []):
            algorithm = jwk.get("alg", "ES256")
            if algorithm not in _ASYMMETRIC:
                continue
            key = jwt.PyJWK(jwk, algorithm=algorithm).key
            self._keys[jwk["kid"]] = VerificationKey(jwk["kid"], algorithm, key, jwk)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk for k in self._keys.values() if k.jwk is not None]}

    def issue(self, *, subject: str, kind: str, extra: dict[str, Any] | None = None,
              ttl_s: int | None = None) -> tuple[str, int]:
        now = int(time.time())
        ttl = ttl_s or self.access_ttl_s
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": subject,
            "pt": kind,
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(12),
        }
        if extra:
            claims.update(extra)
        token = jwt.encode(claims, self._signing_key, algorithm=self.algorithm,
                           headers={"kid": self.kid})
        return token, ttl

    def verified(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this process verified before and that has not expired since;
        None otherwise (then `verify` it)."""
        cached = self._cache.get(token)
        if cached is not None and cached["exp"] > time.time():
            return cached
        return None

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthenticated; the signature is checked in this process."""
        cached = self.verified(token)
        if cached is not None:
            return cached
        key, signing_input, segment = self._signed_parts(token)
        if not self._signature_valid(key, signing_input, segment):
            raise Unauthenticated("The access token is invalid.")
        return self._accept(token, signing_input)

    async def verify_async(self, token: str) -> dict[str, Any]:
        """As `verify`, with an asymmetric signature checked by the signature helper process
        when one runs (core.signatures), so the event loop spends its time elsewhere."""
        cached = self.verified(token)
        if cached is not None:
            return cached
        key, signing_input, segment = self._signed_parts(token)
        worker = self.signature_worker
        if worker is not None and key.jwk is not None:
            try:
                valid = await worker.check(key.kid, signing_input, segment)
            except SignatureWorkerUnavailable:
                valid = self._signature_valid(key, signing_input, segment)
        else:
            valid = self._signature_valid(key, signing_input, segment)
        if not valid:
            raise Unauthenticated("The access token is invalid.")
        return self._accept(token, signing_input)

    def public_keys(self) -> list[tuple[str, str, bytes]]:
        """The asymmetric verification keys as (kid, algorithm, PEM), for the helper."""
        return [(k.kid, k.algorithm, k.key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
                for k in self._keys.values() if k.jwk is not None]

    def _signed_parts(self, token: str) -> tuple[VerificationKey, str, str]:
        """Format, header, key and algorithm checked; the signature not yet."""
        self._cache.pop(token, None)
        if _COMPACT_JWS.fullmatch(token) is None:
            raise Unauthenticated("The access token is malformed.")
        signing_input, _, signature = token.rpartition(".")
        header = _unverified_header(token)
        key = self._keys.get(str(header.get("kid", "")))
        if key is None:
            raise Unauthenticated("The access token was signed with an unknown key.")
        if header.get("alg") != key.algorithm:
            # Never let the token choose the algorithm (alg=none, HS/RS confusion).
            raise Unauthenticated("The access token uses a disallowed algorithm.")
        if "crit" in header:  # RFC 7515 §4.1.11: we understand no extensions
            raise Unauthenticated("The access token is invalid.")
        return key, signing_input, signature

    @staticmethod
    def _signature_valid(key: VerificationKey, signing_input: str, segment: str) -> bool:
        # PyJWT's own algorithm verifies the signature; the checks around it are ours because
        # `jwt.decode` re-validates every character of the token in Python first (≈ 60 µs of a
        # cold page's CPU, docs/adr/0012): the regex in `_signed_parts` does that in C.
        return bool(jwt.get_algorithm_by_name(key.algorithm).verify(
            signing_input.encode(), key.key, _b64decode(segment)))

    def _accept(self, token: str, signing_input: str) -> dict[str, Any]:
        """Claims of a token whose signature is valid, checked and remembered."""
        claims = self._valid_claims(_b64decode(signing_input.partition(".")[2]))
        self._cache[token] = claims
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return claims

    def _valid_claims(self, payload: bytes) -> dict[str, Any]:
        """RFC 7519 §7.2 checks on a verified payload, as `jwt.decode` would do them with
        required exp/iat/sub/aud/iss and a 5-second leeway."""
        try:
            claims = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise Unauthenticated("The access token is invalid.") from exc
        if not isinstance(claims, dict) or any(c not in claims for c in _REQUIRED_CLAIMS):
            raise Unauthenticated("The access token is invalid.")
        now = time.time()
        exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf", 0)
        if not all(isinstance(v, int | float) and not isinstance(v, bool)
                   for v in (exp, iat, nbf)):
            raise Unauthenticated("The access token is invalid.")
        if exp <= now - _LEEWAY_S:
            raise Unauthenticated("The access token has expired.")
        if iat > now + _LEEWAY_S or nbf > now + _LEEWAY_S:
            raise Unauthenticated("The access token is not valid yet.")
        audience = claims["aud"]
        if not (audience == AUDIENCE or (isinstance(audience, list) and AUDIENCE in audience)):
            raise Unauthenticated("The access token is for another audience.")
        if claims["iss"] != self.issuer:
            raise Unauthenticated("The access token is from another issuer.")
        return claims


_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss")
_LEEWAY_S = 5


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError as exc:  # binascii.Error: a length no encoding produces
        raise Unauthenticated("The access token is malformed.") from exc


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, to pick the key and check the algorithm before the signature."""
    segment, dot, _ = token.partition(".")
    try:
        if not dot or not segment or "=" in segment:
            raise ValueError("no header segment")
        header = orjson.loads(_b64decode(segment))  # Unauthenticated("…malformed") as below
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthenticated("The access token is malformed.") from exc
    if not isinstance(header, dict):
        raise Unauthenticated("The access token is malformed.")
    return header


_service: TokenService | None = None


def init_tokens(settings: Settings) -> TokenService:
    global _service
    _service = TokenService(settings)
    return _service


def get_tokens() -> TokenService:
    if _service is None:
        raise RuntimeError("token service not initialised")
    return _service


def new_opaque_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_opaque_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
