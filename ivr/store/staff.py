"""School staff: access tokens, contact teachers, and the daily digests queued for them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ivr.domain.statuses import AbsenceStatus
from ivr.store.models import (
    Absence,
    ContactTeacher,
    Digest,
    Organisation,
    Pupil,
    School,
    StaffToken,
    StaffTokenSchool,
)

# --- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffAccess:
    """What a valid token, or a signed-in person (``ivr.store.sign_in``), may see: some
    schools of one organisation; in the schools of ``groups``, only those groups (a
    teacher's). A person's ``token_hash`` is their session's, to which the page's CSRF
    token is bound."""

    token_id: int
    label: str | None
    token_hash: str
    organisation_id: int
    organisation_name: str
    timezone: str
    language: str
    country: str
    schools: dict[int, str]
    groups: Mapping[int, frozenset[str]] = field(default_factory=dict)
    person: str | None = None

    @property
    def who(self) -> str:
        """How an acknowledgement, a cancellation or a marking is signed: the person's
        email, or the token's name."""
        if self.person is not None:
            return self.person
        return self.label or f"token {self.token_id}"

    @property
    def whole_schools(self) -> bool:
        """True unless some school is seen only in part (a teacher's groups)."""
        return not self.groups

    def sees(self, school_id: int, group: str) -> bool:
        if school_id not in self.schools:
            return False
        groups = self.groups.get(school_id)
        return groups is None or group in groups

    def school_id(self, name: str) -> int | None:
        return next((id_ for id_, school in self.schools.items() if school == name), None)


def find_schools(session: Session, organisation_id: int, names: Collection[str]) -> dict[str, int]:
    rows = session.execute(
        select(School.name, School.id).where(
            School.organisation_id == organisation_id, School.name.in_(names)
        )
    )
    return dict(rows.all())


def add_token(
    session: Session,
    organisation_id: int,
    school_ids: Collection[int],
    label: str | None,
    token_hash: str,
    now: datetime,
) -> StaffToken:
    token = StaffToken(
        organisation_id=organisation_id, label=label, token_hash=token_hash, created_at=now
    )
    session.add(token)
    session.flush()
    session.execute(
        insert(StaffTokenSchool),
        [{"token_id": token.id, "school_id": school_id} for school_id in sorted(school_ids)],
    )
    return token


def label_taken(session: Session, organisation_id: int, label: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    StaffToken.organisation_id == organisation_id, StaffToken.label == label
                )
            )
        )
    )


