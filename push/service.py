"""Use cases of the push domain: devices, the mini-program login and binding, consents, and
the hooks that turn notices, policy matches and reminders into deliveries.

Hooks (installed by `install()`, which importing this module runs):
- `notices.service.on_published` → deliveries for the new recipients, ONE INSERT … SELECT,
  inside the publishing transaction (they commit or roll back with the recipients).
- `notices.policies.on_policy_matched` → the same for policy matches.
- `notices.service.register_stats_extension` → per-channel delivered / failed / dead / skipped.
- `notices.service.register_device_counter` → the device count in audience previews.

Decisions: an urgent push is a notice with priority `urgent` (any kind; the warnings publishers
mark urgent) and only those bypass quiet hours. A device token registered by another person
moves to them; deliveries made for the previous owner are then skipped, never shown to the new
one. A refreshed token updates the device row in place, so pending deliveries follow it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import clock
from core.db import Sql, new_sql
from core.errors import Conflict, NotFound, Unauthenticated
from core.redis import get_redis
from core.settings import get_settings
from notices import policies as notice_policies
from notices import service as notices_service
from notices.models import Notice, Policy
from notices.repository import Audience
from notices.sanitize import plain_excerpt
from notices.service import RecipientScope
from profiles import accounts
from profiles.accounts import TokenPair
from push import events, repository
from push.config import push_config
from push.models import CHANNELS, DELIVERY_STATUSES
from push.providers.factory import wechat_client_from_settings
from push.providers.wechat import WeChatClient
from push.repository import ConsentRow, DeviceRow, Fanout
from push.schemas import ConsentInput, DeviceInput

log = logging.getLogger(__name__)

PUSH_BODY_CHARS = 120
# Statistics keys per channel: delivery statuses as publishers read them.
STAT_KEYS = {"sent": "delivered", "failed": "failed", "dead": "dead", "skipped": "skipped",
             "pending": "pending", "sending": "sending"}


class WeChatNotBound(Unauthenticated):
    code = "wechat-not-bound"
    title = "This WeChat user is not bound to an account"


# ------------------------------------------------------------------------------ devices


def device_view(device: DeviceRow) -> dict[str, Any]:
    return {
        "id": device.id, "channel": device.channel, "platform": device.platform,
        "app_version": device.app_version, "locale": device.locale,
        "installation_id": device.installation_id, "active": device.active,
        "deactivated_reason": device.deactivated_reason,
        "token_suffix": device.token[-8:],  # enough to tell devices apart, not to reuse one
        "last_seen_at": _iso(device.last_seen_at), "created_at": _iso(device.created_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


async def register_device(person_id: int, data: DeviceInput) -> tuple[dict[str, Any], bool]:
    """Register (or refresh) an app device; returns (view, created)."""
    for attempt in range(2):
        try:
            return await _register_device(person_id, data)
        except IntegrityError:
            if attempt:
                raise
            # A concurrent registration of the same token won the insert: update it instead.
    raise AssertionError("unreachable")


async def _register_device(person_id: int, data: DeviceInput) -> tuple[dict[str, Any], bool]:
    now = clock.now()
    fields: dict[str, Any] = {"platform": data.platform, "installation_id": data.installation_id,
                              "app_version": data.app_version, "locale": data.locale}
    created = False
    async with in_transaction():
        existing = await repository.device_by_token("fcm", data.token)
        replaced = await repository.replaceable_device(
            person_id, "fcm", replaces=data.replaces, installation_id=data.installation_id)
        if existing is not None:
            device_id = existing.id
            await repository.update_device(device_id, person_id=person_id, token=data.token,
                                           now=now, **fields)
            if replaced is not None and replaced.id != existing.id:
                await repository.deactivate_devices([replaced.id], reason="replaced", now=now)
        elif replaced is not None:
            device_id = replaced.id  # refreshed token: same device, pending deliveries follow
            await repository.update_device(device_id, person_id=person_id, token=data.token,
                                           now=now, **fields)
        else:
            device_id = await repository.insert_device(person_id, channel="fcm",
                                                       token=data.token, now=now, **fields)
            created = True
    device = await repository.device_of(person_id, device_id)
    assert device is not None
    log.info("push.device.registered", extra={
        "person_id": person_id, "device_id": device_id, "new_device": created,
        "replaced": replaced.id if replaced is not None and replaced.id != device_id else None,
        "moved_from": existing.person_id if existing and existing.person_id != person_id
        else None,
    })
    return device_view(device), created


async def list_devices(person_id: int) -> list[dict[str, Any]]:
    return [device_view(d) for d in await repository.devices_of(person_id)]


async def unregister_device(person_id: int, device_id: int) -> None:
    """Logout / uninstall: the device gets nothing more; its pending deliveries are skipped
    when claimed."""
    device = await repository.device_of(person_id, device_id)
    if device is None:
        raise NotFound(f"No device {device_id} of yours.", field="device_id")
    await repository.deactivate_devices([device_id], reason="unregistered", now=clock.now(),
                                        person_id=person_id)
    log.info("push.device.unregistered", extra={"person_id": person_id, "device_id": device_id})


async def unregister_token(person_id: int, token: str) -> None:
    device = await repository.device_by_token("fcm", token)
    if device is None or device.person_id != person_id:
        raise NotFound("No device of yours has this token.", field="token")
    await unregister_device(person_id, device.id)


# ------------------------------------------------------------------------------ WeChat

_wechat: WeChatClient | None = None


def use_wechat_client(client: WeChatClient | None) -> None:
    """The client for mini-program logins in this process (tests point one at the fake)."""
    global _wechat
    _wechat = client


def wechat_client() -> WeChatClient:
    global _wechat
    if _wechat is None:
        _wechat = wechat_client_from_settings(get_settings(), redis=get_redis())
    return _wechat


async def close_clients() -> None:
    """Close this process's WeChat client (call on shutdown)."""
    global _wechat
    if _wechat is not None:
        await _wechat.aclose()
        _wechat = None


