"""The endpoints an organisation registers for its absence events (``ivr webhook add``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.store.models.base import Base, UTCDateTime, utc_now


class WebhookEndpoint(Base):
    """Where a school's own system takes absence events, signed with the endpoint's secret.

    The relay copies each feed event after ``(cursor_transaction_id, cursor_event_id)`` (a
    position in the feed, ``ivr.store.feed``) that the endpoint wants into the outbox, and
    moves the cursor in the same transaction. ``secret`` is the signing secret sealed under
    a key derived from ``IVR_SECRET_KEY``: the line needs it whole to sign, so it cannot be
    a hash. A disabled endpoint (its receiver answered 410 Gone) is sent nothing more."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    # The events it wants, comma-separated: recorded,cancelled,acknowledged.
    events: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    cursor_transaction_id: Mapped[int] = mapped_column(BigInteger, default=0)
    cursor_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # Every attempt's outcome: for `ivr webhook list` and the metrics, whichever process
    # made it.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_count: Mapped[int] = mapped_column(BigInteger, default=0)
    retry_count: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_count: Mapped[int] = mapped_column(BigInteger, default=0)
