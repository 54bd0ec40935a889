"""The tables. Every query lives in the repository modules beside this one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ivr.domain.absence import AbsencePeriod
from ivr.domain.statuses import AbsenceStatus, MessageStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back with its time zone (SQLite has none)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give every stored moment a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's table, for the Core statements on the hot path."""
    return Base.metadata.tables[model.__tablename__]


class Organisation(Base):
    """A municipality or school owner: owns phone numbers, schools, pupils and guardians."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    # ISO 3166 code (SE, NO): how pupils are identified and dates keyed, and which public
    # holidays are not school days (``ivr.domain.countries``).
    country: Mapped[str] = mapped_column(String(2), default="SE", server_default="SE")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class InboundNumber(Base):
    """A number guardians call; it decides the organisation and the call's language, and
    may offer callers one other language on a key (``offer_language``)."""

    __tablename__ = "inbound_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    language: Mapped[str | None] = mapped_column(String(16))
    offer_language: Mapped[str | None] = mapped_column(String(16))


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # Days the school keeps a reported absence after it ends (None: the line's setting).
    absence_retention_days: Mapped[int | None] = mapped_column(Integer)
    # The office, told (with the contact teachers) when nobody knows where a pupil is.
    office_email: Mapped[str | None] = mapped_column(String(254))
    office_phone: Mapped[str | None] = mapped_column(String(32))


class Pupil(Base):
    """A pupil. The personal number is kept only as a keyed hash and a birth date."""

    __tablename__ = "pupils"
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id"),
        UniqueConstraint("organisation_id", "personal_number_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(64))
    personal_number_hash: Mapped[str] = mapped_column(String(64))
    birth_date: Mapped[date] = mapped_column(Date)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    group_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now, onupdate=utc_now)

    school: Mapped[School] = relationship(lazy="raise")
    guardians: Mapped[list[Guardian]] = relationship(
        secondary="pupil_guardians", lazy="raise", order_by="Guardian.id"
    )


class Guardian(Base):
    """A guardian, identified within the organisation by phone number, or email without one."""

    __tablename__ = "guardians"
    __table_args__ = (UniqueConstraint("organisation_id", "contact_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    contact_key: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str | None] = mapped_column(String(16))


class PupilGuardian(Base):
    __tablename__ = "pupil_guardians"

    pupil_id: Mapped[int] = mapped_column(
        ForeignKey("pupils.id", ondelete="CASCADE"), primary_key=True
    )
    guardian_id: Mapped[int] = mapped_column(
        ForeignKey("guardians.id", ondelete="CASCADE"), primary_key=True, index=True
    )


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
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="confirmation")
    absence_id: Mapped[int | None] = mapped_column(ForeignKey("absences.id", ondelete="CASCADE"))
    outreach_id: Mapped[int | None] = mapped_column(
        ForeignKey("outreaches.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(64))
    recipient_name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.PENDING)
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


class StaffToken(Base):
    """A secret that lets school staff read the absences of some schools. Only a keyed hash
    of it is stored; ``label`` says whose it is."""

    __tablename__ = "staff_tokens"
    __table_args__ = (UniqueConstraint("organisation_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    label: Mapped[str | None] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    schools: Mapped[list[School]] = relationship(
        secondary="staff_token_schools", lazy="raise", order_by="School.name"
    )


class StaffTokenSchool(Base):
    __tablename__ = "staff_token_schools"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("staff_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ContactTeacher(Base):
    """A group's contact teacher, who gets the group's daily digest of reported absences."""

    __tablename__ = "contact_teachers"
    __table_args__ = (UniqueConstraint("school_id", "group_name", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    group_name: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    # For the alert when nobody knows where a pupil of the group is.
    phone: Mapped[str | None] = mapped_column(String(32))


class Digest(Base):
    """A group's daily digest, queued: unique per school, group and day, so that however
    many dispatchers run, a group's teachers get one digest a day."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("school_id", "group_name", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    group_name: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)
    absences: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
