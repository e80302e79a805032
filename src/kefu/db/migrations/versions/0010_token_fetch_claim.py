"""connections.token_fetch_until: one process at a time fetches a connection's access token

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 17:00:00
"""

from alembic import op
import sqlalchemy as sa

import kefu.db.base


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(sa.Column("token_fetch_until", kefu.db.base.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("token_fetch_until")
