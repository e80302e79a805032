"""worker_heartbeats (a worker's sign of life for /readyz) and an index on conversations for
/metrics (sessions by state, the pool per account)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 17:15:00
"""

from alembic import op
import sqlalchemy as sa

import kefu.db.base


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", kefu.db.base.UTCDateTime(), nullable=False),
        sa.Column("seen_at", kefu.db.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_heartbeats")),
    )
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.create_index(batch.f("ix_worker_heartbeats_seen_at"), ["seen_at"], unique=False)
    with op.batch_alter_table("conversations") as batch:
        batch.create_index(
            "ix_conversations_state_account", ["wecom_state", "account_id", "queued_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_state_account")
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.drop_index(batch.f("ix_worker_heartbeats_seen_at"))
    op.drop_table("worker_heartbeats")
