"""Staff who sign in with their organisation's account: the organisation's OpenID Connect
provider, who may see which school (grants), the sessions of those signed in, and the
audit of what each person or token did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.store.models.base import Base, UTCDateTime, utc_now


class SignInProvider(Base):
    """An organisation's OpenID Connect provider (``ivr org oidc``). ``client_secret`` is
    sealed under a key derived from ``IVR_SECRET_KEY``: the line needs it whole to redeem a
    code, so it cannot be a hash."""

    __tablename__ = "sign_in_providers"

    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(300))
    client_secret: Mapped[str] = mapped_column(String(1000))
    # The claim that names the person: matched against grants and contact teachers.
    email_claim: Mapped[str] = mapped_column(String(100), default="email")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class StaffGrant(Base):
    """What a person (by email, lower case) may see at one school: the office and the
    principal the whole school, a teacher their own groups (``ivr staff grant``)."""

    __tablename__ = "staff_grants"
    __table_args__ = (UniqueConstraint("school_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class StaffSession(Base):
    """A person signed in to the page. Only a keyed hash of the cookie's value is stored;
    a session unused for ``IVR_STAFF_SESSION_MINUTES`` is over."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_organisation_id_email", "organisation_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what to which report or outreach: a person's email or a token's name,
    written in the same transaction as the change."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    who: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(40))