async def _ensure_wechat_device(person_id: int, openid: str) -> int:
    now = clock.now()
    device = await repository.device_by_token("wechat", openid)
    fields: dict[str, Any] = {"platform": "miniprogram", "installation_id": None,
                              "app_version": None, "locale": "zh-Hans"}
    if device is None:
        return await repository.insert_device(person_id, channel="wechat", token=openid,
                                              now=now, **fields)
    await repository.update_device(device.id, person_id=person_id, token=openid, now=now,
                                   **fields)
    return device.id


async def wechat_login(code: str) -> TokenPair:
    """`wx.login()` code → openid (jscode2session) → the bound person's tokens."""
    session = await wechat_client().code2session(code)
    identity = await repository.identity_by_openid(session.openid)
    if identity is None:
        log.info("push.wechat.login_unbound")
        raise WeChatNotBound("This WeChat user is not bound yet: log in with your phone number "
                             "and bind WeChat (POST /v1/me/wechat).")
    async with in_transaction():
        await repository.touch_identity(session.openid, clock.now())
        await _ensure_wechat_device(identity.person_id, session.openid)
    return await accounts.issue_person_tokens(identity.person_id, method="wechat")


async def bind_wechat(person_id: int, code: str) -> dict[str, Any]:
    """Bind the mini-program user behind `code` to this person (moving it from another
    account if it was bound there: whoever holds the WeChat identity decides)."""
    session = await wechat_client().code2session(code)
    async with in_transaction():
        previous = await repository.upsert_identity(session.openid, person_id=person_id,
                                                    unionid=session.unionid, now=clock.now())
        device_id = await _ensure_wechat_device(person_id, session.openid)
    moved = previous is not None and previous != person_id
    log.info("push.wechat.bound", extra={"person_id": person_id, "device_id": device_id,
                                         "moved": moved})
    return {"bound": True, "device_id": device_id, "moved_from_another_account": moved}


async def unbind_wechat(person_id: int) -> None:
    now = clock.now()
    async with in_transaction():
        for openid in await repository.delete_identities(person_id):
            device = await repository.device_by_token("wechat", openid)
            if device is not None:
                await repository.deactivate_devices([device.id], reason="unbound", now=now,
                                                    person_id=person_id)
    log.info("push.wechat.unbound", extra={"person_id": person_id})


def consent_view(row: ConsentRow) -> dict[str, Any]:
    return {"template_id": row.template_id, "remaining": row.remaining, "status": row.status,
            "accepted_total": row.accepted_total, "consumed_total": row.consumed_total,
            "updated_at": _iso(row.updated_at)}


async def _wechat_device(person_id: int, device_id: int | None) -> DeviceRow:
    """The mini-program device of this person's bound WeChat identity (the most recent one if
    several): consents belong to the openid the person bound, not to any mini-program row."""
    openids = await repository.openids_of(person_id)
    devices = [d for d in await repository.devices_of(person_id)
               if d.channel == "wechat" and d.token in openids and d.active
               and (device_id is None or d.id == device_id)]
    if not devices:
        if device_id is not None and openids:
            raise NotFound(f"No bound mini-program device {device_id} of yours.",
                           field="device_id")
        raise Conflict("Bind WeChat first (POST /v1/me/wechat).", field="device_id")
    return devices[0]


async def report_consents(person_id: int, data: ConsentInput) -> dict[str, Any]:
    """The mini-program reports `wx.requestSubscribeMessage` results: each accept is one more
    send allowed for that template."""
    device = await _wechat_device(person_id, data.device_id)
    async with in_transaction():
        await repository.add_consent_results(device.id, data.results, clock.now())
    log.info("push.wechat.consents", extra={
        "person_id": person_id, "device_id": device.id,
        "accepted": sum(r == "accept" for r in data.results.values()),
        "rejected": sum(r != "accept" for r in data.results.values()),
    })
    return await consents(person_id, device.id)


