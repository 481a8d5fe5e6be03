"""deliveries: the claim index leads with (status, channel)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

A worker claims `status IN ('failed', 'pending') AND channel IN (…) AND next_attempt_at <= now`.
On (status, next_attempt_at) alone, a worker that sends FCM only had to fetch and discard every
pending WeChat row ahead of the next FCM row, so claims slowed down as a large send progressed
(bench/push.py: 11,800 → 8,000 msg/s). With channel in the index the range holds only rows the
worker can take.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["status", "channel", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
