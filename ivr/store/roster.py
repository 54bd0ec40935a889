"""Pupils and guardians: lookup on the phone line, and the roster upsert."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr.roster.records import GuardianContact, PupilRecord, Roster, RowError
from ivr.store.bulk import insert_many, insert_with_ids
from ivr.store.driver import DriverStatement
from ivr.store.models import Guardian, Pupil, PupilGuardian, School, table_of, utc_now
from ivr.store.roster_changes import ImportSummary

BATCH = 500
_T = TypeVar("_T")


_pupil_table = table_of(Pupil)
_school_table = table_of(School)
_guardian_table = table_of(Guardian)
_link_table = table_of(PupilGuardian)

# Run during calls: Core statements built once (see ``ivr.store.calls``).
_FIND_PUPIL = DriverStatement(
    "pupils.find",
    select(_pupil_table.c.id).where(
        _pupil_table.c.organisation_id == bindparam("organisation_id"),
        _pupil_table.c.personal_number_hash == bindparam("number_hash"),
        _pupil_table.c.active.is_(true()),
    ),
)


def find_pupil_id(
    connection: Connection, organisation_id: int, personal_number_hash: str
) -> int | None:
    values = {"organisation_id": organisation_id, "number_hash": personal_number_hash}
    row = _FIND_PUPIL.first(connection, values)
    return None if row is None else int(row[0])


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
    they are here (``ivr.store.enrolment`` deactivates those a full roster no longer lists).
    A listed pupil who had left is active again. Writes only what changed; the caller
    commits (or not, for a dry run).
    ``progress`` is called with the number of pupils handled so far.

    What the organisation already has is read once, in a few whole-table queries, and the
    file compared with it in memory: per-batch lookups inside one long transaction would
    be planned on statistics that know nothing of the rows this import has added.
    """
    summary = ImportSummary(rows=roster.rows)
    connection = session.connection()
    school_ids = _schools(session, organisation_id, roster, summary)
    stored = _stored_pupils(connection, organisation_id)
    _check_numbers(stored, roster.pupils, key)
    guardian_ids = _guardians(connection, organisation_id, roster, summary)
    links = _stored_links(connection, organisation_id)
    done = 0
    for batch in _batches(roster.pupils):
        pupil_ids = _pupils(connection, organisation_id, batch, stored, school_ids, key, summary)
        _links(connection, batch, pupil_ids, guardian_ids, links, summary)
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


_PUPIL_FIELDS = (
    "school_id",
    "personal_number_hash",
    "birth_date",
    "first_name",
    "last_name",
    "group_name",
    "phone",
    "email",
    "active",
    "left_at",
    "protected_identity",
)
_GUARDIAN_FIELDS = ("name", "phone", "email", "language")


def _stored_pupils(connection: Connection, organisation_id: int) -> dict[str, tuple[Any, ...]]:
    """``external_id`` -> ``(id, *_PUPIL_FIELDS)`` of every stored pupil."""
    columns = [_pupil_table.c[name] for name in _PUPIL_FIELDS]
    rows = connection.execute(
        select(_pupil_table.c.external_id, _pupil_table.c.id, *columns).where(
            _pupil_table.c.organisation_id == organisation_id
        )
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def _check_numbers(
    stored: dict[str, tuple[Any, ...]], pupils: Sequence[PupilRecord], key: bytes
) -> None:
    """A personal number already stored for another pupil_id is refused, not overwritten."""
    hash_index = 1 + _PUPIL_FIELDS.index("personal_number_hash")
    holder = {values[hash_index]: external_id for external_id, values in stored.items()}
    errors = [
        RowError(pupil.line, f"personal_number is already stored for pupil_id {owner}")
        for pupil in pupils
        if (owner := holder.get(pupil.personal_number.keyed_hash(key), pupil.pupil_id))
        != pupil.pupil_id
    ]
    if errors:
        raise RosterConflict(errors)


def _guardian_values(contact: GuardianContact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "language": contact.language,
    }


def _guardians(
    connection: Connection, organisation_id: int, roster: Roster, summary: ImportSummary
) -> dict[str, int]:
    wanted = roster.guardians
    rows = connection.execute(
        select(
            _guardian_table.c.contact_key,
            _guardian_table.c.id,
            *[_guardian_table.c[name] for name in _GUARDIAN_FIELDS],
        ).where(_guardian_table.c.organisation_id == organisation_id)
    )
    ids: dict[str, int] = {}
    changed: list[dict[str, Any]] = []
    for contact_key, guardian_id, *stored in rows:
        ids[contact_key] = guardian_id
        if contact_key in wanted:
            values = _guardian_values(wanted[contact_key])
            if list(values.values()) != stored:
                changed.append({"b_id": guardian_id, **values})
    for batch in _batches(changed):
        connection.execute(_UPDATE_GUARDIAN, list(batch))
    summary.guardians_updated += len(changed)
    new = [
        {
            "organisation_id": organisation_id,
            "contact_key": contact_key,
            **_guardian_values(contact),
        }
        for contact_key, contact in sorted(wanted.items())
        if contact_key not in ids
    ]
    for batch in _batches(new):
        ids.update(
            insert_with_ids(connection, _guardian_table.c.contact_key, organisation_id, batch)
        )
    summary.guardians_added += len(new)
    return ids


_UPDATE_GUARDIAN = (
    update(_guardian_table)
    .where(_guardian_table.c.id == bindparam("b_id"))
    .values({name: bindparam(name) for name in _GUARDIAN_FIELDS})
)
_UPDATE_PUPIL = (
    update(_pupil_table)
    .where(_pupil_table.c.id == bindparam("b_id"))
    .values({name: bindparam(name) for name in (*_PUPIL_FIELDS, "updated_at")})
)


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
        # A pupil the roster lists is enrolled: one who had left is back.
        "active": True,
        "left_at": None,
        "protected_identity": pupil.protected,
    }


