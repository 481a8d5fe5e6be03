"""A throw-away Google service-account key whose `token_uri` is the fake FCM's `/token`, so
firebase-admin's real credential runs google-auth's real JWT-bearer flow against the fake."""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def fake_service_account_info(
    *, token_uri: str, project_id: str, private_key: rsa.RSAPrivateKey | None = None
) -> dict[str, Any]:
    """Pass `private_key` to skip generating one (tests reuse a key: generation is slow)."""
    key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    email = f"firebase-adminsdk-fake@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem.decode("ascii"),
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
    }


def write_fake_service_account(path: Path, *, token_uri: str, project_id: str) -> Path:
    """Write the key file (mode 0600, like a real key) and return its path."""
    info = fake_service_account_info(token_uri=token_uri, project_id=project_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # before the key is written, not after
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m push.fakes.credentials",
        description="Write a fake service-account key for a fake FCM (for demos).",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--token-uri", default="http://127.0.0.1:9101/token")
    parser.add_argument("--project-id", default="entpage-demo")
    args = parser.parse_args(argv)
    written = write_fake_service_account(args.out, token_uri=args.token_uri, project_id=args.project_id)
    print(written)


if __name__ == "__main__":
    main()
