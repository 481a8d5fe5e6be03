"""Self-service kiosks: registration, kiosk login, the QR hand-off and kiosk sessions.

Flow: an admin registers a kiosk and receives its credential once. The kiosk logs in with it
(a `kiosk` token that can do nothing but run hand-offs). Its idle screen shows a QR code with a
one-time nonce (Redis, short TTL). A member of an enterprise scans it in the app and approves
the hand-off for that enterprise; the approval consumes the nonce. The kiosk's next poll claims
the approval (once) and receives a `kiosk_session` token for that one enterprise: read-only,
ENTPAGE_KIOSK_SESSION_TTL seconds, extended on touch up to ENTPAGE_KIOSK_SESSION_MAX, and
revoked server-side (by jti and by session id) when the visitor presses 完成 or walks away.

Audit log (through `core.audit`): `kiosk.handoff_approved` (who, which kiosk, which enterprise,
from where) before the kiosk can claim the approval, `kiosk.session_started` before the session
token is issued, `kiosk.session_ended` when the visitor ends it (完成), and
`kiosk.handoff_refused` when someone who is not a member tries to put an
enterprise's page on a kiosk. Expired or already used codes are not audited: they are routine
(a second scan, a slow visitor) and put no enterprise's page at stake.
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
import segno
from redis.exceptions import WatchError
from tortoise.exceptions import IntegrityError

from core import audit, clock
from core.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthenticated
from core.principals import Principal
from core.redis import get_redis
from core.settings import Settings, get_settings
from core.tokens import get_tokens, hash_opaque_token
from profiles.kiosk_models import Kiosk
from profiles.models import Enterprise
from profiles.service import authorize_enterprise_read

log = logging.getLogger(__name__)

CREDENTIAL_PREFIX = "kk"
HANDOFF_URI = "entpage://kiosk/handoff/"
LOGIN_FAILURES_PER_WINDOW = 10
LOGIN_WINDOW_S = 900
HANDOFFS_PER_MINUTE = 30

ValidityCheck = Callable[[], Awaitable[bool]]


# --------------------------------------------------------------------------- registration


@dataclass(frozen=True, slots=True)
class IssuedKiosk:
    kiosk: Kiosk
    credential: str


def kiosk_view(kiosk: Kiosk) -> dict[str, Any]:
    return {
        "id": kiosk.id, "name": kiosk.name, "location": kiosk.location, "active": kiosk.active,
        "created_at": kiosk.created_at.isoformat().replace("+00:00", "Z")
        if kiosk.created_at else None,
        "last_login_at": kiosk.last_login_at.isoformat().replace("+00:00", "Z")
        if kiosk.last_login_at else None,
    }


async def create_kiosk(*, name: str, location: str, created_by: Principal) -> IssuedKiosk:
    if not created_by.is_admin:
        raise Forbidden("Only administrators register kiosks.")
    for _ in range(3):
        prefix = secrets.token_hex(4)
        credential = f"{CREDENTIAL_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        try:
            kiosk = await Kiosk.create(name=name, location=location, credential_prefix=prefix,
                                       credential_hash=hash_opaque_token(credential),
                                       created_by_id=created_by.id)
        except IntegrityError:
            continue  # a prefix collision: draw again
        log.info("kiosk.created", extra={"kiosk_id": kiosk.id, "by": created_by.subject})
        return IssuedKiosk(kiosk, credential)
    raise Conflict("Could not allocate a kiosk credential; try again.")


async def list_kiosks() -> list[Kiosk]:
    return await Kiosk.all().order_by("id")


async def set_active(kiosk_id: int, active: bool, *, by: Principal) -> Kiosk:
    if not by.is_admin:
        raise Forbidden("Only administrators manage kiosks.")
    kiosk = await Kiosk.get_or_none(id=kiosk_id)
    if kiosk is None:
        raise NotFound(f"No kiosk {kiosk_id}.", field="kiosk_id")
    kiosk.active = active
    await kiosk.save(update_fields=["active"])
    log.info("kiosk.active_changed", extra={"kiosk_id": kiosk_id, "active": active,
                                             "by": by.subject})
    return kiosk


# --------------------------------------------------------------------------- kiosk login


async def login(credential: str) -> tuple[str, int, Kiosk]:
    parts = credential.split("_", 2)
    if len(parts) != 3 or parts[0] != CREDENTIAL_PREFIX:
        raise Unauthenticated("The kiosk credential is malformed.", field="credential")
    redis = get_redis()
    throttle = f"login-fail:kiosk:{parts[1]}"
    failures = int(await redis.get(throttle) or 0)
    if failures >= LOGIN_FAILURES_PER_WINDOW:
        raise RateLimited("Too many failed kiosk logins; try again later.",
                          retry_after_s=max(int(await redis.ttl(throttle)), 1))
    kiosk = await Kiosk.get_or_none(credential_prefix=parts[1], active=True)
    if kiosk is None or not hmac.compare_digest(kiosk.credential_hash,
                                                hash_opaque_token(credential)):
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(throttle)
            pipe.expire(throttle, LOGIN_WINDOW_S)
            await pipe.execute()
        log.info("kiosk.login.failed", extra={"prefix": parts[1]})
        raise Unauthenticated("The kiosk credential is not valid.", field="credential")
    await Kiosk.filter(id=kiosk.id).update(last_login_at=clock.now())
    token, ttl = get_tokens().issue(subject=f"kiosk:{kiosk.id}", kind="kiosk",
                                    extra={"kiosk_name": kiosk.name})
    log.info("kiosk.login.succeeded", extra={"kiosk_id": kiosk.id})
    return token, ttl, kiosk


async def _active_kiosk(principal: Principal) -> Kiosk:
    if principal.kind != "kiosk":
        raise Forbidden("This call is for registered kiosks.")
    kiosk = await Kiosk.get_or_none(id=principal.id, active=True)
    if kiosk is None:
        raise Unauthenticated("This kiosk is deactivated.")
    return kiosk


# --------------------------------------------------------------------------- hand-offs


def _handoff_key(nonce: str) -> str:
    return f"entpage:kiosk:handoff:{nonce}"


def qr_svg(text: str) -> str:
    """A standalone SVG document (for an <img src="data:…">; no script can run there)."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=10, border=2, xmldecl=False,
                                     dark="#111111", light="#ffffff", title="entpage hand-off")
    return buffer.getvalue().decode()


