"""console_notices: a console POST's result for the page it redirects to (Post/Redirect/Get)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 15:54:43
"""

from alembic import op
import sqlalchemy as sa

import kefu.db.base


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("created_at", kefu.db.base.UTCDateTime(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["console_sessions.id"],
            name=op.f("fk_console_notices_session_id_console_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_console_notices_key")),
    )
    with op.batch_alter_table("console_notices") as batch:
        batch.create_index(batch.f("ix_console_notices_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("console_notices") as batch:
        batch.drop_index(batch.f("ix_console_notices_session_id"))
    op.drop_table("console_notices")
