"""The outbox: every message the line sends, written with what it tells of."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ivr.domain.statuses import MessageStatus
from ivr.store.models.base import Base, UTCDateTime, utc_now
from ivr.store.models.reports import Absence


class OutboxMessage(Base):
    """A message to send: written with what it confirms, sent later by the dispatcher.

    ``status`` goes ``pending`` -> ``sending`` (claimed by a dispatcher until
    ``claimed_until``) -> ``sent`` (the provider took it) -> ``delivered``; or back to
    ``pending`` with a later ``next_attempt_at`` after a temporary failure; or ``failed``.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "absence_id", "recipient", "channel"),
        UniqueConstraint("kind", "outreach_id", "recipient", "channel"),
        # An absence event goes to an endpoint once (``ivr.services.webhooks``).
        UniqueConstraint("webhook_endpoint_id", "feed_event_id"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="confirmation")
    absence_id: Mapped[int | None] = mapped_column(ForeignKey("absences.id", ondelete="CASCADE"))
    outreach_id: Mapped[int | None] = mapped_column(
        ForeignKey("outreaches.id", ondelete="CASCADE"), index=True
    )
    webhook_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    feed_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("feed_events.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(64))
    recipient_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.PENDING)
    # Sent at once, past the rate limit and the queue (a missing pupil's alert to staff).
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    # A Twilio message SID, or an email's Message-ID (which can be long).
    provider_id: Mapped[str | None] = mapped_column(String(255), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)

    absence: Mapped[Absence | None] = relationship(lazy="raise")
