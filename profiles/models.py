"""Tortoise models for enterprises and the people who act for them.

Every schema change here needs an Alembic migration: tests/test_migrations.py compares the
migrated schema with the one these models generate.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

ZONES = ("nansha", "qianhai", "hengqin", "other")
SIZES = ("large", "medium", "small", "micro")
STATUSES = ("active", "abnormal", "revoked", "cancelled")
CREDIT_LEVELS = ("A", "B", "M", "C", "D")
MEMBER_ROLES = ("legal_rep", "admin", "staff")
MATTER_STATES = (
    "submitted",
    "in_review",
    "needs_supplement",
    "approved",
    "rejected",
    "closed",
)


class Enterprise(Model):
    id = fields.BigIntField(primary_key=True)
    uscc = fields.CharField(max_length=18, unique=True)
    name = fields.CharField(max_length=200)
    zone = fields.CharField(max_length=16, db_index=True)
    region_code = fields.CharField(max_length=6, db_index=True)
    industry_code = fields.CharField(max_length=5, db_index=True)
    size = fields.CharField(max_length=8, null=True, db_index=True)
    # Integer yuan: exact, and compares numerically on SQLite too (DecimalField is text there).
    registered_capital_yuan = fields.BigIntField(null=True)
    established_on = fields.DateField(null=True)
    status = fields.CharField(max_length=16, default="active")
    credit_level = fields.CharField(max_length=2, null=True)
    legal_representative = fields.CharField(max_length=100, null=True)
    address = fields.CharField(max_length=300, null=True)
    last_annual_report_year = fields.SmallIntField(null=True)
    # Pre-2016 codes from registry feeds may fail the GB 32100 check digit; kept, flagged.
    legacy_uscc = fields.BooleanField(default=False)
    source_system = fields.CharField(max_length=32)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "enterprises"
        indexes = (("updated_at",),)  # the worker's re-match sweep (notices.page_sections)


class EnterpriseTag(Model):
    id = fields.BigIntField(primary_key=True)
    enterprise: fields.ForeignKeyRelation[Enterprise] = fields.ForeignKeyField(
        "entpage.Enterprise", related_name="tags", on_delete=fields.CASCADE
    )
    tag = fields.CharField(max_length=32)

    class Meta:
        table = "enterprise_tags"
        unique_together = (("enterprise", "tag"),)
        indexes = (("tag", "enterprise"),)


class Licence(Model):
    id = fields.BigIntField(primary_key=True)
    enterprise: fields.ForeignKeyRelation[Enterprise] = fields.ForeignKeyField(
        "entpage.Enterprise", related_name="licences", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=64)
    number = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    issuer = fields.CharField(max_length=100, null=True)
    issued_on = fields.DateField(null=True)
    expires_on = fields.DateField(null=True, db_index=True)

    class Meta:
        table = "licences"
        unique_together = (("enterprise", "kind", "number"),)


class Matter(Model):
    """A pending item (办件) synced from a department system, keyed by its own id there."""

    id = fields.BigIntField(primary_key=True)
    enterprise: fields.ForeignKeyRelation[Enterprise] = fields.ForeignKeyField(
        "entpage.Enterprise", related_name="matters", on_delete=fields.CASCADE
    )
    source_system = fields.CharField(max_length=32)
    external_id = fields.CharField(max_length=64)
    title = fields.CharField(max_length=200)
    state = fields.CharField(max_length=20)
    progress = fields.SmallIntField(null=True)
    progress_label = fields.CharField(max_length=100, null=True)
    due_on = fields.DateField(null=True)
    action_url = fields.CharField(max_length=500, null=True)
    # Ordering key from the source system: an older version arriving late never wins.
    source_updated_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "matters"
        unique_together = (("source_system", "external_id"),)
        indexes = (("enterprise", "state"),)


class Person(Model):
    id = fields.BigIntField(primary_key=True)
    phone = fields.CharField(max_length=20, unique=True)
    name = fields.CharField(max_length=100)
    password_hash = fields.CharField(max_length=200)
    locale = fields.CharField(max_length=10, default="zh-Hans")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "people"


class Membership(Model):
    id = fields.BigIntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "entpage.Person", related_name="memberships", on_delete=fields.CASCADE
    )
    enterprise: fields.ForeignKeyRelation[Enterprise] = fields.ForeignKeyField(
        "entpage.Enterprise", related_name="memberships", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "memberships"
        unique_together = (("person", "enterprise"),)
        indexes = (("enterprise", "person"),)


class Operator(Model):
    """Government-side accounts: admins and department publishers (jurisdiction is theirs)."""

    id = fields.BigIntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=100)
    password_hash = fields.CharField(max_length=200)
    role = fields.CharField(max_length=16)
    department = fields.CharField(max_length=100, null=True)
    jurisdiction_zones: list[str] = fields.JSONField(default=list)
    jurisdiction_regions: list[str] = fields.JSONField(default=list)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "operators"


class IntegrationClient(Model):
    """A department system (市场监管, 税务 …) with its own hashed API key, scoped to its source."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    source_system = fields.CharField(max_length=32, unique=True)
    key_prefix = fields.CharField(max_length=16, unique=True)
    key_hash = fields.CharField(max_length=64)
    scopes: list[str] = fields.JSONField(default=list)
    is_registry = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "integration_clients"


class RefreshToken(Model):
    """One link of a rotating refresh-token family; reuse of a used link revokes the family."""

    id = fields.BigIntField(primary_key=True)
    family_id = fields.UUIDField(db_index=True)
    subject = fields.CharField(max_length=40, db_index=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "refresh_tokens"