@dataclass(frozen=True, slots=True)
class Handoff:
    nonce: str
    qr_text: str
    qr_svg: str
    expires_in: int

    def as_dict(self) -> dict[str, Any]:
        return {"nonce": self.nonce, "qr_text": self.qr_text, "qr_svg": self.qr_svg,
                "expires_in": self.expires_in}


async def create_handoff(principal: Principal, *, settings: Settings | None = None) -> Handoff:
    settings = settings or get_settings()
    kiosk = await _active_kiosk(principal)
    redis = get_redis()
    rate_key = f"entpage:kiosk:handoff-rate:{kiosk.id}:{int(time.time() // 60)}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(rate_key)
        pipe.expire(rate_key, 120)
        count, _ = await pipe.execute()
    if int(count) > HANDOFFS_PER_MINUTE:
        raise RateLimited("This kiosk asks for QR codes too often.", retry_after_s=60)
    nonce = secrets.token_urlsafe(24)
    ttl = settings.kiosk_handoff_ttl_s
    await redis.set(_handoff_key(nonce),
                    orjson.dumps({"kiosk_id": kiosk.id, "state": "pending"}), ex=ttl)
    text = HANDOFF_URI + nonce
    return Handoff(nonce, text, qr_svg(text), ttl)


async def _transition(redis: aioredis.Redis, nonce: str,
                      step: Callable[[dict[str, Any], int], dict[str, Any] | None]
                      ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Optimistic (WATCH/MULTI) state change of one hand-off: `step(state, ttl_ms)` returns the
    new state, or None to delete it. Of two concurrent callers exactly one wins; the other
    re-reads and sees the new state."""
    key = _handoff_key(nonce)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                if raw is None:
                    raise NotFound("This QR code has expired or was already used; scan the "
                                   "new one on the kiosk.", field="nonce")
                state: dict[str, Any] = orjson.loads(raw)
                ttl_ms = int(await pipe.pttl(key))
                new_state = step(state, ttl_ms)
                pipe.multi()  # type: ignore[no-untyped-call]
                if new_state is None:
                    pipe.delete(key)
                else:
                    pipe.set(key, orjson.dumps(new_state), px=max(ttl_ms, 1000))
                await pipe.execute()
                return state, new_state
            except WatchError:
                continue


def _iso(epoch_s: int) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat().replace("+00:00", "Z")


def _kiosk_summary(kiosk: Kiosk) -> dict[str, Any]:
    return {"kiosk_id": kiosk.id, "kiosk_name": kiosk.name, "kiosk_location": kiosk.location}


async def approve_handoff(principal: Principal, nonce: str, uscc: str, *,
                          origin: audit.Origin | None = None) -> dict[str, Any]:
    """A member of the enterprise approves showing its page on the kiosk (consumes the nonce).

    The approval is on the record before the kiosk can claim it: the code goes pending →
    approving (of concurrent approvers exactly one gets there), the audit entry is written,
    then approving → approved, the only state the kiosk's poll claims. If the entry cannot be
    written the code goes back to pending and nothing was approved."""
    origin = origin or audit.Origin()
    if principal.kind != "person":
        raise Forbidden("Only enterprise staff signed in to the app can approve a kiosk.")
    redis = get_redis()
    try:
        await authorize_enterprise_read(principal, uscc)
    except Forbidden:
        try:
            raw = await redis.get(_handoff_key(nonce))
            await audit.append(audit.Entry(
                actor=principal.subject, action="kiosk.handoff_refused",
                object_type="enterprise", object_id=uscc, origin=origin, summary={
                    "reason": "not_a_member",
                    "kiosk_id": orjson.loads(raw).get("kiosk_id") if raw is not None else None}))
        except Exception:  # the refusal stands either way; a 500 would hide it
            log.exception("kiosk.handoff.refusal_unaudited", extra={"uscc": uscc})
        raise

    def begin(state: dict[str, Any], ttl_ms: int) -> dict[str, Any]:
        if state.get("state") != "pending":
            raise Conflict("This QR code was already used.", field="nonce")
        return {**state, "state": "approving", "uscc": uscc, "person_id": principal.id}

    def step(old: str, new: str) -> Callable[[dict[str, Any], int], dict[str, Any]]:
        def change(state: dict[str, Any], ttl_ms: int) -> dict[str, Any]:
            if state.get("state") != old or state.get("person_id") != principal.id:
                raise Conflict("This QR code was already used.", field="nonce")
            return {**state, "state": new}
        return change

    state, _ = await _transition(redis, nonce, begin)
    kiosk = await Kiosk.get_or_none(id=int(state["kiosk_id"]))
    if kiosk is None or not kiosk.active:
        await redis.delete(_handoff_key(nonce))
        raise NotFound("This kiosk is no longer in service.", field="nonce")
    try:
        await audit.append(audit.Entry(
            actor=principal.subject, action="kiosk.handoff_approved", object_type="enterprise",
            object_id=uscc, summary=_kiosk_summary(kiosk), origin=origin))
    except Exception:
        try:  # unrecorded, so not approved: the visitor can scan the same code again
            await _transition(redis, nonce, step("approving", "pending"))
        except Exception:
            log.exception("kiosk.handoff.reopen_failed", extra={"kiosk_id": kiosk.id})
        raise
    await _transition(redis, nonce, step("approving", "approved"))
    log.info("kiosk.handoff.approved", extra={"kiosk_id": kiosk.id, "uscc": uscc,
                                              "person_id": principal.id})
    return {"status": "approved", "uscc": uscc,
            "kiosk": {"id": kiosk.id, "name": kiosk.name, "location": kiosk.location}}


async def poll_handoff(principal: Principal, nonce: str, *,
                       settings: Settings | None = None,
                       origin: audit.Origin | None = None) -> dict[str, Any]:
    """The kiosk asks whether its QR code was approved; the first poll after approval claims
    it and receives the session token (never stored anywhere)."""
    settings = settings or get_settings()
    kiosk = await _active_kiosk(principal)

    def claim(state: dict[str, Any], ttl_ms: int) -> dict[str, Any] | None:
        if int(state.get("kiosk_id", 0)) != kiosk.id:
            # Not this kiosk's code: behave as if it did not exist.
            raise NotFound("No such hand-off.", field="nonce")
        return None if state.get("state") == "approved" else state

    state, remaining = await _transition(get_redis(), nonce, claim)
    if remaining is not None:
        ttl_ms = int(await get_redis().pttl(_handoff_key(nonce)))
        return {"status": "pending", "expires_in": max(ttl_ms // 1000, 0)}
    uscc = str(state["uscc"])
    enterprise = await Enterprise.get_or_none(uscc=uscc)
    started = int(time.time())
    session_id = secrets.token_urlsafe(12)
    # On the record before the token exists: if this write fails the code is used up and no
    # session starts (the visitor scans the next code).
    await audit.append(audit.Entry(
        actor=principal.subject, action="kiosk.session_started", object_type="enterprise",
        object_id=uscc, origin=origin or audit.Origin(), summary={
            **_kiosk_summary(kiosk), "approved_by": f"person:{state.get('person_id')}",
            "session": session_id, "session_max_until": _iso(started + settings.kiosk_session_max_s)}))
    token, ttl = _issue_session(kiosk.id, uscc, session_id, started, settings)
    log.info("kiosk.session.started", extra={"kiosk_id": kiosk.id, "uscc": uscc,
                                             "person_id": state.get("person_id"),
                                             "session": session_id})
    return {"status": "approved", "access_token": token, "token_type": "Bearer",
            "expires_in": ttl, "uscc": uscc,
            "enterprise": {"uscc": uscc, "name": enterprise.name if enterprise else uscc},
            "session_max_until": started + settings.kiosk_session_max_s}


# --------------------------------------------------------------------------- sessions


def _issue_session(kiosk_id: int, uscc: str, session_id: str, started: int,
                   settings: Settings) -> tuple[str, int]:
    remaining = started + settings.kiosk_session_max_s - int(time.time())
    ttl = max(min(settings.kiosk_session_ttl_s, remaining), 1)
    return get_tokens().issue(subject=f"kiosk_session:{kiosk_id}", kind="kiosk_session",
                              ttl_s=ttl, extra={"ent": uscc, "kiosk": kiosk_id,
                                                "sid": session_id, "sst": started})


def _revoked_key(jti: str) -> str:
    return f"entpage:kiosk:revoked:{jti}"


def _ended_key(session_id: str) -> str:
    return f"entpage:kiosk:ended:{session_id}"


async def _revoke_token(redis: aioredis.Redis, claims: Mapping[str, Any]) -> None:
    remaining = int(claims.get("exp", 0)) - int(time.time()) + 60  # + verification leeway
    if remaining > 0:
        await redis.set(_revoked_key(str(claims.get("jti", ""))), b"1", ex=remaining)


async def session_revoked(claims: Mapping[str, Any]) -> bool:
    """True once the session token was replaced (extend) or its session ended."""
    keys = [_revoked_key(str(claims.get("jti", ""))), _ended_key(str(claims.get("sid", "")))]
    return int(await get_redis().exists(*keys)) > 0


def session_validity(claims: Mapping[str, Any]) -> ValidityCheck:
    async def check() -> bool:
        return not await session_revoked(claims)

    return check


async def always_valid() -> bool:
    return True


def _session(principal: Principal) -> Mapping[str, Any]:
    if principal.kind != "kiosk_session":
        raise Forbidden("This call is for kiosk sessions.")
    return principal.claims


async def extend_session(principal: Principal, *,
                         settings: Settings | None = None) -> dict[str, Any]:
    """On touch: a fresh token for the same session (the old one is revoked), never past the
    session's absolute maximum."""
    settings = settings or get_settings()
    claims = _session(principal)
    started = int(claims["sst"])
    if time.time() >= started + settings.kiosk_session_max_s - 1:
        raise Unauthenticated("This kiosk session reached its maximum length.")
    kiosk_id = int(claims["kiosk"])
    if not await Kiosk.exists(id=kiosk_id, active=True):
        raise Unauthenticated("This kiosk is deactivated.")
    token, ttl = _issue_session(kiosk_id, str(claims["ent"]), str(claims["sid"]), started,
                                settings)
    await _revoke_token(get_redis(), claims)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl,
            "session_max_until": started + settings.kiosk_session_max_s}


