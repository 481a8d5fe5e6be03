"""enterprises: index on updated_at, for the re-match sweep

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

The worker re-runs matching for enterprises changed since its last sweep (a re-match that failed
after its profile change committed is repaired within a minute); that query reads enterprises by
updated_at.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_enterprises_updated_at", "enterprises", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_enterprises_updated_at", table_name="enterprises")
