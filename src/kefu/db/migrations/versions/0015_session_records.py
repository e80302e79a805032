"""session_records: one row per session for reports (sessions, transfers, waits, first response)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 00:30:00
"""

from alembic import op
import sqlalchemy as sa

import kefu.db.base


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("session_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("started_at", kefu.db.base.UTCDateTime(), nullable=False),
        sa.Column("started_hour", sa.Integer(), nullable=False),
        sa.Column("transfer_reason", sa.String(length=32), nullable=True),
        sa.Column("queued_at", kefu.db.base.UTCDateTime(), nullable=True),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("taken", sa.Boolean(), nullable=False),
        sa.Column("servicer_userid", sa.String(length=64), nullable=True),
        sa.Column("assigned_at", kefu.db.base.UTCDateTime(), nullable=True),
        sa.Column("first_response_seconds", sa.Integer(), nullable=True),
        sa.Column("ended_at", kefu.db.base.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("ended_servicer_userid", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["kf_accounts.id"],
            name=op.f("fk_session_records_account_id_kf_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_session_records_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_records")),
        sa.UniqueConstraint(
            "conversation_id", "session_no", name=op.f("uq_session_records_conversation_id_session_no")
        ),
    )
    with op.batch_alter_table("session_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_records_account_started", ["account_id", "started_at"], unique=False
        )
        batch_op.create_index("ix_session_records_started", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("session_records", schema=None) as batch_op:
        batch_op.drop_index("ix_session_records_started")
        batch_op.drop_index("ix_session_records_account_started")
    op.drop_table("session_records")
