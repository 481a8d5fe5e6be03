"""Self-service kiosks (自助终端): registered devices in service halls.

Every change here needs an Alembic migration (migrations/versions/0004_kiosks.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from profiles.models import Operator


class Kiosk(Model):
    """A kiosk's credential (`kk_<prefix>_<secret>`) is shown once; only its SHA-256 is kept
    (high entropy, so a fast digest compared in constant time is the right cost)."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=100)
    location = fields.CharField(max_length=200)
    credential_prefix = fields.CharField(max_length=16, unique=True)
    credential_hash = fields.CharField(max_length=64)
    active = fields.BooleanField(default=True)
    created_by: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "entpage.Operator", related_name="kiosks", on_delete=fields.RESTRICT
    )
    created_by_id: int
    last_login_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "kiosks"
