"""A push message as each channel sends it: encoded once per message, reused for every device.

FCM: firebase-admin's `Message` (its own validation and wire encoding), shortened to the
4096-byte payload limit by the provider's `fit_to_payload_limit` (never splitting a character).
WeChat: the subscription-message template for the message's kind (`ENTPAGE_WECHAT_TEMPLATES`),
with `thing` values shortened to WeChat's 20 characters by the provider.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from firebase_admin import messaging

from core import clock
from push.config import PushConfig
from push.providers.fcm import FcmMessageTemplate, PayloadTooLargeError, fit_to_payload_limit
from push.providers.wechat import SubscribeMessageTemplate
from push.providers.wechat_template import TemplateDataInvalid

# The mini-program page a subscription message opens.
MINIPROGRAM_PAGES = {"notice": "pages/notice/detail", "policy": "pages/policy/detail",
                     "reminder": "pages/enterprise/page"}
KIND_LABELS = {"notice": "通知", "warning": "预警", "reminder": "提醒", "policy": "政策"}


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    source: str
    source_id: int | None
    kind: str
    urgent: bool
    title: str
    body: str
    data: Mapping[str, str]
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """One message ready to send; a template is None when the channel cannot carry it, and
    `problem` says why (deliveries on that channel are then dead, reason `rejected:<why>`)."""

    row: MessageRow
    template_id: str
    fcm: FcmMessageTemplate | None
    wechat: SubscribeMessageTemplate | None
    fcm_problem: str | None = None
    wechat_problem: str | None = None


def fcm_message(row: MessageRow) -> messaging.Message:
    data = {"type": row.source, "kind": row.kind, "message_id": str(row.id),
            "priority": "urgent" if row.urgent else "normal", **row.data}
    return messaging.Message(
        notification=messaging.Notification(title=row.title, body=row.body or None),
        data=data,
        android=messaging.AndroidConfig(
            priority="high" if row.urgent else "normal",
            # One notification per message on the device, even if sent twice.
            collapse_key=f"m{row.id}",
            notification=messaging.AndroidNotification(tag=f"m{row.id}"),
        ),
        apns=messaging.APNSConfig(
            headers={"apns-priority": "10" if row.urgent else "5",
                     "apns-collapse-id": f"m{row.id}"},
            payload=messaging.APNSPayload(aps=messaging.Aps(
                sound="default" if row.urgent else None, thread_id=row.kind)),
        ),
    )


def wechat_data(row: MessageRow) -> dict[str, str]:
    """thing1: title, thing2: summary, time3: when (Asia/Shanghai) — the layout of the
    templates registered for the mini-program."""
    stamp = row.created_at.astimezone(clock.SHANGHAI)
    return {
        "thing1": row.title or KIND_LABELS.get(row.kind, "通知"),
        "thing2": row.body or KIND_LABELS.get(row.kind, "通知"),
        "time3": stamp.strftime("%Y-%m-%d %H:%M"),
    }


def wechat_page(row: MessageRow) -> str:
    page = MINIPROGRAM_PAGES.get(row.source, "pages/index/index")
    return f"{page}?id={row.source_id}" if row.source_id is not None else page


def prepare(row: MessageRow, config: PushConfig) -> PreparedMessage:
    template_id = config.template_for(row.kind)
    fcm: FcmMessageTemplate | None = None
    fcm_problem = wechat_problem = None
    try:
        fcm = FcmMessageTemplate.from_message(fit_to_payload_limit(fcm_message(row)))
    except (PayloadTooLargeError, ValueError) as error:
        fcm_problem = f"payload:{type(error).__name__}"
    wechat: SubscribeMessageTemplate | None = None
    try:
        wechat = SubscribeMessageTemplate.build(template_id=template_id, data=wechat_data(row),
                                                page=wechat_page(row))
    except TemplateDataInvalid as error:
        wechat_problem = f"template:{error.field or 'data'}"
    return PreparedMessage(row, template_id, fcm, wechat, fcm_problem, wechat_problem)

