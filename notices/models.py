"""Tortoise models for notices, policies, their recipients/matches, the audit log and
idempotency keys.

Every schema change here needs an Alembic migration (migrations/versions/0002_notices.py):
tests/test_migrations.py compares the migrated schema with the one these models generate.

Design notes (why the columns look the way they do):
- Recipient and match rows are the record of "who was told what, when". They are written
  set-based (INSERT … SELECT) and never deleted by any code path, including recall.
- Their notice/policy and enterprise columns are plain indexed ids, not foreign keys: a publish
  to 199,000 enterprises paid 2.6 s of its 4.3 s in per-row foreign-key triggers (measured on
  PostgreSQL 15). Integrity comes from how rows are written: the ids are selected from
  `enterprises` and from the notice locked by the same transaction, and notices, policies and
  enterprises are never deleted by the application (recall, withdrawal and cancellation are
  states). The push issue's `deliveries` table makes the same trade.
- `read_by_person_id` / `acked_by_person_id` are plain ids too: a receipt must keep naming its
  reader even if the person is later removed.
- `match_batch` stamps each INSERT … SELECT so the push pipeline can select exactly the rows
  one publish or one re-match produced (see `notices.service.RecipientScope`).
- `audit_log` has no foreign keys: nothing may ever cascade into it, and on PostgreSQL a
  trigger refuses UPDATE and DELETE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from profiles.models import Operator

NOTICE_KINDS = ("notice", "warning", "reminder")
PRIORITIES = ("normal", "urgent")
BODY_FORMATS = ("markdown", "html")
NOTICE_STATUSES = ("draft", "scheduled", "published", "recalled")
MATCHED_VIA = ("publish", "rematch")
POLICY_STATUSES = ("draft", "published", "withdrawn")


class Notice(Model):
    """A notice, warning or reminder. The row always holds the latest text; published text
    history lives in `notice_revisions`."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    title = fields.CharField(max_length=80)
    body_format = fields.CharField(max_length=8)
    body_source = fields.TextField()
    body_html = fields.TextField()
    priority = fields.CharField(max_length=8, default="normal")
    ack_required = fields.BooleanField(default=False)
    action_url = fields.CharField(max_length=500, null=True)
    publish_at = fields.DatetimeField(null=True)
    expire_at = fields.DatetimeField(null=True, db_index=True)
    rule: Any = fields.JSONField(null=True)
    # Standing notices also reach enterprises that qualify after publishing, until expiry.
    standing = fields.BooleanField(default=False)
    status = fields.CharField(max_length=12, default="draft")
    department = fields.CharField(max_length=100, null=True)
    created_by: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "entpage.Operator", related_name="notices", on_delete=fields.RESTRICT
    )
    created_by_id: int
    # {"zones": [...], "regions": [...]} of the publisher when it was published or scheduled;
    # null for admins (no restriction). Re-matching and scheduled publishing clip to it.
    jurisdiction: Any = fields.JSONField(null=True)
    revision = fields.IntField(default=0)  # 0 while a draft; 1 when published; +1 per correction
    recipient_count = fields.IntField(default=0)  # the snapshot written at publish time
    published_at = fields.DatetimeField(null=True)
    corrected_at = fields.DatetimeField(null=True)
    recalled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "notices"
        indexes = (("status", "publish_at"), ("department", "id"))


