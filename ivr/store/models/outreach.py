"""Missing pupils' outreaches, and the leases of work one process does at a time."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ivr.store.models.base import Base, UTCDateTime


class Outreach(Base):
    """A pupil who is not at school and was not reported: the guardians are reached at
    once. One per pupil and day (``day`` in the organisation's time zone), so marking a
    pupil twice, by two people or two processes, starts one outreach."""

    __tablename__ = "outreaches"
    __table_args__ = (
        UniqueConstraint("pupil_id", "day"),
        Index("ix_outreaches_status_marked_at", "status", "marked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    since: Mapped[time | None] = mapped_column(Time)
    status: Mapped[str] = mapped_column(String(16))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    marked_by: Mapped[str] = mapped_column(String(200))
    # Set when the outreach ends or raises the alert.
    alert_reason: Mapped[str | None] = mapped_column(String(32))
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(200))
    absence_id: Mapped[int | None] = mapped_column(ForeignKey("absences.id", ondelete="SET NULL"))


class OutreachContact(Base):
    """One guardian (or, from 18, the pupil) reached by an outreach: by SMS and a call."""

    __tablename__ = "outreach_contacts"
    __table_args__ = (UniqueConstraint("outreach_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outreach_id: Mapped[int] = mapped_column(ForeignKey("outreaches.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(16))
    call_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    call_outcome: Mapped[str | None] = mapped_column(String(16))
    calls_placed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    call_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recalled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reprompts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OutreachEvent(Base):
    """A step of an outreach, as staff see it: who marked the pupil, each message and call
    with its outcome, who answered what, the alert, the end."""

    __tablename__ = "outreach_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    outreach_id: Mapped[int] = mapped_column(
        ForeignKey("outreaches.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500), default="")


class Lease(Base):
    """Work only one process may do at a time (placing outreach calls, paced): held by one
    process until ``until``, renewed while it works, taken over once it runs out."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
