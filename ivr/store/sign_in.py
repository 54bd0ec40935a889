"""Staff who sign in with their organisation's account: the organisation's provider, the
grants, the sessions, and what a signed-in person may see (``StaffAccess``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ivr.store.models import (
    Absence,
    ContactTeacher,
    Organisation,
    Outreach,
    Pupil,
    School,
    SignInProvider,
    StaffGrant,
    StaffSession,
)
from ivr.store.staff import StaffAccess

ROLES = ("office", "principal", "teacher")
WHOLE_SCHOOL = frozenset({"office", "principal"})

# --- providers -------------------------------------------------------------------------------


def set_provider(
    session: Session,
    organisation_id: int,
    issuer: str,
    client_id: str,
    sealed_secret: str,
    email_claim: str,
    now: datetime,
) -> None:
    provider = session.get(SignInProvider, organisation_id)
    if provider is None:
        provider = SignInProvider(organisation_id=organisation_id)
        session.add(provider)
    provider.issuer, provider.client_id = issuer, client_id
    provider.client_secret, provider.email_claim = sealed_secret, email_claim
    provider.updated_at = now
    session.flush()


def find_provider(session: Session, organisation_id: int) -> SignInProvider | None:
    return session.get(SignInProvider, organisation_id)


def has_provider(session: Session, organisation_id: int) -> bool:
    return session.get(SignInProvider, organisation_id) is not None


def providers(session: Session) -> list[tuple[int, str]]:
    """``(organisation id, name)`` of every organisation whose staff sign in, by name."""
    rows = session.execute(
        select(Organisation.id, Organisation.name)
        .join(SignInProvider, SignInProvider.organisation_id == Organisation.id)
        .order_by(Organisation.name)
    )
    return [(id_, name) for id_, name in rows]


# --- grants ----------------------------------------------------------------------------------


def grant(
    session: Session, organisation_id: int, school_id: int, email: str, role: str, now: datetime
) -> bool:
    """Give ``email`` the role at the school; True if new, False if the role changed or
    was the same."""
    email = email.strip().lower()
    found = session.scalar(
        select(StaffGrant).where(StaffGrant.school_id == school_id, StaffGrant.email == email)
    )
    if found is not None:
        found.role = role
        session.flush()
        return False
    session.add(
        StaffGrant(
            organisation_id=organisation_id,
            school_id=school_id,
            email=email,
            role=role,
            created_at=now,
        )
    )
    session.flush()
    return True


def revoke_grant(
    session: Session, organisation_id: int, school_ids: Collection[int] | None, email: str
) -> int:
    """Remove the person's grants at the schools (None: all of the organisation's) and end
    every session of theirs in the organisation at once (they sign in again, with what is
    left). The number of grants removed."""
    email = email.strip().lower()
    condition = (StaffGrant.organisation_id == organisation_id) & (StaffGrant.email == email)
    if school_ids is not None:
        condition &= StaffGrant.school_id.in_(school_ids)
    result = session.execute(delete(StaffGrant).where(condition))
    end_sessions_of(session, organisation_id, email)
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_sessions_of(session: Session, organisation_id: int, email: str) -> None:
    session.execute(
        delete(StaffSession).where(
            StaffSession.organisation_id == organisation_id, StaffSession.email == email
        )
    )


@dataclass(frozen=True, slots=True)
class GrantRow:
    organisation: str
    school: str
    email: str
    role: str
    created_at: datetime


def list_grants(session: Session) -> list[GrantRow]:
    rows = session.execute(
        select(
            Organisation.name, School.name, StaffGrant.email, StaffGrant.role, StaffGrant.created_at
        )
        .join(School, School.id == StaffGrant.school_id)
        .join(Organisation, Organisation.id == StaffGrant.organisation_id)
        .order_by(Organisation.name, School.name, StaffGrant.email)
    )
    return [GrantRow(*row) for row in rows]


# --- what a person sees ----------------------------------------------------------------------


def person_access(
    session: Session, organisation_id: int, email: str, session_hash: str = ""
) -> StaffAccess | None:
    """What ``email`` may see in the organisation, from the grants and the contact
    teachers; None if nothing."""
    email = email.strip().lower()
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or not email:
        return None
    roles: dict[int, set[str]] = {}
    for school_id, role in session.execute(
        select(StaffGrant.school_id, StaffGrant.role).where(
            StaffGrant.organisation_id == organisation_id, StaffGrant.email == email
        )
    ):
        roles.setdefault(school_id, set()).add(role)
    taught: dict[int, set[str]] = {}
    for school_id, group in session.execute(
        select(ContactTeacher.school_id, ContactTeacher.group_name)
        .join(School, School.id == ContactTeacher.school_id)
        .where(School.organisation_id == organisation_id, ContactTeacher.email == email)
    ):
        taught.setdefault(school_id, set()).add(group)
    whole = {school_id for school_id, held in roles.items() if held & WHOLE_SCHOOL}
    groups = {
        school_id: frozenset(found) for school_id, found in taught.items() if school_id not in whole
    }
    school_ids = whole | groups.keys()
    if not school_ids:
        return None
    names = dict(
        session.execute(
            select(School.id, School.name).where(School.id.in_(school_ids)).order_by(School.name)
        ).all()
    )
    return StaffAccess(
        token_id=0,
        label=None,
        token_hash=session_hash,
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        timezone=organisation.timezone,
        language=organisation.language,
        country=organisation.country,
        schools={id_: names[id_] for id_ in sorted(names, key=names.__getitem__)},
        groups=groups,
        person=email,
    )


def pupils_seen(session: Session, access: StaffAccess) -> set[int] | None:
    """The ids of the pupils in a teacher's groups; None when the access is to whole
    schools."""
    if access.whole_schools:
        return None
    rows = session.execute(
        select(Pupil.id, Pupil.school_id, Pupil.group_name).where(
            Pupil.school_id.in_(list(access.schools))
        )
    )
    return {id_ for id_, school_id, group in rows if access.sees(school_id, group)}


# --- sessions --------------------------------------------------------------------------------


def open_session(
    session: Session, organisation_id: int, email: str, name: str, session_hash: str, now: datetime
) -> None:
    session.add(
        StaffSession(
            session_hash=session_hash,
            organisation_id=organisation_id,
            email=email.strip().lower(),
            name=name[:200],
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()


def session_access(
    session: Session, session_hash: str, now: datetime, idle: timedelta
) -> StaffAccess | None:
    """The access of a live session, which is kept alive; None for an unknown session, one
    idle too long (then removed), or a person with nothing left to see."""
    found = session.scalar(select(StaffSession).where(StaffSession.session_hash == session_hash))
    if found is None:
        return None
    if found.last_seen_at + idle < now:
        session.delete(found)
        return None
    access = person_access(session, found.organisation_id, found.email, session_hash)
    if access is None:
        session.delete(found)
        return None
    if now - found.last_seen_at > timedelta(minutes=1):
        found.last_seen_at = now
    return access


def end_session(session: Session, session_hash: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.session_hash == session_hash))


def absence_place(session: Session, absence_id: int) -> tuple[int, str]:
    """The school and group of an absence's pupil."""
    return _place(session, Absence, absence_id)


def outreach_place(session: Session, outreach_id: int) -> tuple[int, str]:
    """The school and group of an outreach's pupil."""
    return _place(session, Outreach, outreach_id)


def _place(session: Session, kind: type[Absence] | type[Outreach], row_id: int) -> tuple[int, str]:
    row = session.execute(
        select(kind.school_id, Pupil.group_name)
        .join(Pupil, Pupil.id == kind.pupil_id)
        .where(kind.id == row_id)
    ).one()
    return row[0], row[1]


def pupil_groups(session: Session, school_id: int, external_ids: Collection[str]) -> dict[str, str]:
    """The groups of pupils of a school by their roster ids."""
    rows = session.execute(
        select(Pupil.external_id, Pupil.group_name).where(
            Pupil.school_id == school_id, Pupil.external_id.in_(list(external_ids))
        )
    )
    return {str(external_id): group for external_id, group in rows}


def delete_idle_sessions(session: Session, before: datetime) -> int:
    """Sessions last used before ``before``: over already, forgotten now."""
    result = session.execute(delete(StaffSession).where(StaffSession.last_seen_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
