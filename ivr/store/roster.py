"""Pupils and guardians: lookup on the phone line, and the roster upsert."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr.roster.csv_file import GuardianContact, PupilRecord, Roster, RowError
from ivr.store.models import Guardian, Pupil, PupilGuardian, School, table_of

BATCH = 500
_T = TypeVar("_T")


_pupil_table = table_of(Pupil)
_school_table = table_of(School)
_guardian_table = table_of(Guardian)
_link_table = table_of(PupilGuardian)

# Run during calls: Core statements built once (see ``ivr.store.calls``).
_FIND_PUPIL = select(_pupil_table.c.id).where(
    _pupil_table.c.organisation_id == bindparam("organisation_id"),
    _pupil_table.c.personal_number_hash == bindparam("number_hash"),
)
_PUPIL_FOR_REPORT = (
    select(
        _pupil_table.c.id,
        _pupil_table.c.school_id,
        _school_table.c.name,
        _pupil_table.c.first_name,
        _pupil_table.c.last_name,
        _pupil_table.c.group_name,
        _pupil_table.c.birth_date,
        _pupil_table.c.phone,
        _pupil_table.c.email,
    )
    .join(_school_table, _school_table.c.id == _pupil_table.c.school_id)
    .where(_pupil_table.c.id == bindparam("pupil_id"))
)
_GUARDIANS_OF = (
    select(
        _guardian_table.c.id,
        _guardian_table.c.name,
        _guardian_table.c.phone,
        _guardian_table.c.email,
        _guardian_table.c.language,
    )
    .join(_link_table, _link_table.c.guardian_id == _guardian_table.c.id)
    .where(_link_table.c.pupil_id == bindparam("pupil_id"))
    .order_by(_guardian_table.c.id)
)


def find_pupil_id(
    connection: Connection, organisation_id: int, personal_number_hash: str
) -> int | None:
    values = {"organisation_id": organisation_id, "number_hash": personal_number_hash}
    pupil_id: int | None = connection.execute(_FIND_PUPIL, values).scalar()
    return pupil_id


@dataclass(frozen=True, slots=True)
class GuardianContactRow:
    id: int
    name: str
    phone: str | None
    email: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class ReportedPupil:
    """All a report and its confirmations need of the pupil."""

    id: int
    school_id: int
    school: str
    first_name: str
    last_name: str
    group: str
    birth_date: date
    phone: str | None
    email: str | None
    guardians: list[GuardianContactRow]


def pupil_for_report(connection: Connection, pupil_id: int) -> ReportedPupil:
    row = connection.execute(_PUPIL_FOR_REPORT, {"pupil_id": pupil_id}).first()
    if row is None:
        raise LookupError(f"no pupil {pupil_id}")
    guardians = [
        GuardianContactRow(*guardian)
        for guardian in connection.execute(_GUARDIANS_OF, {"pupil_id": pupil_id})
    ]
    return ReportedPupil(*row, guardians=guardians)


@dataclass
class ImportSummary:
    rows: int = 0
    pupils_added: int = 0
    pupils_updated: int = 0
    pupils_unchanged: int = 0
    guardians_added: int = 0
    guardians_updated: int = 0
    links_added: int = 0
    links_removed: int = 0
    schools_added: list[str] = field(default_factory=list)


class RosterConflict(ValueError):
    """The file is valid on its own but contradicts what the organisation already has."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} conflict(s) with the stored roster")
        self.errors = errors


def _batches(items: Sequence[_T], size: int = BATCH) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def import_roster(
    session: Session,
    organisation_id: int,
    roster: Roster,
    key: bytes,
    progress: Callable[[int], None] = lambda _done: None,
) -> ImportSummary:
    """Upsert ``roster``: pupils by ``pupil_id``, guardians by phone (else email), and each
    pupil's guardians set to exactly those in the file. Pupils not in the file are left as
    they are. Writes only what changed; the caller commits (or not, for a dry run).
    ``progress`` is called with the number of pupils handled so far."""
    summary = ImportSummary(rows=roster.rows)
    school_ids = _schools(session, organisation_id, roster, summary)
    guardian_ids = _guardians(session, organisation_id, roster, summary)
    _check_numbers(session, organisation_id, roster.pupils, key)
    done = 0
    for batch in _batches(roster.pupils):
        pupil_ids = _pupils(session, organisation_id, batch, school_ids, key, summary)
        _links(session, batch, pupil_ids, guardian_ids, summary)
        done += len(batch)
        progress(done)
    return summary


def _schools(
    session: Session, organisation_id: int, roster: Roster, summary: ImportSummary
) -> dict[str, int]:
    rows = session.execute(
        select(School.name, School.id).where(School.organisation_id == organisation_id)
    )
    ids = dict(rows.all())
    for name in sorted({pupil.school for pupil in roster.pupils} - ids.keys()):
        school = School(organisation_id=organisation_id, name=name)
        session.add(school)
        session.flush()
        ids[name] = school.id
        summary.schools_added.append(name)
    return ids