async def consents(person_id: int, device_id: int | None = None) -> dict[str, Any]:
    device = await _wechat_device(person_id, device_id)
    rows = await repository.consents_of([device.id])
    return {"device_id": device.id, "templates": dict(push_config().wechat_templates),
            "consents": [consent_view(r) for r in rows]}


# ------------------------------------------------------------------------ fan-out hooks


async def on_notice_published(notice_id: int, scope: RecipientScope) -> None:
    """Inside the publishing transaction, after the recipients are written."""
    notice = await Notice.get(id=notice_id)
    now = clock.now()
    urgent = notice.priority == "urgent"
    data = {"notice_id": str(notice_id)}
    if notice.action_url:
        data["url"] = notice.action_url
    message_id = await repository.ensure_message(
        dedupe_key=f"notice:{notice_id}", source="notice", source_id=notice_id,
        kind=notice.kind, urgent=urgent, title=notice.title,
        body=plain_excerpt(notice.body_html, limit=PUSH_BODY_CHARS), data=data, now=now)
    created = await _fan_out("notice", notice_id, scope, kind=notice.kind, urgent=urgent,
                             message_id=message_id)
    await events.enqueue(events.EVENTS_CHANNEL, {
        "type": "notice.published", "notice_id": notice_id, "matched_via": scope.matched_via,
        "batch": scope.batch, "recipients": scope.count, "deliveries": created,
    })


async def on_policy_matched(policy_id: int, scope: RecipientScope) -> None:
    policy = await Policy.get(id=policy_id)
    now = clock.now()
    message_id = await repository.ensure_message(
        dedupe_key=f"policy:{policy_id}", source="policy", source_id=policy_id, kind="policy",
        urgent=False, title=f"政策推送：{policy.title}",
        body=policy.benefit_summary[:PUSH_BODY_CHARS], data={"policy_id": str(policy_id)},
        now=now)
    created = await _fan_out("policy", policy_id, scope, kind="policy", urgent=False,
                             message_id=message_id)
    await events.enqueue(events.EVENTS_CHANNEL, {
        "type": "policy.matched", "policy_id": policy_id, "matched_via": scope.matched_via,
        "batch": scope.batch, "recipients": scope.count, "deliveries": created,
    })


async def _fan_out(source: str, source_id: int, scope: RecipientScope, *, kind: str,
                   urgent: bool, message_id: int) -> int:
    def where(sql: Sql) -> str:
        return scope.condition(sql, "r")

    created = await repository.insert_deliveries(Fanout(
        source=source, table=scope.table, alias="r", where=where,
        source_column=scope.owner_column, enterprise_column="enterprise_id", kind=kind,
        urgent=urgent, template_id=push_config().template_for(kind), message_id=message_id,
    ), now=clock.now())
    if created:
        await events.enqueue(events.WAKE_CHANNEL, {"source": source, "id": source_id})
    events.kick()
    log.info("push.deliveries.created", extra={
        "source": source, "source_id": source_id, "matched_via": scope.matched_via,
        "recipients": scope.count, "deliveries": created,
    })
    return created


# ------------------------------------------------------------------ stats and previews


def _empty_stats() -> dict[str, Any]:
    return {**{key: 0 for key in STAT_KEYS.values()}, "possibly_duplicate": 0,
            "skipped_reasons": {}}


async def delivery_stats(source: str, source_id: int) -> dict[str, dict[str, Any]]:
    """{channel: {delivered, failed, dead, skipped, pending, sending, possibly_duplicate,
    skipped_reasons}} for one notice or policy, derived from the delivery rows."""
    stats = {channel: _empty_stats() for channel in CHANNELS}
    for channel, status, reason, duplicate, count in await repository.delivery_counts(
            source, source_id):
        entry = stats.setdefault(channel, _empty_stats())
        if status in DELIVERY_STATUSES:
            entry[STAT_KEYS[status]] += count
        if duplicate:
            entry["possibly_duplicate"] += count
        if status == "skipped":
            reasons: dict[str, int] = entry["skipped_reasons"]
            reasons[reason or "unknown"] = reasons.get(reason or "unknown", 0) + count
    return stats


async def notice_delivery_stats(notice_id: int) -> Mapping[str, Any]:
    """The notice statistics' `delivery` block; empty when the notice reached no device."""
    stats = await delivery_stats("notice", notice_id)
    if not any(value for entry in stats.values() for key, value in entry.items()
               if key != "skipped_reasons"):
        return {}
    return stats


async def count_audience_devices(audience: Audience) -> int:
    """Active devices of active people in the audience's enterprises (the preview scales it
    when the audience is a sample)."""
    sql = new_sql()
    ids_sql = audience.ids_sql(sql)
    return await repository.count_devices(ids_sql, sql.params)


# ----------------------------------------------------------------------------- install


def install() -> None:
    """Register the push hooks with notices (idempotent: notices ignores repeats)."""
    notices_service.on_published(on_notice_published)
    notice_policies.on_policy_matched(on_policy_matched)
    notices_service.register_stats_extension(notice_delivery_stats)
    notices_service.register_device_counter(count_audience_devices)


install()
