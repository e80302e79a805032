"""messages.body_deleted_at: a message whose body the retention setting deleted (the row, and so
every count, stays)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 16:50:00
"""

from alembic import op
import sqlalchemy as sa

import kefu.db.base


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("body_deleted_at", kefu.db.base.UTCDateTime(), nullable=True))
        batch.create_index("ix_messages_retention", ["body_deleted_at", "send_time"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_retention")
        batch.drop_column("body_deleted_at")
