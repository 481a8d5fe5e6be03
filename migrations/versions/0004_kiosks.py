"""kiosks: self-service kiosks (自助终端) with hashed credentials

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Hand-off nonces, kiosk-session revocations and the live-stream logs live in Redis with TTLs;
only the kiosk registry is durable.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.migration_types import boolean, fk, pk, ts

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosks",
        pk(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("credential_prefix", sa.String(16), nullable=False, unique=True),
        sa.Column("credential_hash", sa.String(64), nullable=False),
        boolean("active"),
        fk("created_by_id", "operators.id", ondelete="RESTRICT"),
        ts("last_login_at", nullable=True),
        ts("created_at"),
    )


def downgrade() -> None:
    op.drop_table("kiosks")