class NoticeRevision(Model):
    """One published text of a notice: number 1 at publish, then one per correction."""

    id = fields.BigIntField(primary_key=True)
    notice: fields.ForeignKeyRelation[Notice] = fields.ForeignKeyField(
        "entpage.Notice", related_name="revisions", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    title = fields.CharField(max_length=80)
    body_format = fields.CharField(max_length=8)
    body_source = fields.TextField()
    body_html = fields.TextField()
    priority = fields.CharField(max_length=8)
    action_url = fields.CharField(max_length=500, null=True)
    expire_at = fields.DatetimeField(null=True)
    changes: Any = fields.JSONField()  # {field: {"from": …, "to": …}} against the previous revision
    note = fields.CharField(max_length=200, null=True)
    editor = fields.CharField(max_length=40)  # principal subject
    created_at = fields.DatetimeField()

    class Meta:
        table = "notice_revisions"
        unique_together = (("notice", "number"),)


class NoticeRecipient(Model):
    """One enterprise a notice reached, with its per-enterprise read state."""

    id = fields.BigIntField(primary_key=True)
    # Plain ids, no foreign keys: see the module docstring (publish-time cost).
    notice_id = fields.BigIntField()
    enterprise_id = fields.BigIntField()
    matched_via = fields.CharField(max_length=8)
    match_batch = fields.CharField(max_length=32)
    matched_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)
    read_by_person_id = fields.BigIntField(null=True)
    acked_at = fields.DatetimeField(null=True)
    acked_by_person_id = fields.BigIntField(null=True)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notice_recipients"
        unique_together = (("notice_id", "enterprise_id"),)
        indexes = (("enterprise_id", "matched_at"),)


class Policy(Model):
    """A policy in the library (政策信息集装箱). zh-Hant fields are optional translations."""

    id = fields.BigIntField(primary_key=True)
    title = fields.CharField(max_length=120)
    title_hant = fields.CharField(max_length=120, null=True)
    category = fields.CharField(max_length=16, db_index=True)
    department = fields.CharField(max_length=100)
    benefit_summary = fields.CharField(max_length=1000)
    benefit_summary_hant = fields.CharField(max_length=1000, null=True)
    source_url = fields.CharField(max_length=500, null=True)
    guide: Any = fields.JSONField()  # {"who_qualifies", "how_to_apply", "contact"}
    guide_hant: Any = fields.JSONField(null=True)
    rule: Any = fields.JSONField()
    opens_on = fields.DateField(null=True)
    closes_on = fields.DateField(null=True)
    status = fields.CharField(max_length=12, default="draft")
    jurisdiction: Any = fields.JSONField(null=True)
    created_by: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "entpage.Operator", related_name="policies", on_delete=fields.RESTRICT
    )
    created_by_id: int
    match_count = fields.IntField(default=0)  # the snapshot written at publish time
    published_at = fields.DatetimeField(null=True)
    withdrawn_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "policies"
        indexes = (("status", "published_at"),)


class PolicyMatch(Model):
    """An enterprise a published policy applies to: at publish time or found by re-matching."""

    id = fields.BigIntField(primary_key=True)
    policy_id = fields.BigIntField()
    enterprise_id = fields.BigIntField()
    matched_via = fields.CharField(max_length=8)
    match_batch = fields.CharField(max_length=32)
    matched_at = fields.DatetimeField()

    class Meta:
        table = "policy_matches"
        unique_together = (("policy_id", "enterprise_id"),)
        indexes = (("enterprise_id", "policy_id"),)


class AuditEntry(Model):
    """Append-only record of every publisher and admin action and every kiosk hand-off
    (全程留痕); profiles writes through `core.audit`."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    actor = fields.CharField(max_length=40)  # principal subject, or system:<job>
    actor_department = fields.CharField(max_length=100, null=True)
    action = fields.CharField(max_length=40)
    object_type = fields.CharField(max_length=16)
    object_id = fields.CharField(max_length=40)
    summary: Any = fields.JSONField()
    ip = fields.CharField(max_length=45, null=True)
    user_agent = fields.CharField(max_length=300, null=True)
    request_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "audit_log"
        indexes = (("object_type", "object_id", "id"), ("actor", "id"))


class IdempotencyKey(Model):
    """The stored outcome of a request sent with an Idempotency-Key, per caller and use case."""

    id = fields.BigIntField(primary_key=True)
    scope = fields.CharField(max_length=120)
    key = fields.CharField(max_length=200)
    request_hash = fields.CharField(max_length=64)
    response: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_keys"
        unique_together = (("scope", "key"),)


