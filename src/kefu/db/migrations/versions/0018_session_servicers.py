"""session_records: why Kefu asked to end, moves between servicers, survey sent; session_servicers

Sessions recorded before this revision keep the defaults (no end asked, no move, no survey): the
reports count these figures from the upgrade on.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 18:38:02
"""

from alembic import op
import sqlalchemy as sa

import kefu.db.base


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_servicers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("session_no", sa.Integer(), nullable=False),
        sa.Column("servicer_userid", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", kefu.db.base.UTCDateTime(), nullable=False),
        sa.Column("transferred_in", sa.Boolean(), nullable=False),
        sa.Column("transferred_out", sa.Boolean(), nullable=False),
        sa.Column("replied_at", kefu.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_session_servicers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_servicers")),
        sa.UniqueConstraint(
            "conversation_id",
            "session_no",
            "servicer_userid",
            name=op.f("uq_session_servicers_conversation_id_session_no_servicer_userid"),
        ),
    )
    with op.batch_alter_table("session_records") as batch:
        batch.add_column(sa.Column("end_requested", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("servicer_transfers", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("survey_sent", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("session_records") as batch:
        batch.drop_column("survey_sent")
        batch.drop_column("servicer_transfers")
        batch.drop_column("end_requested")
    op.drop_table("session_servicers")
