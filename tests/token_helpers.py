"""For tests of token algorithms: a token service of its own in a temporary data directory,
and a key of the same kind as a service's that is not its key (a forger's)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.settings import load_settings
from core.tokens import TokenService


def token_service(data_dir: Path, **jwt_settings: str) -> TokenService:
    """As the environment would configure it, but with nothing JWT-related set except
    `jwt_settings` (e.g. `jwt_algorithm="ES256"`), and keys generated into `data_dir`."""
    settings = {"jwt_algorithm": "", "jwt_private_key_file": "", "jwt_kid": "", "jwt_secret": "",
                "jwt_extra_public_keys_file": "", **jwt_settings}
    return TokenService(dataclasses.replace(load_settings(), data_dir=data_dir, **settings))


def forger_key(algorithm: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())
