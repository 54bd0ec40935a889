"""Absences: recorded from a call, listed for staff and operators."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Insert, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr.domain.absence import AbsencePeriod
from ivr.domain.statuses import AbsenceEvent, AbsenceStatus
from ivr.store.driver import DriverStatement
from ivr.store.feed import record_event
from ivr.store.models import Absence, Organisation, Pupil, School, table_of

# No 0/O, 1/I/L or U: a reference is read aloud and typed by people.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8


def new_reference() -> str:
    return "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


@dataclass(frozen=True, slots=True)
class NewAbsence:
    organisation_id: int
    school_id: int
    pupil_id: int
    period: AbsencePeriod
    reported_at: datetime
    caller: str
    caller_is_guardian: bool
    call_sid: str
    number_in_call: int


_absences = table_of(Absence)


ABSENCE_COLUMNS = (
    "organisation_id",
    "school_id",
    "pupil_id",
    "start_date",
    "start_time",
    "end_date",
    "end_time",
    "reported_at",
    "caller",
    "caller_is_guardian",
    "call_sid",
    "number_in_call",
    "status",
    "reference",
)
_DIALECTS: dict[str, Any] = {"sqlite": sqlite, "postgresql": postgresql}


def _insert_unless_reference_taken(dialect: Dialect) -> Insert:
    """``INSERT ... ON CONFLICT (reference) DO NOTHING RETURNING id``: a clash of references
    returns no row (draw again); any other conflict, such as the same report of the same
    call twice, still fails."""
    insert: Insert = (
        _DIALECTS[dialect.name]
        .insert(_absences)
        .values({name: bindparam(name) for name in ABSENCE_COLUMNS})
        .on_conflict_do_nothing(index_elements=[_absences.c.reference])
        .returning(_absences.c.id)
    )
    return insert


# Run on every report during calls (see ``ivr.store.calls``).
_ADD = DriverStatement("absences.add", _insert_unless_reference_taken)


@dataclass(frozen=True, slots=True)
class AddedAbsence:
    id: int
    reference: str


def absence_values(new: NewAbsence, reference: str) -> dict[str, Any]:
    """The values of ``ABSENCE_COLUMNS`` for ``new`` under ``reference``."""
    return {
        "organisation_id": new.organisation_id,
        "school_id": new.school_id,
        "pupil_id": new.pupil_id,
        "start_date": new.period.start_date,
        "start_time": new.period.start_time,
        "end_date": new.period.end_date,
        "end_time": new.period.end_time,
        "reported_at": new.reported_at,
        "caller": new.caller,
        "caller_is_guardian": new.caller_is_guardian,
        "call_sid": new.call_sid,
        "number_in_call": new.number_in_call,
        "status": AbsenceStatus.ACTIVE,
        "reference": reference,
    }


def add_absence(connection: Connection, new: NewAbsence) -> AddedAbsence:
    """Insert with a fresh reference (drawn again on the rare clash). The absence enters
    the staff feed in the same transaction."""
    for _attempt in range(5):
        reference = new_reference()
        row = _ADD.first(connection, absence_values(new, reference))
        if row is not None:
            (absence_id,) = row
            record_event(
                connection, absence_id, new.school_id, AbsenceEvent.REPORTED, new.reported_at
            )
            return AddedAbsence(absence_id, reference)
    raise RuntimeError("could not draw a free absence reference")


@dataclass(frozen=True, slots=True)
class AbsenceListing:
    absence: Absence
    pupil: Pupil
    school: School
    organisation: Organisation


def list_absences(
    session: Session, on_day: date | None = None, limit: int | None = None
) -> list[AbsenceListing]:
    """Absences, newest report first; with ``on_day``, those that cover that day."""
    query = (
        select(Absence, Pupil, School, Organisation)
        .join(Pupil, Absence.pupil_id == Pupil.id)
        .join(School, Absence.school_id == School.id)
        .join(Organisation, Absence.organisation_id == Organisation.id)
        .order_by(Absence.reported_at.desc(), Absence.id.desc())
    )
    if on_day is not None:
        query = query.where(Absence.start_date <= on_day, Absence.end_date >= on_day)
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query)
    return [AbsenceListing(*row) for row in rows]


def pupils_reported_at(
    session: Session, which: ColumnElement[bool], day: date, moment: time
) -> set[int]:
    """The pupils (``which`` picks them: by id, by school) with an active report covering
    ``moment`` of ``day``."""
    rows = session.execute(
        select(
            Absence.pupil_id,
            Absence.start_date,
            Absence.start_time,
            Absence.end_date,
            Absence.end_time,
        )
        .join(Pupil, Pupil.id == Absence.pupil_id)
        .where(
            which,
            Absence.status == AbsenceStatus.ACTIVE,
            Absence.start_date <= day,
            Absence.end_date >= day,
        )
    )
    return {
        pupil_id
        for pupil_id, start_date, start_time, end_date, end_time in rows
        if AbsencePeriod(start_date, start_time, end_date, end_time).covers_moment(day, moment)
    }
