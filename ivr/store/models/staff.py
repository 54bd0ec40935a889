"""Staff tokens, contact teachers and their daily digests."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ivr.store.models.base import Base, UTCDateTime, utc_now
from ivr.store.models.roster import School


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
