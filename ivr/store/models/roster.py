"""Organisations, their numbers, schools, pupils and guardians."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ivr.store.models.base import Base, UTCDateTime, utc_now


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
    # The school unit's id in the school's own system (SS 12000), when synced from there.
    external_id: Mapped[str | None] = mapped_column(String(64))
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
    # A pupil who has left (no longer in the roster of a full import or sync) cannot be
    # reported and gets no messages; their past absences stay. Never deleted by a sync.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A protected identity (SS 12000 securityMarking other than "Ingen"): shown and spoken
    # by first name only, and never named to anyone but the pupil's own guardians.
    protected_identity: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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


class RosterSync(Base):
    """Where an organisation's roster comes from and how far it has been read: the moment
    the last successful run started is the next delta's ``meta.modified.after``."""

    __tablename__ = "roster_syncs"
    __table_args__ = (UniqueConstraint("organisation_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(500))
    last_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_delta_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the last run found (JSON), or why it wrote nothing.
    last_summary: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
