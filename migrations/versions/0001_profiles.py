"""profiles: enterprises, tags, licences, matters, people, memberships, operators, integrations,
refresh tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.migration_types import boolean, fk, json_col, pk, ts, uuid_col

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enterprises",
        pk(),
        sa.Column("uscc", sa.String(18), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("zone", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("industry_code", sa.String(5), nullable=False),
        sa.Column("size", sa.String(8)),
        sa.Column("registered_capital_yuan", sa.BigInteger()),
        sa.Column("established_on", sa.Date()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("credit_level", sa.String(2)),
        sa.Column("legal_representative", sa.String(100)),
        sa.Column("address", sa.String(300)),
        sa.Column("last_annual_report_year", sa.SmallInteger()),
        boolean("legacy_uscc"),
        sa.Column("source_system", sa.String(32), nullable=False),
        ts("created_at"),
        ts("updated_at"),
    )
    for column in ("zone", "size"):
        op.create_index(f"ix_enterprises_{column}", "enterprises", [column])
    # Targeting matches these by prefix (LIKE 'C39%'); under a non-C collation PostgreSQL only
    # uses a pattern_ops index for that. Equality lookups use it too.
    for column in ("region_code", "industry_code"):
        op.create_index(f"ix_enterprises_{column}", "enterprises", [column],
                        postgresql_ops={column: "varchar_pattern_ops"})

    op.create_table(
        "enterprise_tags",
        pk(),
        sa.Column("tag", sa.String(32), nullable=False),
        fk("enterprise_id", "enterprises.id"),
        sa.UniqueConstraint("enterprise_id", "tag", name="uq_enterprise_tags_enterprise_tag"),
    )
    op.create_index("ix_enterprise_tags_tag", "enterprise_tags", ["tag", "enterprise_id"])

    op.create_table(
        "licences",
        pk(),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(100)),
        sa.Column("issued_on", sa.Date()),
        sa.Column("expires_on", sa.Date()),
        fk("enterprise_id", "enterprises.id"),
        sa.UniqueConstraint("enterprise_id", "kind", "number", name="uq_licences_number"),
    )
    op.create_index("ix_licences_expires_on", "licences", ["expires_on"])

    op.create_table(
        "matters",
        pk(),
        sa.Column("source_system", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("progress", sa.SmallInteger()),
        sa.Column("progress_label", sa.String(100)),
        sa.Column("due_on", sa.Date()),
        sa.Column("action_url", sa.String(500)),
        ts("source_updated_at"),
        ts("created_at"),
        ts("updated_at"),
        fk("enterprise_id", "enterprises.id"),
        sa.UniqueConstraint("source_system", "external_id", name="uq_matters_source"),
    )
    op.create_index("ix_matters_enterprise_state", "matters", ["enterprise_id", "state"])

    op.create_table(
        "people",
        pk(),
        sa.Column("phone", sa.String(20), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("locale", sa.String(10), nullable=False),
        boolean("active"),
        ts("created_at"),
    )

    op.create_table(
        "memberships",
        pk(),
        sa.Column("role", sa.String(16), nullable=False),
        ts("created_at"),
        fk("enterprise_id", "enterprises.id"),
        fk("person_id", "people.id"),
        sa.UniqueConstraint("person_id", "enterprise_id", name="uq_memberships_person_enterprise"),
    )
    op.create_index(
        "ix_memberships_enterprise_person", "memberships", ["enterprise_id", "person_id"]
    )

    op.create_table(
        "operators",
        pk(),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("department", sa.String(100)),
        json_col("jurisdiction_zones"),
        json_col("jurisdiction_regions"),
        boolean("active"),
        ts("created_at"),
    )

    op.create_table(
        "integration_clients",
        pk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("source_system", sa.String(32), nullable=False, unique=True),
        sa.Column("key_prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        json_col("scopes"),
        boolean("is_registry"),
        boolean("active"),
        ts("created_at"),
    )

    op.create_table(
        "refresh_tokens",
        pk(),
        uuid_col("family_id"),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        ts("expires_at"),
        ts("used_at", nullable=True),
        ts("revoked_at", nullable=True),
        ts("created_at"),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_subject", "refresh_tokens", ["subject"])


def downgrade() -> None:
    for table in (
        "refresh_tokens",
        "integration_clients",
        "operators",
        "memberships",
        "people",
        "matters",
        "licences",
        "enterprise_tags",
        "enterprises",
    ):
        op.drop_table(table)
