"""a call's progress travels in the webhook URLs: the calls table keeps only its record

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("state")
        batch_op.drop_column("prompt_no")
        batch_op.drop_column("last_twiml")


def downgrade() -> None:
    # Calls recorded since have no state to restore: they get empty ones, as ended calls.
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.Text(), nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("prompt_no", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_twiml", sa.Text(), nullable=False, server_default=""))
