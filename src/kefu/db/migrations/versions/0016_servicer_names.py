"""servicers: name, the display name an admin gives a servicer (WeCom's list has none)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 00:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servicers") as batch:
        batch.add_column(sa.Column("name", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("servicers") as batch:
        batch.drop_column("name")