def find_access(session: Session, token_hash: str) -> StaffAccess | None:
    """The access a token gives, or None if there is no such token or it was revoked."""
    row = (
        session.execute(
            select(StaffToken, Organisation)
            .join(Organisation, Organisation.id == StaffToken.organisation_id)
            .where(StaffToken.token_hash == token_hash, StaffToken.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    token, organisation = row
    schools = session.execute(
        select(School.id, School.name)
        .join(StaffTokenSchool, StaffTokenSchool.school_id == School.id)
        .where(StaffTokenSchool.token_id == token.id)
        .order_by(School.name)
    )
    return StaffAccess(
        token_id=token.id,
        label=token.label,
        token_hash=token.token_hash,
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        timezone=organisation.timezone,
        language=organisation.language,
        country=organisation.country,
        schools={row.id: row.name for row in schools},
    )


def list_tokens(session: Session) -> list[tuple[StaffToken, str]]:
    """Every token with its organisation's name, the newest first."""
    rows = session.execute(
        select(StaffToken, Organisation.name)
        .join(Organisation, Organisation.id == StaffToken.organisation_id)
        .options(selectinload(StaffToken.schools))
        .order_by(StaffToken.id.desc())
    )
    return [(token, organisation) for token, organisation in rows]


def find_tokens(session: Session, id_or_label: str) -> list[StaffToken]:
    """Tokens whose id or label is ``id_or_label`` (a label may be used in several
    organisations)."""
    condition = StaffToken.label == id_or_label
    if id_or_label.isdigit():
        condition = condition | (StaffToken.id == int(id_or_label))
    return list(session.scalars(select(StaffToken).where(condition)))


def revoke_token(session: Session, token_id: int, now: datetime) -> bool:
    """True if the token was valid until now."""
    result = session.execute(
        update(StaffToken)
        .where(StaffToken.id == token_id, StaffToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- contact teachers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeacherRecord:
    """One row of a staff CSV."""

    line: int
    school: str
    group: str
    name: str
    email: str
    phone: str | None = None


@dataclass
class TeacherImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


class UnknownGroups(ValueError):
    """Rows that name a school or group the roster does not have."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(problems)} row(s) name a school or group not in the roster")
        self.problems = problems


def import_contact_teachers(
    session: Session, organisation_id: int, teachers: Sequence[TeacherRecord]
) -> TeacherImportSummary:
    """Upsert ``teachers`` by school, group and email: each group in the file gets exactly
    the contact teachers the file lists; groups not in the file are left as they are. Every
    school and group must be in the roster (a misspelt group would never get a digest)."""
    schools = find_schools(session, organisation_id, {t.school for t in teachers})
    found = session.execute(
        select(Pupil.school_id, Pupil.group_name)
        .where(Pupil.school_id.in_(schools.values()), Pupil.active.is_(True))
        .distinct()
    )
    known_groups = {(school_id, group) for school_id, group in found}
    problems: list[tuple[int, str]] = []
    for record in teachers:
        if record.school not in schools:
            problems.append((record.line, f"school {record.school!r} is not in the roster"))
        elif (schools[record.school], record.group) not in known_groups:
            problems.append(
                (record.line, f"group {record.group!r} has no pupils at {record.school}")
            )
    if problems:
        raise UnknownGroups(problems)
    wanted = {(schools[t.school], t.group, t.email.lower()): (t.name, t.phone) for t in teachers}
    groups = {(school_id, group) for school_id, group, _email in wanted}
    summary = TeacherImportSummary()
    existing = session.scalars(
        select(ContactTeacher).where(ContactTeacher.school_id.in_(schools.values()))
    )
    for teacher in existing:
        if (teacher.school_id, teacher.group_name) not in groups:
            continue
        listed = wanted.pop((teacher.school_id, teacher.group_name, teacher.email), None)
        if listed is None:
            session.delete(teacher)
            summary.removed += 1
        elif listed != (teacher.name, teacher.phone):
            teacher.name, teacher.phone = listed
            summary.updated += 1
        else:
            summary.unchanged += 1
    for (school_id, group, email), (name, phone) in wanted.items():
        session.add(
            ContactTeacher(
                school_id=school_id, group_name=group, name=name, email=email, phone=phone
            )
        )
        summary.added += 1
    session.flush()
    return summary


def contact_teachers(session: Session, school_id: int, group: str) -> list[ContactTeacher]:
    return list(
        session.scalars(
            select(ContactTeacher)
            .where(ContactTeacher.school_id == school_id, ContactTeacher.group_name == group)
            .order_by(ContactTeacher.id)
        )
    )


# --- digests ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueGroup:
    school_id: int
    school: str
    group: str


def groups_due_a_digest(session: Session, organisation_id: int, day: date) -> list[DueGroup]:
    """Groups with a contact teacher, an active absence on ``day`` and no digest yet."""
    has_absence = exists().where(
        Absence.pupil_id == Pupil.id,
        Absence.status == AbsenceStatus.ACTIVE,
        Absence.start_date <= day,
        Absence.end_date >= day,
    )
    has_digest = exists().where(
        Digest.school_id == ContactTeacher.school_id,
        Digest.group_name == ContactTeacher.group_name,
        Digest.day == day,
    )
    has_pupil_absent = exists().where(
        Pupil.school_id == ContactTeacher.school_id,
        Pupil.group_name == ContactTeacher.group_name,
        Pupil.active.is_(True),
        has_absence,
    )
    rows = session.execute(
        select(School.id, School.name, ContactTeacher.group_name)
        .join(ContactTeacher, ContactTeacher.school_id == School.id)
        .where(School.organisation_id == organisation_id, has_pupil_absent, ~has_digest)
        .distinct()
        .order_by(School.name, ContactTeacher.group_name)
    )
    return [DueGroup(school_id, school, group) for school_id, school, group in rows]


def claim_digest(
    session: Session, school_id: int, group: str, day: date, absences: int, now: datetime
) -> bool:
    """Record that the group's digest for ``day`` is being queued. False if another process
    already has: the unique constraint decides, and the loser queues nothing."""
    try:
        with session.begin_nested():
            session.add(
                Digest(
                    school_id=school_id,
                    group_name=group,
                    day=day,
                    absences=absences,
                    queued_at=now,
                )
            )
    except IntegrityError:
        return False
    return True
