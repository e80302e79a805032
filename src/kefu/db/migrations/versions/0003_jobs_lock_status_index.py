"""jobs: index (lock, status, id) instead of (lock, id)

A claim asks, for each due job, whether an earlier job of its lock is still todo or doing.
With (lock, id) that walked every finished job of the lock (the sync lock of a busy account
gathers thousands a day: 6 ms a claim at 50 000); with the status in the key it is two seeks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:30:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_lock_open")
        batch_op.create_index("ix_jobs_lock_status", ["lock", "status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_lock_status")
        batch_op.create_index("ix_jobs_lock_open", ["lock", "id"], unique=False)
