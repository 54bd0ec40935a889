"""Calls, the absences they report, and the staff feed's events."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ivr.domain.absence import AbsencePeriod
from ivr.domain.statuses import AbsenceStatus
from ivr.store.models.base import Base, UTCDateTime, utc_now
from ivr.store.models.roster import Pupil, School


class Call(Base):
    """One phone call: who called which line, in which language, what came of it, and how
    many personal numbers it tried that are in no roster (counted per caller, so that no
    one learns which children exist by trying numbers). Where the call is between two
    webhooks is not kept here: it travels in the webhook URLs (``ivr.voice.progress``)."""

    __tablename__ = "calls"
    __table_args__ = (Index("ix_calls_caller_started_at", "caller", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    caller: Mapped[str] = mapped_column(String(64))
    called: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default="in-progress")
    unknown_pupils: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    refused_reason: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)


class Absence(Base):
    """A reported absence. One call can report several (siblings); ``number_in_call`` keeps
    a repeated webhook from recording the same report twice."""

    __tablename__ = "absences"
    __table_args__ = (
        UniqueConstraint("call_sid", "number_in_call"),
        Index("ix_absences_school_dates", "school_id", "start_date", "end_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("pupils.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_date: Mapped[date] = mapped_column(Date)
    end_time: Mapped[time | None] = mapped_column(Time)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, index=True)
    caller: Mapped[str] = mapped_column(String(64))
    caller_is_guardian: Mapped[bool] = mapped_column(Boolean)
    call_sid: Mapped[str] = mapped_column(String(64))
    number_in_call: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=AbsenceStatus.ACTIVE)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))

    pupil: Mapped[Pupil] = relationship(lazy="raise")
    school: Mapped[School] = relationship(lazy="raise")

    @property
    def period(self) -> AbsencePeriod:
        return AbsencePeriod(self.start_date, self.start_time, self.end_date, self.end_time)


class FeedEvent(Base):
    """Something that happened to an absence (reported, acknowledged, cancelled), written in
    the same transaction. Staff systems read these in the order ``ivr.store.feed`` explains:
    by ``transaction_id`` (the writing PostgreSQL transaction; 0 on SQLite), then ``id``."""

    __tablename__ = "feed_events"
    __table_args__ = (Index("ix_feed_events_position", "transaction_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    absence_id: Mapped[int] = mapped_column(
        ForeignKey("absences.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    happened_at: Mapped[datetime] = mapped_column(UTCDateTime)