async def end_session(principal: Principal, *, settings: Settings | None = None,
                      origin: audit.Origin | None = None) -> None:
    """完成: the session ends first, then it is recorded (`kiosk.session_ended`). A visitor's
    page must leave the screen even when the audit log cannot be written: that failure is
    logged, and the trail then ends at the session's start and its absolute maximum."""
    settings = settings or get_settings()
    claims = _session(principal)
    redis = get_redis()
    await _revoke_token(redis, claims)
    await redis.set(_ended_key(str(claims["sid"])), b"1", ex=settings.kiosk_session_max_s + 120)
    log.info("kiosk.session.ended", extra={"kiosk_id": claims.get("kiosk"),
                                           "session": claims.get("sid")})
    try:
        await audit.append(audit.Entry(
            # The kiosk's trail (`actor=kiosk:N`) holds its sessions' starts and ends.
            actor=f"kiosk:{int(claims['kiosk'])}", action="kiosk.session_ended",
            object_type="enterprise", object_id=str(claims["ent"]),
            origin=origin or audit.Origin(), summary={
                "kiosk_id": int(claims["kiosk"]), "session": str(claims["sid"]),
                "session_started": _iso(int(claims["sst"])), "ended_by": principal.subject}))
    except Exception:
        log.exception("kiosk.session.end_unaudited", extra={"session": claims.get("sid")})
