"""notices: notices, revisions, recipients, policies, policy matches, audit log, idempotency keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

notice_recipients and policy_matches carry plain ids (no foreign keys): per-row FK triggers
cost more than half of a 199,000-row recipient snapshot (see notices/models.py).

On PostgreSQL a trigger makes audit_log append-only (UPDATE and DELETE raise). TRUNCATE is
left to the database owner (the test suite empties tables with it); production roles should
not hold TRUNCATE on audit_log. On SQLite a trigger refuses UPDATE only, because the embedded
default empties tables with DELETE in tests and `entpage seed --reset`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.migration_types import boolean, fk, json_col, pk, ts

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        pk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(80), nullable=False),
        sa.Column("body_format", sa.String(8), nullable=False),
        sa.Column("body_source", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        boolean("ack_required"),
        sa.Column("action_url", sa.String(500)),
        ts("publish_at", nullable=True),
        ts("expire_at", nullable=True),
        json_col("rule", nullable=True),
        boolean("standing"),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("department", sa.String(100)),
        fk("created_by_id", "operators.id", ondelete="RESTRICT"),
        json_col("jurisdiction", nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        ts("published_at", nullable=True),
        ts("corrected_at", nullable=True),
        ts("recalled_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
    )
    op.create_index("ix_notices_expire_at", "notices", ["expire_at"])
    op.create_index("ix_notices_status_publish_at", "notices", ["status", "publish_at"])
    op.create_index("ix_notices_department_id", "notices", ["department", "id"])

    op.create_table(
        "notice_revisions",
        pk(),
        fk("notice_id", "notices.id"),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(80), nullable=False),
        sa.Column("body_format", sa.String(8), nullable=False),
        sa.Column("body_source", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("action_url", sa.String(500)),
        ts("expire_at", nullable=True),
        json_col("changes"),
        sa.Column("note", sa.String(200)),
        sa.Column("editor", sa.String(40), nullable=False),
        ts("created_at"),
        sa.UniqueConstraint("notice_id", "number", name="uq_notice_revisions_number"),
    )

    op.create_table(
        "notice_recipients",
        pk(),
        sa.Column("notice_id", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("matched_via", sa.String(8), nullable=False),
        sa.Column("match_batch", sa.String(32), nullable=False),
        ts("matched_at"),
        ts("read_at", nullable=True),
        sa.Column("read_by_person_id", sa.BigInteger()),
        ts("acked_at", nullable=True),
        sa.Column("acked_by_person_id", sa.BigInteger()),
        ts("archived_at", nullable=True),
        sa.UniqueConstraint("notice_id", "enterprise_id", name="uq_notice_recipients_pair"),
    )
    op.create_index(
        "ix_notice_recipients_enterprise", "notice_recipients", ["enterprise_id", "matched_at"]
    )

    op.create_table(
        "policies",
        pk(),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("title_hant", sa.String(120)),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("benefit_summary", sa.String(1000), nullable=False),
        sa.Column("benefit_summary_hant", sa.String(1000)),
        sa.Column("source_url", sa.String(500)),
        json_col("guide"),
        json_col("guide_hant", nullable=True),
        json_col("rule"),
        sa.Column("opens_on", sa.Date()),
        sa.Column("closes_on", sa.Date()),
        sa.Column("status", sa.String(12), nullable=False),
        json_col("jurisdiction", nullable=True),
        fk("created_by_id", "operators.id", ondelete="RESTRICT"),
        sa.Column("match_count", sa.Integer(), nullable=False),
        ts("published_at", nullable=True),
        ts("withdrawn_at", nullable=True),
        ts("created_at"),
        ts("updated_at"),
    )
    op.create_index("ix_policies_category", "policies", ["category"])
    op.create_index("ix_policies_status_published_at", "policies", ["status", "published_at"])

    op.create_table(
        "policy_matches",
        pk(),
        sa.Column("policy_id", sa.BigInteger(), nullable=False),
        sa.Column("enterprise_id", sa.BigInteger(), nullable=False),
        sa.Column("matched_via", sa.String(8), nullable=False),
        sa.Column("match_batch", sa.String(32), nullable=False),
        ts("matched_at"),
        sa.UniqueConstraint("policy_id", "enterprise_id", name="uq_policy_matches_pair"),
    )
    op.create_index(
        "ix_policy_matches_enterprise", "policy_matches", ["enterprise_id", "policy_id"]
    )

    op.create_table(
        "audit_log",
        pk(),
        ts("at"),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("actor_department", sa.String(100)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("object_type", sa.String(16), nullable=False),
        sa.Column("object_id", sa.String(40), nullable=False),
        json_col("summary"),
        sa.Column("ip", sa.String(45)),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("request_id", sa.String(64)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id", "id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "id"])

    op.create_table(
        "idempotency_keys",
        pk(),
        sa.Column("scope", sa.String(120), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        json_col("response", nullable=True),
        ts("created_at"),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    for table in (
        "idempotency_keys",
        "audit_log",
        "policy_matches",
        "policies",
        "notice_recipients",
        "notice_revisions",
        "notices",
    ):
        op.drop_table(table)
