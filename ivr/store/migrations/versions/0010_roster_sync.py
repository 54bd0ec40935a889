"""roster sync: pupils who have left, protected identities, school units' ids, sync state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(sa.Column("left_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("protected_identity", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
    op.create_table(
        "roster_syncs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("last_full_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_delta_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_summary", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_roster_syncs_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_syncs")),
        sa.UniqueConstraint(
            "organisation_id", "source", name=op.f("uq_roster_syncs_organisation_id_source")
        ),
    )


def downgrade() -> None:
    op.drop_table("roster_syncs")
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.drop_column("external_id")
    with op.batch_alter_table("pupils", schema=None) as batch_op:
        batch_op.drop_column("protected_identity")
        batch_op.drop_column("left_at")
        batch_op.drop_column("active")
