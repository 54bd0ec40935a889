"""absence webhooks: the endpoints organisations register, and each event's delivery to each in the outbox

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=300), nullable=True),
        sa.Column("cursor_transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("cursor_event_id", sa.BigInteger(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_count", sa.BigInteger(), nullable=False),
        sa.Column("retry_count", sa.BigInteger(), nullable=False),
        sa.Column("failed_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_webhook_endpoints_organisation_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoints_organisation_id"), ["organisation_id"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_endpoint_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("feed_event_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_feed_event_id"), ["feed_event_id"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_outbox_webhook_endpoint_id_feed_event_id"),
            ["webhook_endpoint_id", "feed_event_id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_webhook_endpoint_id_webhook_endpoints"),
            "webhook_endpoints",
            ["webhook_endpoint_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_feed_event_id_feed_events"),
            "feed_events",
            ["feed_event_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_feed_event_id_feed_events"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_webhook_endpoint_id_webhook_endpoints"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("uq_outbox_webhook_endpoint_id_feed_event_id"), type_="unique"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_feed_event_id"))
        batch_op.drop_column("feed_event_id")
        batch_op.drop_column("webhook_endpoint_id")

    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoints_organisation_id"))

    op.drop_table("webhook_endpoints")