def _pupils(
    connection: Connection,
    organisation_id: int,
    batch: Sequence[PupilRecord],
    stored: dict[str, tuple[Any, ...]],
    school_ids: dict[str, int],
    key: bytes,
    summary: ImportSummary,
) -> dict[str, int]:
    ids: dict[str, int] = {}
    changed: list[dict[str, Any]] = []
    new: list[dict[str, Any]] = []
    now = utc_now()
    for pupil in batch:
        values = _pupil_values(pupil, school_ids, key)
        known = stored.get(pupil.pupil_id)
        changes = summary.school(pupil.school)
        if known is None:
            new.append(
                {
                    "organisation_id": organisation_id,
                    "external_id": pupil.pupil_id,
                    **values,
                    "updated_at": now,
                }
            )
            changes.added += 1
            continue
        ids[pupil.pupil_id] = known[0]
        if tuple(values.values()) != known[1:]:
            changed.append({"b_id": known[0], **values, "updated_at": now})
            if not known[1 + _PUPIL_FIELDS.index("active")]:
                changes.returned += 1
            else:
                changes.changed += 1
        else:
            summary.pupils_unchanged += 1
    if changed:
        connection.execute(_UPDATE_PUPIL, changed)
        summary.pupils_updated += len(changed)
    if new:
        ids.update(insert_with_ids(connection, _pupil_table.c.external_id, organisation_id, new))
        summary.pupils_added += len(new)
    return ids


def _stored_links(connection: Connection, organisation_id: int) -> set[tuple[int, int]]:
    rows = connection.execute(
        select(_link_table.c.pupil_id, _link_table.c.guardian_id)
        .join(_pupil_table, _pupil_table.c.id == _link_table.c.pupil_id)
        .where(_pupil_table.c.organisation_id == organisation_id)
    )
    return {(pupil_id, guardian_id) for pupil_id, guardian_id in rows}


_DELETE_LINK = delete(_link_table).where(
    _link_table.c.pupil_id == bindparam("b_pupil"),
    _link_table.c.guardian_id == bindparam("b_guardian"),
)


def _links(
    connection: Connection,
    batch: Sequence[PupilRecord],
    pupil_ids: dict[str, int],
    guardian_ids: dict[str, int],
    stored: set[tuple[int, int]],
    summary: ImportSummary,
) -> None:
    in_batch = {pupil_ids[pupil.pupil_id] for pupil in batch}
    school_of = {pupil_ids[pupil.pupil_id]: pupil.school for pupil in batch}
    wanted = {
        (pupil_ids[pupil.pupil_id], guardian_ids[guardian.contact_key])
        for pupil in batch
        for guardian in pupil.guardians
    }
    existing = {link for link in stored if link[0] in in_batch}
    removed = sorted(existing - wanted)
    added = sorted(wanted - existing)
    if removed:
        connection.execute(
            _DELETE_LINK,
            [{"b_pupil": pupil, "b_guardian": guardian} for pupil, guardian in removed],
        )
        summary.links_removed += len(removed)
        for pupil, _guardian in removed:
            summary.school(school_of[pupil]).guardians_unlinked += 1
    if added:
        insert_many(
            connection,
            _link_table,
            [{"pupil_id": pupil, "guardian_id": guardian} for pupil, guardian in added],
        )
        summary.links_added += len(added)
        for pupil, _guardian in added:
            summary.school(school_of[pupil]).guardians_linked += 1
