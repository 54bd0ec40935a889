"""Missing pupils' outreaches: who was marked, whom the line reaches and how, what came of it.

An outreach is unique per pupil and day: ``start_outreach`` inserts with ``ON CONFLICT DO
NOTHING``, so when two people (or two processes) mark the same pupil at once the database
keeps one, and the other finds it. A status moves only from the statuses it may move from
(``move``), so an answer, the alert and the arrival each happen once.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.domain.statuses import CallOutcome, OutreachStatus
from ivr.store.absences import pupils_reported_at
from ivr.store.models import (
    ContactTeacher,
    Guardian,
    Organisation,
    Outreach,
    OutreachContact,
    OutreachEvent,
    Pupil,
    PupilGuardian,
    School,
)

_DIALECTS: dict[str, Any] = {"sqlite": sqlite, "postgresql": postgresql}
# No 0/O, 1/I/L or U: a reference is read aloud and typed by people.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
UNANSWERED = frozenset(
    {CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.FAILED, CallOutcome.VOICEMAIL}
)


@dataclass(frozen=True, slots=True)
class Contact:
    key: str
    name: str
    phone: str | None
    email: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class MarkedPupil:
    """A pupil as an outreach needs them: who, where, and whom to reach."""

    id: int
    external_id: str
    school_id: int
    school: str
    first_name: str
    last_name: str
    group: str
    birth_date: date
    own: Contact
    guardians: list[Contact] = field(default_factory=list)


def pupils_of_schools(
    session: Session, school_ids: Collection[int], external_ids: Collection[str]
) -> dict[str, MarkedPupil]:
    """The pupils with these roster ids in these schools, by roster id."""
    rows = session.execute(
        select(Pupil, School.name)
        .join(School, School.id == Pupil.school_id)
        .where(
            Pupil.school_id.in_(school_ids),
            Pupil.external_id.in_(external_ids),
            Pupil.active.is_(True),
        )
    ).all()
    guardians = _guardians_of(session, [pupil.id for pupil, _school in rows])
    return {
        pupil.external_id: MarkedPupil(
            pupil.id,
            pupil.external_id,
            pupil.school_id,
            school,
            pupil.first_name,
            pupil.last_name,
            pupil.group_name,
            pupil.birth_date,
            Contact(
                f"pupil:{pupil.id}",
                f"{pupil.first_name} {pupil.last_name}",
                pupil.phone,
                pupil.email,
                None,
            ),
            guardians.get(pupil.id, []),
        )
        for pupil, school in rows
    }


def _guardians_of(session: Session, pupil_ids: Sequence[int]) -> dict[int, list[Contact]]:
    found: dict[int, list[Contact]] = {}
    if not pupil_ids:
        return found
    rows = session.execute(
        select(PupilGuardian.pupil_id, Guardian)
        .join(Guardian, Guardian.id == PupilGuardian.guardian_id)
        .where(PupilGuardian.pupil_id.in_(pupil_ids))
        .order_by(Guardian.id)
    )
    for pupil_id, guardian in rows:
        found.setdefault(pupil_id, []).append(
            Contact(
                f"guardian:{guardian.id}",
                guardian.name,
                guardian.phone,
                guardian.email,
                guardian.language,
            )
        )
    return found


def reported_at(session: Session, pupil_ids: Collection[int], day: date, moment: time) -> set[int]:
    """The pupils with an active report covering ``moment`` of ``day``."""
    if not pupil_ids:
        return set()
    return pupils_reported_at(session, Pupil.id.in_(pupil_ids), day, moment)


def start_outreach(
    session: Session,
    *,
    organisation_id: int,
    pupil: MarkedPupil,
    day: date,
    since: time | None,
    marked_at: datetime,
    marked_by: str,
) -> tuple[int, bool]:
    """The pupil's outreach of ``day``, and whether this call started it."""
    table = Outreach.__table__
    for _attempt in range(5):
        values = {
            "reference": "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8)),
            "organisation_id": organisation_id,
            "school_id": pupil.school_id,
            "pupil_id": pupil.id,
            "day": day,
            "since": since,
            "status": OutreachStatus.ACTIVE,
            "marked_at": marked_at,
            "marked_by": marked_by,
        }
        dialect = _DIALECTS[session.get_bind().dialect.name]
        inserted = session.scalar(
            dialect.insert(table)
            .values(values)
            .on_conflict_do_nothing(index_elements=["pupil_id", "day"])
            .returning(table.c.id)
        )
        if inserted is not None:
            return int(inserted), True
        existing = session.scalar(
            select(Outreach.id).where(Outreach.pupil_id == pupil.id, Outreach.day == day)
        )
        if existing is not None:
            return int(existing), False
    raise RuntimeError("could not draw a free outreach reference")


def add_contacts(
    session: Session, outreach_id: int, contacts: Sequence[Contact], language: str
) -> None:
    for contact in contacts:
        session.add(
            OutreachContact(
                outreach_id=outreach_id,
                recipient=contact.key,
                name=contact.name,
                phone=contact.phone,
                language=contact.language or language,
                call_outcome=CallOutcome.QUEUED if contact.phone else None,
                calls_placed=0,
                recalled=False,
                reprompts=0,
            )
        )
    session.flush()


def add_event(
    session: Session, outreach_id: int, at: datetime, kind: str, detail: str = ""
) -> None:
    session.add(OutreachEvent(outreach_id=outreach_id, at=at, kind=kind, detail=detail[:500]))


