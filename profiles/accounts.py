"""Accounts: people (enterprise staff), operators (admins, publishers) and integrations.

Access tokens are short-lived JWTs; refresh tokens are opaque, stored hashed, and rotate on every
use. Presenting a refresh token that was already used revokes its whole family: whoever holds a
stolen copy and the rightful owner are both logged out, and the owner logs in again.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import clock
from core.errors import Conflict, Forbidden, RateLimited, Unauthenticated, ValidationFailed
from core.passwords import hash_password, verify_password
from core.principals import Principal, parse_subject
from core.redis import get_redis
from core.settings import get_settings
from core.tokens import get_tokens, hash_opaque_token, new_opaque_token
from profiles.models import (
    Enterprise,
    IntegrationClient,
    Membership,
    Operator,
    Person,
    RefreshToken,
)
from profiles.page_cache import get_page_cache
from profiles.schemas import PersonInput

log = logging.getLogger(__name__)

LOGIN_ATTEMPTS_PER_WINDOW = 10
LOGIN_WINDOW_S = 900
INTEGRATION_SCOPES = ("enterprises:write", "matters:write")


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }


async def _throttle_login(key: str) -> None:
    redis = get_redis()
    name = f"login-fail:{key}"
    failures = int(await redis.get(name) or 0)
    if failures >= LOGIN_ATTEMPTS_PER_WINDOW:
        ttl = await redis.ttl(name)
        raise RateLimited("Too many failed logins; try again later.",
                          retry_after_s=max(int(ttl), 1))


async def _record_failure(key: str) -> None:
    redis = get_redis()
    name = f"login-fail:{key}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(name)
        pipe.expire(name, LOGIN_WINDOW_S)
        await pipe.execute()


def _claims_for(kind: str, operator: Operator | None) -> dict[str, Any]:
    if operator is None:
        return {}
    return {"role": operator.role, "dept": operator.department}


async def _issue_pair(subject: str, kind: str, extra: dict[str, Any],
                      family_id: uuid.UUID | None = None) -> TokenPair:
    access, ttl = get_tokens().issue(subject=subject, kind=kind, extra=extra)
    refresh = new_opaque_token("rt")
    await RefreshToken.create(
        family_id=family_id or uuid.uuid4(),
        subject=subject,
        token_hash=hash_opaque_token(refresh),
        expires_at=clock.now() + timedelta(seconds=get_settings().refresh_token_ttl_s),
    )
    return TokenPair(access, ttl, refresh)


async def login_person(phone: str, password: str) -> TokenPair:
    await _throttle_login(f"person:{phone}")
    person = await Person.get_or_none(phone=phone, active=True)
    if not await verify_password(person.password_hash if person else None, password) \
            or person is None:
        await _record_failure(f"person:{phone}")
        log.info("auth.login.failed", extra={"kind": "person"})
        raise Unauthenticated("Phone number or password is incorrect.")
    log.info("auth.login.succeeded", extra={"kind": "person", "person_id": person.id})
    return await _issue_pair(f"person:{person.id}", "person", {})


async def issue_person_tokens(person_id: int, *, method: str) -> TokenPair:
    """Tokens for a person who proved who they are another way (`method`, e.g. the WeChat
    mini-program login through a bound openid)."""
    if not await Person.exists(id=person_id, active=True):
        raise Unauthenticated("The account is disabled.")
    log.info("auth.login.succeeded", extra={"kind": "person", "person_id": person_id,
                                            "method": method})
    return await _issue_pair(f"person:{person_id}", "person", {})


async def login_operator(username: str, password: str) -> TokenPair:
    await _throttle_login(f"operator:{username}")
    operator = await Operator.get_or_none(username=username, active=True)
    if not await verify_password(operator.password_hash if operator else None, password) \
            or operator is None:
        await _record_failure(f"operator:{username}")
        log.info("auth.login.failed", extra={"kind": "operator"})
        raise Unauthenticated("Username or password is incorrect.")
    log.info("auth.login.succeeded", extra={"kind": "operator", "operator_id": operator.id})
    return await _issue_pair(f"operator:{operator.id}", "operator", _claims_for("operator", operator))


async def refresh(refresh_token: str) -> TokenPair:
    token_hash = hash_opaque_token(refresh_token)
    now = clock.now()
    async with in_transaction():
        row = await RefreshToken.get_or_none(token_hash=token_hash)
        if row is None:
            raise Unauthenticated("The refresh token is not recognised.")
        if row.revoked_at is not None or row.expires_at <= now:
            raise Unauthenticated("The refresh token is no longer valid; log in again.")
        # Atomic claim: of two concurrent uses only one updates the row.
        claimed = await RefreshToken.filter(id=row.id, used_at=None).update(used_at=now)
        if not claimed:
            await RefreshToken.filter(family_id=row.family_id, revoked_at=None).update(
                revoked_at=now
            )
            reuse = True
        else:
            reuse = False
    if reuse:
        log.warning("auth.refresh.reuse_detected", extra={"subject": row.subject,
                                                          "family": str(row.family_id)})
        raise Unauthenticated("This refresh token was already used; all sessions of this login "
                              "were ended. Log in again.")
    kind, subject_id = parse_subject(row.subject)
    operator = None
    if kind == "operator":
        operator = await Operator.get_or_none(id=subject_id, active=True)
        if operator is None:
            raise Unauthenticated("The account is disabled.")
    elif kind == "person" and not await Person.exists(id=subject_id, active=True):
        raise Unauthenticated("The account is disabled.")
    return await _issue_pair(row.subject, kind, _claims_for(kind, operator), row.family_id)


async def logout(refresh_token: str) -> None:
    row = await RefreshToken.get_or_none(token_hash=hash_opaque_token(refresh_token))
    if row is not None:
        await RefreshToken.filter(family_id=row.family_id, revoked_at=None).update(
            revoked_at=clock.now()
        )


async def create_person(data: PersonInput) -> Person:
    password_hash = await hash_password(data.password)
    enterprises = {
        e.uscc: e for e in await Enterprise.filter(uscc__in=[u for u, _ in data.memberships])
    }
    missing = [u for u, _ in data.memberships if u not in enterprises]
    if missing:
        raise ValidationFailed(f"memberships: unknown enterprise {missing[0]}",
                               field="memberships")
    try:
        async with in_transaction():
            person = await Person.create(phone=data.phone, name=data.name,
                                         password_hash=password_hash)
            for uscc, role in data.memberships:
                await Membership.create(person=person, enterprise=enterprises[uscc], role=role)
    except IntegrityError as exc:
        raise Conflict("A person with this phone number already exists.", field="phone") from exc
    for uscc, _ in data.memberships:
        await get_page_cache().forget_role(person.id, uscc)
    return person


async def set_membership(person_id: int, uscc: str, role: str | None) -> None:
    enterprise = await Enterprise.get_or_none(uscc=uscc)
    if enterprise is None:
        raise ValidationFailed(f"uscc: unknown enterprise {uscc}", field="uscc")
    if not await Person.exists(id=person_id):
        raise ValidationFailed("person_id: unknown person", field="person_id")
    if role is None:
        await Membership.filter(person_id=person_id, enterprise=enterprise).delete()
    else:
        updated = await Membership.filter(person_id=person_id, enterprise=enterprise).update(
            role=role
        )
        if not updated:
            await Membership.create(person_id=person_id, enterprise=enterprise, role=role)
    await get_page_cache().forget_role(person_id, uscc)


async def create_operator(*, username: str, display_name: str, password: str, role: str,
                          department: str | None, zones: list[str],
                          regions: list[str]) -> Operator:
    try:
        return await Operator.create(
            username=username, display_name=display_name,
            password_hash=await hash_password(password), role=role, department=department,
            jurisdiction_zones=zones, jurisdiction_regions=regions,
        )
    except IntegrityError as exc:
        raise Conflict("An operator with this username already exists.",
                       field="username") from exc


@dataclass(frozen=True, slots=True)
class IssuedKey:
    client: IntegrationClient
    api_key: str


async def create_integration(*, name: str, source_system: str, scopes: list[str],
                             is_registry: bool) -> IssuedKey:
    unknown = [s for s in scopes if s not in INTEGRATION_SCOPES]
    if unknown:
        raise ValidationFailed(f"scopes: unknown scope {unknown[0]}", field="scopes")
    prefix = secrets.token_hex(4)
    api_key = f"ek_{prefix}_{secrets.token_urlsafe(32)}"
    try:
        client = await IntegrationClient.create(
            name=name, source_system=source_system, key_prefix=prefix,
            key_hash=hash_opaque_token(api_key), scopes=scopes, is_registry=is_registry,
        )
    except IntegrityError as exc:
        raise Conflict("An integration for this source system already exists.",
                       field="source_system") from exc
    return IssuedKey(client, api_key)


async def authenticate_api_key(api_key: str) -> Principal:
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ek":
        raise Unauthenticated("The API key is malformed.")
    client = await IntegrationClient.get_or_none(key_prefix=parts[1], active=True)
    # High-entropy keys: a SHA-256 digest compared in constant time is the right cost here.
    if client is None or not hmac.compare_digest(client.key_hash, hash_opaque_token(api_key)):
        raise Unauthenticated("The API key is not valid.")
    return Principal("integration", client.id, role=None, claims={
        "source_system": client.source_system,
        "scopes": list(client.scopes),
        "is_registry": client.is_registry,
    })


def require_scope(principal: Principal, scope: str) -> None:
    if principal.kind != "integration" or scope not in principal.claims.get("scopes", []):
        raise Forbidden(f"This call needs an integration key with the {scope} scope.")
