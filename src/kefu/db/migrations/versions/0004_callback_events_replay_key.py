"""callback_events: replay_key, unique per connection

The same signed callback (signature, timestamp, nonce) seen again within the timestamp window
is a replay: answered `success`, nothing stored. The key lives in the database so that the
check survives a restart and holds across processes. Rows stored before have none (NULL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replay_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_callback_events_connection_id_replay_key"), ["connection_id", "replay_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_callback_events_connection_id_replay_key"), type_="unique")
        batch_op.drop_column("replay_key")