def move(
    session: Session,
    outreach_id: int,
    from_statuses: Collection[str],
    to_status: str,
    **values: Any,
) -> bool:
    """Move the outreach to ``to_status`` if it is in one of ``from_statuses``; whether
    this call moved it (of two at once, one does)."""
    result = session.execute(
        update(Outreach)
        .where(Outreach.id == outreach_id, Outreach.status.in_(list(from_statuses)))
        .values(status=to_status, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class OutreachView:
    """An outreach with everything staff and the senders need of it."""

    outreach: Outreach
    pupil: Pupil
    school: School
    organisation: Organisation
    contacts: list[OutreachContact]
    events: list[OutreachEvent]


def load_outreaches(session: Session, outreach_ids: Sequence[int]) -> list[OutreachView]:
    if not outreach_ids:
        return []
    session.flush()  # what this transaction did so far is part of the view
    rows = session.execute(
        select(Outreach, Pupil, School, Organisation)
        .join(Pupil, Pupil.id == Outreach.pupil_id)
        .join(School, School.id == Outreach.school_id)
        .join(Organisation, Organisation.id == Outreach.organisation_id)
        .where(Outreach.id.in_(outreach_ids))
        .execution_options(populate_existing=True)
    ).all()
    contacts: dict[int, list[OutreachContact]] = {}
    for contact in session.scalars(
        select(OutreachContact)
        .where(OutreachContact.outreach_id.in_(outreach_ids))
        .order_by(OutreachContact.id)
        .execution_options(populate_existing=True)
    ):
        contacts.setdefault(contact.outreach_id, []).append(contact)
    events: dict[int, list[OutreachEvent]] = {}
    for event in session.scalars(
        select(OutreachEvent)
        .where(OutreachEvent.outreach_id.in_(outreach_ids))
        .order_by(OutreachEvent.at, OutreachEvent.id)
    ):
        events.setdefault(event.outreach_id, []).append(event)
    by_id = {
        row[0].id: OutreachView(*row, contacts.get(row[0].id, []), events.get(row[0].id, []))
        for row in rows
    }
    return [by_id[outreach_id] for outreach_id in outreach_ids if outreach_id in by_id]


def outreaches_of(
    session: Session, school_ids: Collection[int], day: date | None = None
) -> list[int]:
    """The outreaches of these schools (of ``day``), newest first."""
    query = select(Outreach.id).where(Outreach.school_id.in_(school_ids))
    if day is not None:
        query = query.where(Outreach.day == day)
    return list(session.scalars(query.order_by(Outreach.marked_at.desc(), Outreach.id.desc())))


def find_outreach(session: Session, school_ids: Collection[int], reference: str) -> int | None:
    return session.scalar(
        select(Outreach.id).where(
            Outreach.school_id.in_(school_ids), Outreach.reference == reference.strip().upper()
        )
    )


def contact(session: Session, contact_id: int) -> OutreachContact | None:
    return session.get(OutreachContact, contact_id)


def contacts_replying(session: Session, phone: str, since_day: date) -> list[OutreachContact]:
    """The contacts with this phone in outreaches of ``since_day`` or later, newest first."""
    return list(
        session.scalars(
            select(OutreachContact)
            .join(Outreach, Outreach.id == OutreachContact.outreach_id)
            .where(OutreachContact.phone == phone, Outreach.day >= since_day)
            .order_by(Outreach.marked_at.desc())
        )
    )


def latest_contact(session: Session, phone: str) -> OutreachContact | None:
    """The contact with this phone in the latest outreach of any day."""
    return session.scalar(
        select(OutreachContact)
        .join(Outreach, Outreach.id == OutreachContact.outreach_id)
        .where(OutreachContact.phone == phone)
        .order_by(Outreach.marked_at.desc())
        .limit(1)
    )


def due_escalations(session: Session, marked_before: datetime) -> list[int]:
    """Active outreaches marked before ``marked_before`` that nobody has answered."""
    return list(
        session.scalars(
            select(Outreach.id).where(
                Outreach.status == OutreachStatus.ACTIVE, Outreach.marked_at <= marked_before
            )
        )
    )


def due_recalls(session: Session, ended_before: datetime) -> list[OutreachContact]:
    """Contacts of active or missing outreaches whose one call went unanswered before
    ``ended_before`` and who have not been called again."""
    return list(
        session.scalars(
            select(OutreachContact)
            .join(Outreach, Outreach.id == OutreachContact.outreach_id)
            .where(
                Outreach.status.in_([OutreachStatus.ACTIVE, OutreachStatus.MISSING]),
                OutreachContact.recalled.is_(False),
                OutreachContact.answer.is_(None),
                OutreachContact.call_outcome.in_(list(UNANSWERED)),
                OutreachContact.call_ended_at <= ended_before,
            )
            .with_for_update(skip_locked=True)
        )
    )


def alert_recipients(
    session: Session, school_id: int, group: str
) -> tuple[list[ContactTeacher], School]:
    teachers = list(
        session.scalars(
            select(ContactTeacher)
            .where(ContactTeacher.school_id == school_id, ContactTeacher.group_name == group)
            .order_by(ContactTeacher.id)
        )
    )
    school = session.get(School, school_id)
    assert school is not None
    return teachers, school


def delete_outreaches_before(session: Session, day: date) -> int:
    """Retention: outreaches of days before ``day``, with their contacts and events."""
    result = session.execute(
        Outreach.__table__.delete().where(Outreach.day < day)  # type: ignore[attr-defined]
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def outreach_now(session: Session, outreach_id: int) -> Outreach | None:
    return session.get(Outreach, outreach_id)


def statuses_of(session: Session, references: Collection[str]) -> dict[str, str]:
    if not references:
        return {}
    rows = session.execute(
        select(Outreach.reference, Outreach.status).where(Outreach.reference.in_(references))
    )
    return {row.reference: row.status for row in rows}
