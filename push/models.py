"""Tortoise models for devices, WeChat identities and consents, push preferences, messages,
deliveries, reminder sends, channel pauses and the event outbox.

Every schema change here needs an Alembic migration (migrations/versions/0003_push.py):
tests/test_migrations.py compares the migrated schema with the one these models generate.

Why the columns look the way they do:
- `deliveries` is the record of every push (pending → sending → sent | failed | dead | skipped).
  It is written set-based (INSERT … SELECT, up to a million rows per publish), so it carries
  plain ids instead of foreign keys (no per-row FK check) and as few indexes as the pipeline
  needs: the unique (source, source_id, device_id) that makes "never the same notice twice on
  one device" a database fact, and (status, channel, next_attempt_at) for claiming. For rows being sent
  `next_attempt_at` holds the lease expiry, so expired leases are found on the same index.
- `push_messages` holds the text once per notice / policy / reminder group; each delivery
  points at it, and the worker encodes it once per message, not once per device.
- `reminder_sends` is unique per (enterprise, reminder key, offset): the scheduler inserts with
  ON CONFLICT DO NOTHING, so several workers and restarts send each reminder exactly once.
- `push_channel_pauses` lives in PostgreSQL (not only Redis) so a QUOTA_EXCEEDED pause holds for
  every worker even across a Redis flush.
- `push_outbox` carries events written inside a transaction (e.g. `notice.published`) until a
  relay publishes them to Redis after the commit.
- `push_scheduler_marks` holds, per shared scheduler job, how far it has run and which run
  holds it now (a lease), so one worker does each interval's work for all (`push.sweeps`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from profiles.models import Person

CHANNELS = ("fcm", "wechat")
APP_PLATFORMS = ("android", "ios")
PLATFORMS = (*APP_PLATFORMS, "miniprogram")
# Preference kinds: the notice kinds (notices.models.NOTICE_KINDS) plus policy pushes.
PUSH_KINDS = ("notice", "warning", "reminder", "policy")
SOURCES = ("notice", "policy", "reminder")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dead", "skipped")
CONSENT_RESULTS = ("accept", "reject", "ban")


class Device(Model):
    """An app installation (FCM registration token) or a mini-program identity (openid)."""

    id = fields.BigIntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "entpage.Person", related_name="devices", on_delete=fields.CASCADE
    )
    person_id: int
    channel = fields.CharField(max_length=8)
    token = fields.CharField(max_length=512)
    platform = fields.CharField(max_length=16)
    installation_id = fields.CharField(max_length=64, null=True)
    app_version = fields.CharField(max_length=32, null=True)
    locale = fields.CharField(max_length=10, default="zh-Hans")
    active = fields.BooleanField(default=True)
    deactivated_reason = fields.CharField(max_length=32, null=True)
    last_seen_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "devices"
        unique_together = (("channel", "token"),)
        indexes = (("person", "active"),)


class WeChatIdentity(Model):
    """A mini-program user (openid) bound to a person: `POST /v1/auth/wechat` logs them in."""

    id = fields.BigIntField(primary_key=True)
    openid = fields.CharField(max_length=64, unique=True)
    unionid = fields.CharField(max_length=64, null=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "entpage.Person", related_name="wechat_identities", on_delete=fields.CASCADE
    )
    person_id: int
    bound_at = fields.DatetimeField()
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "wechat_identities"


class WeChatConsent(Model):
    """One-time subscription-message consents of one mini-program device for one template:
    each `accept` adds a credit, each send consumes one (conditional UPDATE … remaining > 0)."""

    id = fields.BigIntField(primary_key=True)
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "entpage.Device", related_name="consents", on_delete=fields.CASCADE
    )
    device_id: int
    template_id = fields.CharField(max_length=64)
    remaining = fields.IntField(default=0)
    # accept | reject | ban as last reported; refused after WeChat answered 43101.
    status = fields.CharField(max_length=12)
    accepted_total = fields.IntField(default=0)
    consumed_total = fields.IntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "wechat_consents"
        unique_together = (("device", "template_id"),)


class PushPreference(Model):
    """A person's switch for one kind of push on one channel; no row means on."""

    id = fields.BigIntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "entpage.Person", related_name="push_preferences", on_delete=fields.CASCADE
    )
    person_id: int
    kind = fields.CharField(max_length=16)
    channel = fields.CharField(max_length=8)
    enabled = fields.BooleanField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "push_preferences"
        unique_together = (("person", "kind", "channel"),)