def _guardians(
    session: Session, organisation_id: int, roster: Roster, summary: ImportSummary
) -> dict[str, int]:
    wanted = roster.guardians
    ids: dict[str, int] = {}
    for batch in _batches(sorted(wanted)):
        existing = session.execute(
            select(Guardian).where(
                Guardian.organisation_id == organisation_id, Guardian.contact_key.in_(batch)
            )
        )
        changed: list[dict[str, Any]] = []
        for guardian in existing.scalars():
            ids[guardian.contact_key] = guardian.id
            values = _guardian_values(wanted[guardian.contact_key])
            if any(getattr(guardian, name) != value for name, value in values.items()):
                changed.append({"id": guardian.id, **values})
        if changed:
            session.execute(update(Guardian), changed)
            summary.guardians_updated += len(changed)
        new = [
            {
                "organisation_id": organisation_id,
                "contact_key": contact_key,
                **_guardian_values(wanted[contact_key]),
            }
            for contact_key in batch
            if contact_key not in ids
        ]
        if new:
            result = session.execute(
                insert(Guardian).returning(Guardian.contact_key, Guardian.id), new
            )
            ids.update(dict(result.all()))
            summary.guardians_added += len(new)
    return ids


def _guardian_values(contact: GuardianContact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "language": contact.language,
    }


def _check_numbers(
    session: Session, organisation_id: int, pupils: Sequence[PupilRecord], key: bytes
) -> None:
    """A personal number already stored for another pupil_id is refused, not overwritten."""
    errors: list[RowError] = []
    for batch in _batches(pupils):
        by_hash = {pupil.personal_number.keyed_hash(key): pupil for pupil in batch}
        rows = session.execute(
            select(Pupil.personal_number_hash, Pupil.external_id).where(
                Pupil.organisation_id == organisation_id,
                Pupil.personal_number_hash.in_(by_hash),
            )
        )
        for number_hash, external_id in rows:
            pupil = by_hash[number_hash]
            if external_id != pupil.pupil_id:
                errors.append(
                    RowError(
                        pupil.line,
                        f"personal_number is already stored for pupil_id {external_id}",
                    )
                )
    if errors:
        raise RosterConflict(errors)


def _pupil_values(pupil: PupilRecord, school_ids: dict[str, int], key: bytes) -> dict[str, Any]:
    return {
        "school_id": school_ids[pupil.school],
        "personal_number_hash": pupil.personal_number.keyed_hash(key),
        "birth_date": pupil.personal_number.birth_date,
        "first_name": pupil.first_name,
        "last_name": pupil.last_name,
        "group_name": pupil.group,
        "phone": pupil.phone,
        "email": pupil.email,
    }


def _pupils(
    session: Session,
    organisation_id: int,
    batch: Sequence[PupilRecord],
    school_ids: dict[str, int],
    key: bytes,
    summary: ImportSummary,
) -> dict[str, int]:
    wanted = {pupil.pupil_id: _pupil_values(pupil, school_ids, key) for pupil in batch}
    existing = session.execute(
        select(Pupil).where(Pupil.organisation_id == organisation_id, Pupil.external_id.in_(wanted))
    )
    ids: dict[str, int] = {}
    changed: list[dict[str, Any]] = []
    for pupil in existing.scalars():
        ids[pupil.external_id] = pupil.id
        values = wanted[pupil.external_id]
        if any(getattr(pupil, name) != value for name, value in values.items()):
            changed.append({"id": pupil.id, **values})
        else:
            summary.pupils_unchanged += 1
    if changed:
        session.execute(update(Pupil), changed)
        summary.pupils_updated += len(changed)
    new = [
        {"organisation_id": organisation_id, "external_id": pupil_id, **values}
        for pupil_id, values in wanted.items()
        if pupil_id not in ids
    ]
    if new:
        result = session.execute(insert(Pupil).returning(Pupil.external_id, Pupil.id), new)
        ids.update(dict(result.all()))
        summary.pupils_added += len(new)
    return ids


def _links(
    session: Session,
    batch: Sequence[PupilRecord],
    pupil_ids: dict[str, int],
    guardian_ids: dict[str, int],
    summary: ImportSummary,
) -> None:
    wanted = {
        (pupil_ids[pupil.pupil_id], guardian_ids[guardian.contact_key])
        for pupil in batch
        for guardian in pupil.guardians
    }
    rows = session.execute(
        select(PupilGuardian.pupil_id, PupilGuardian.guardian_id).where(
            PupilGuardian.pupil_id.in_(pupil_ids.values())
        )
    )
    existing = set(rows)
    removed = existing - wanted
    added = wanted - existing
    if removed:
        session.execute(
            delete(PupilGuardian).where(
                tuple_(PupilGuardian.pupil_id, PupilGuardian.guardian_id).in_(sorted(removed))
            )
        )
        summary.links_removed += len(removed)
    if added:
        session.execute(
            insert(PupilGuardian),
            [{"pupil_id": pupil, "guardian_id": guardian} for pupil, guardian in sorted(added)],
        )
        summary.links_added += len(added)
