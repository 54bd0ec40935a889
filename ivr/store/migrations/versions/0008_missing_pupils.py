"""missing pupils: outreaches, their contacts and events; a lease for the one process that places calls; school offices; contact teachers' phones

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:35:36.146346
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "outreaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("pupil_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("since", sa.Time(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marked_by", sa.String(length=200), nullable=False),
        sa.Column("alert_reason", sa.String(length=32), nullable=True),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=200), nullable=True),
        sa.Column("absence_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["absence_id"],
            ["absences.id"],
            name=op.f("fk_outreaches_absence_id_absences"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_outreaches_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pupil_id"],
            ["pupils.id"],
            name=op.f("fk_outreaches_pupil_id_pupils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_outreaches_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreaches")),
        sa.UniqueConstraint("pupil_id", "day", name=op.f("uq_outreaches_pupil_id_day")),
        sa.UniqueConstraint("reference", name=op.f("uq_outreaches_reference")),
    )
    with op.batch_alter_table("outreaches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outreaches_status_marked_at", ["status", "marked_at"], unique=False
        )

    op.create_table(
        "outreach_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outreach_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.Column("call_outcome", sa.String(length=16), nullable=True),
        sa.Column("calls_placed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("call_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recalled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reprompts", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["outreach_id"],
            ["outreaches.id"],
            name=op.f("fk_outreach_contacts_outreach_id_outreaches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_contacts")),
        sa.UniqueConstraint(
            "outreach_id", "recipient", name=op.f("uq_outreach_contacts_outreach_id_recipient")
        ),
    )
    with op.batch_alter_table("outreach_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outreach_contacts_call_sid"), ["call_sid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outreach_contacts_phone"), ["phone"], unique=False)

    op.create_table(
        "outreach_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outreach_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["outreach_id"],
            ["outreaches.id"],
            name=op.f("fk_outreach_events_outreach_id_outreaches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_events")),
    )
    with op.batch_alter_table("outreach_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outreach_events_outreach_id"), ["outreach_id"], unique=False
        )

    with op.batch_alter_table("contact_teachers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outreach_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_outreach_id"), ["outreach_id"], unique=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_outbox_kind_outreach_id_recipient_channel"),
            ["kind", "outreach_id", "recipient", "channel"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_outreach_id_outreaches"),
            "outreaches",
            ["outreach_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.add_column(sa.Column("office_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("office_phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.drop_column("office_phone")
        batch_op.drop_column("office_email")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_outreach_id_outreaches"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("uq_outbox_kind_outreach_id_recipient_channel"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_outreach_id"))
        batch_op.drop_column("outreach_id")

    with op.batch_alter_table("contact_teachers", schema=None) as batch_op:
        batch_op.drop_column("phone")

    with op.batch_alter_table("outreach_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_events_outreach_id"))

    op.drop_table("outreach_events")
    with op.batch_alter_table("outreach_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_contacts_phone"))
        batch_op.drop_index(batch_op.f("ix_outreach_contacts_call_sid"))

    op.drop_table("outreach_contacts")
    with op.batch_alter_table("outreaches", schema=None) as batch_op:
        batch_op.drop_index("ix_outreaches_status_marked_at")

    op.drop_table("outreaches")
    op.drop_table("leases")