class QuietHours(Model):
    """Non-urgent pushes inside [start, end) local time wait until the window ends."""

    id = fields.BigIntField(primary_key=True)
    person: fields.OneToOneRelation[Person] = fields.OneToOneField(
        "entpage.Person", related_name="quiet_hours", on_delete=fields.CASCADE
    )
    person_id: int
    start_minute = fields.SmallIntField()  # minutes after local midnight
    end_minute = fields.SmallIntField()
    timezone = fields.CharField(max_length=40, default="Asia/Shanghai")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "push_quiet_hours"


class PushMessage(Model):
    """The text of one push, shared by all its deliveries."""

    id = fields.BigIntField(primary_key=True)
    dedupe_key = fields.CharField(max_length=160, unique=True)
    source = fields.CharField(max_length=8)
    source_id = fields.BigIntField(null=True)
    kind = fields.CharField(max_length=16)
    urgent = fields.BooleanField(default=False)
    title = fields.CharField(max_length=200)
    body = fields.CharField(max_length=1000)
    data: Any = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()

    class Meta:
        table = "push_messages"


class Delivery(Model):
    """One push to one device. PostgreSQL holds the truth; Redis only wakes workers."""

    id = fields.BigIntField(primary_key=True)
    message_id = fields.BigIntField()
    source = fields.CharField(max_length=8)
    source_id = fields.BigIntField()
    enterprise_id = fields.BigIntField()
    person_id = fields.BigIntField()
    device_id = fields.BigIntField()
    channel = fields.CharField(max_length=8)
    urgent = fields.BooleanField(default=False)
    status = fields.CharField(max_length=8)
    reason = fields.CharField(max_length=40, null=True)
    attempts = fields.SmallIntField(default=0)
    # pending/failed: when the row may be claimed; sending: when its lease expires.
    next_attempt_at = fields.DatetimeField()
    claimed_by = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    possibly_duplicate = fields.BooleanField(default=False)
    provider_message_id = fields.CharField(max_length=200, null=True)
    last_error = fields.CharField(max_length=200, null=True)
    sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "deliveries"
        unique_together = (("source", "source_id", "device_id"),)
        indexes = (("status", "channel", "next_attempt_at"),)


class ReminderSend(Model):
    """A deadline reminder that was (or is being) pushed: at most one per (enterprise, key,
    offset), whatever the number of workers and restarts."""

    id = fields.BigIntField(primary_key=True)
    enterprise_id = fields.BigIntField()
    reminder_key = fields.CharField(max_length=200)
    offset_days = fields.SmallIntField()
    kind = fields.CharField(max_length=16)
    due_on = fields.DateField()
    message_id = fields.BigIntField(null=True)
    batch = fields.CharField(max_length=32)
    created_at = fields.DatetimeField()

    class Meta:
        table = "reminder_sends"
        unique_together = (("enterprise_id", "reminder_key", "offset_days"),)
        indexes = (("batch",),)


class ChannelPause(Model):
    """A whole channel held back (FCM QUOTA_EXCEEDED: at least 60 s) for every worker."""

    channel = fields.CharField(max_length=8, primary_key=True)
    paused_until = fields.DatetimeField()
    reason = fields.CharField(max_length=64)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "push_channel_pauses"


class OutboxEvent(Model):
    """An event written inside a transaction, published to Redis after the commit."""

    id = fields.BigIntField(primary_key=True)
    topic = fields.CharField(max_length=64)
    payload: Any = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "push_outbox"


class SchedulerMark(Model):
    """A scheduler job that one worker runs for all: done up to `done_until`; a run in progress
    holds `claimed_by` until `lease_until` (a crashed holder's lease simply expires)."""

    name = fields.CharField(max_length=32, primary_key=True)
    done_until = fields.DatetimeField()
    done_by = fields.CharField(max_length=64, null=True)
    claimed_by = fields.CharField(max_length=96, null=True)
    lease_until = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "push_scheduler_marks"
