"""push_scheduler_marks: one re-match repair sweep per interval across all workers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Every worker running the scheduler used to sweep the same enterprises each minute (N workers,
N times the work). The sweep's "done until" mark and the lease of the run in progress now live
in one row per job: a conditional UPDATE lets exactly one worker take each interval, a failed
run leaves the mark where it was, and a crashed holder's lease expires.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.migration_types import ts

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_scheduler_marks",
        sa.Column("name", sa.String(32), primary_key=True),
        ts("done_until"),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("claimed_by", sa.String(96), nullable=True),
        ts("lease_until", nullable=True),
        ts("updated_at"),
    )


def downgrade() -> None:
    op.drop_table("push_scheduler_marks")
