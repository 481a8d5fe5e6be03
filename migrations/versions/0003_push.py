"""push: devices, WeChat identities and consents, preferences, quiet hours, messages,
deliveries, reminder sends, channel pauses, event outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

`deliveries` carries plain ids (no foreign keys): a publish writes up to a million rows in one
INSERT … SELECT and should not pay a foreign-key check per row; devices are deactivated, never
deleted, and the worker treats a vanished device as a skip.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.migration_types import boolean, fk, json_col, pk, ts

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        pk(),
        fk("person_id", "people.id"),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("token", sa.String(512), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("installation_id", sa.String(64)),
        sa.Column("app_version", sa.String(32)),
        sa.Column("locale", sa.String(10), nullable=False),
        boolean("active"),
        sa.Column("deactivated_reason", sa.String(32)),
        ts("last_seen_at"),
        ts("created_at"),
        ts("updated_at"),
        sa.UniqueConstraint("channel", "token", name="uq_devices_channel_token"),
    )
    op.create_index("ix_devices_person_active", "devices", ["person_id", "active"])

    op.create_table(
        "wechat_identities",
        pk(),
        sa.Column("openid", sa.String(64), nullable=False, unique=True),
        sa.Column("unionid", sa.String(64)),
        fk("person_id", "people.id"),
        ts("bound_at"),
        ts("last_login_at", nullable=True),
    )

    op.create_table(
        "wechat_consents",
        pk(),
        fk("device_id", "devices.id"),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("accepted_total", sa.Integer(), nullable=False),
        sa.Column("consumed_total", sa.Integer(), nullable=False),
        ts("updated_at"),
        sa.UniqueConstraint("device_id", "template_id", name="uq_wechat_consents_template"),
    )

    op.create_table(
        "push_preferences",
        pk(),
        fk("person_id", "people.id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        boolean("enabled"),
        ts("updated_at"),
        sa.UniqueConstraint("person_id", "kind", "channel", name="uq_push_preferences_key"),
    )

    op.create_table(
        "push_quiet_hours",
        pk(),
        sa.Column("person_id", sa.BigInteger(), sa.ForeignKey("people.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("start_minute", sa.SmallInteger(), nullable=False),
        sa.Column("end_minute", sa.SmallInteger(), nullable=False),
        sa.Column("timezone", sa.String(40), nullable=False),
        ts("updated_at"),
    )

    op.create_table(
        "push_messages",
        pk(),
        sa.Column("dedupe_key", sa.String(160), nullable=False, unique=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("source_id", sa.BigInteger()),
        sa.Column("kind", sa.String(16), nullable=False),
        boolean("urgent"),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.String(1000), nullable=False),
        json_col("data"),
        ts("created_at"),
    )

    op.create_table(
        "deliveries",
        pk(),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        boolean("urgent"),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        ts("next_attempt_at"),
        sa.Column("claimed_by", sa.String(64)),
        ts("lease_until", nullable=True),
        boolean("possibly_duplicate"),
        sa.Column("provider_message_id", sa.String(200)),
        sa.Column("last_error", sa.String(200)),
        ts("sent_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
        sa.UniqueConstraint("source", "source_id", "device_id", name="uq_deliveries_once"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])

    op.create_table(
        "reminder_sends",
        pk(),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("reminder_key", sa.String(200), nullable=False),
        sa.Column("offset_days", sa.SmallInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("message_id", sa.BigInteger()),
        sa.Column("batch", sa.String(32), nullable=False),
        ts("created_at"),
        sa.UniqueConstraint("enterprise_id", "reminder_key", "offset_days",
                            name="uq_reminder_sends_once"),
    )
    op.create_index("ix_reminder_sends_batch", "reminder_sends", ["batch"])

    op.create_table(
        "push_channel_pauses",
        sa.Column("channel", sa.String(8), primary_key=True),
        ts("paused_until"),
        sa.Column("reason", sa.String(64), nullable=False),
        ts("updated_at"),
    )

    op.create_table(
        "push_outbox",
        pk(),
        sa.Column("topic", sa.String(64), nullable=False),
        json_col("payload"),
        ts("created_at"),
    )


def downgrade() -> None:
    for table in (
        "push_outbox",
        "push_channel_pauses",
        "reminder_sends",
        "deliveries",
        "push_messages",
        "push_quiet_hours",
        "push_preferences",
        "wechat_consents",
        "wechat_identities",
        "devices",
    ):
        op.drop_table(table)
