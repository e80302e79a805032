"""conversations.awaiting_reply_since (the no-reply notice and its list); routing_decisions.over_cap
(takes and transfers in the WeCom app past a servicer's cap, flagged for reports)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 16:40:00
"""

from alembic import op
import sqlalchemy as sa

import kefu.db.base


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("awaiting_reply_since", kefu.db.base.UTCDateTime(), nullable=True))
    with op.batch_alter_table("routing_decisions") as batch:
        batch.add_column(sa.Column("over_cap", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("routing_decisions") as batch:
        batch.drop_column("over_cap")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("awaiting_reply_since")
