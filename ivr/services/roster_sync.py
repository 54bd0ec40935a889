"""A roster that follows the school's own records: a full CSV or a school system's API
(SS 12000) says who is enrolled; pupils it no longer lists are deactivated, guardians no
longer responsible unlinked, new pupils and guardians added. The same data twice changes
nothing. A run that would deactivate too many of a school's pupils writes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.metrics import ROSTER_CHANGES, ROSTER_SYNCS
from ivr.roster.records import MentorRecord, Roster, SourceProblem, SourceRoster
from ivr.roster.ss12000_client import SchoolSystemConnection, SchoolSystemError, read_school_system
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.enrolment import align_schools, deactivate, leaving
from ivr.store.models import Organisation, Pupil, RosterSync, School
from ivr.store.roster import import_roster
from ivr.store.roster_changes import ImportSummary
from ivr.store.staff import TeacherRecord, import_contact_teachers

log = logging.getLogger(__name__)


class SyncRefused(ValueError):
    """The safety valve: the run would deactivate too many of a school's pupils."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "nothing was written: " + "; ".join(problems) + ". If the pupils really have "
            "left, run again with --force; otherwise check the export"
        )
        self.problems = problems


def apply_roster(
    session: Session,
    organisation_id: int,
    roster: Roster,
    key: bytes,
    now: datetime,
    *,
    full_schools: Collection[str] | None = None,
    left: Collection[str] = (),
    keep: Collection[str] = (),
    max_removals_percent: float = 100.0,
    force: bool = False,
    progress: Callable[[int], None] = lambda _done: None,
) -> ImportSummary:
    """Upsert ``roster``; then deactivate the active pupils of ``full_schools`` it does not
    list (a full roster of those schools) and those in ``left``, except ``keep`` (pupils
    the source could not describe this time). Raises ``SyncRefused`` before writing
    anything if a school would lose more than ``max_removals_percent`` of its pupils."""
    enrolled = {pupil.pupil_id for pupil in roster.pupils} | set(keep)
    gone = leaving(
        session,
        organisation_id,
        schools=full_schools or (),
        enrolled=enrolled if full_schools is not None else (),
        left=set(left) - enrolled,
    )
    if not force and (problems := gone.over(max_removals_percent)):
        raise SyncRefused(problems)
    summary = import_roster(session, organisation_id, roster, key, progress)
    for school, pupil_ids in gone.pupil_ids.items():
        deactivate(session, pupil_ids, now)
        summary.school(school).left += len(pupil_ids)
    return summary


@dataclass
class SyncResult:
    """What one run of the school system's sync found and did (or would do)."""

    organisation: str
    source: str
    full: bool
    started_at: datetime
    summary: ImportSummary
    renamed: dict[str, str] = field(default_factory=dict)
    mentors: int = 0
    problems: list[SourceProblem] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "organisation": self.organisation,
            "source": self.source,
            "full": self.full,
            "started_at": self.started_at.isoformat(),
            "schools": {name: asdict(changes) for name, changes in self.summary.by_school.items()},
            "schools_added": self.summary.schools_added,
            "schools_renamed": self.renamed,
            "mentors": self.mentors,
            "problems": [str(problem) for problem in self.problems],
        }


def _sync_state(session: Session, organisation_id: int, source: str) -> RosterSync:
    state = session.scalar(
        select(RosterSync).where(
            RosterSync.organisation_id == organisation_id, RosterSync.source == source
        )
    )
    if state is None:
        state = RosterSync(organisation_id=organisation_id, source=source)
        session.add(state)
    return state


def _mentors(session: Session, organisation_id: int, mentors: list[MentorRecord]) -> int:
    """Each group's contact teachers become the system's mentors, for the groups that
    have pupils (a mentor of an empty group would never get a digest)."""
    groups = set(
        session.execute(
            select(School.name, Pupil.group_name)
            .join(Pupil, Pupil.school_id == School.id)
            .where(School.organisation_id == organisation_id, Pupil.active.is_(True))
            .distinct()
        )
    )
    records = [
        TeacherRecord(0, m.school, m.group, m.name, m.email, m.phone)
        for m in mentors
        if (m.school, m.group) in groups
    ]
    if records:
        import_contact_teachers(session, organisation_id, records)
    return len(records)


def _apply_source(
    session: Session,
    organisation: Organisation,
    source: SourceRoster,
    result: SyncResult,
    settings: Settings,
    force: bool,
) -> None:
    result.renamed = align_schools(session, organisation.id, source.schools)
    roster = Roster(source.pupils, rows=len(source.pupils))
    result.summary = apply_roster(
        session,
        organisation.id,
        roster,
        settings.personal_number_key,
        result.started_at,
        full_schools=list(source.schools.values()) if source.full else None,
        left=source.left,
        keep=[problem.id for problem in source.problems if problem.entity == "person"],
        max_removals_percent=settings.sync_max_removals_percent,
        force=force,
    )
    result.mentors = _mentors(session, organisation.id, source.mentors)


def _record(database: Database, organisation_id: int, result: SyncResult) -> None:
    def work(session: Session) -> None:
        state = _sync_state(session, organisation_id, result.source)
        state.last_run_at = result.started_at
        state.last_delta_at = result.started_at
        if result.full:
            state.last_full_at = result.started_at
        state.last_summary = json.dumps(result.as_json(), ensure_ascii=False)
        state.last_error = None

    database.transaction(work)


def _record_failure(database: Database, organisation_id: int, source: str, why: str) -> None:
    def work(session: Session) -> None:
        _sync_state(session, organisation_id, source).last_error = why

    database.transaction(work)


def _organisation(database: Database, name: str | None) -> Organisation:
    def work(session: Session) -> Organisation:
        query = select(Organisation)
        if name is not None:
            query = query.where(Organisation.name == name)
        found = list(session.scalars(query))
        if len(found) == 1:
            return found[0]
        if name is not None:
            raise LookupError(f"no organisation {name!r}; add it with `ivr org add`")
        raise LookupError("there are several organisations; say which with --org")

    return database.transaction(work)


def _since(database: Database, organisation_id: int, source: str, full: bool) -> datetime | None:
    if full:
        return None

    def work(session: Session) -> datetime | None:
        state = _sync_state(session, organisation_id, source)
        return None if state.last_full_at is None else state.last_delta_at

    return database.transaction(work)


async def sync_school_system(
    database: Database,
    settings: Settings,
    url: str,
    *,
    organisation: str | None = None,
    full: bool = True,
    dry_run: bool = False,
    force: bool = False,
    now: Callable[[], datetime],
) -> SyncResult:
    """Read the organisation's schools from an SS 12000 API and apply them. A delta
    (``full=False``) reads what changed since the last successful run; with none yet it
    is a full run. Nothing is written on any error, or on a dry run."""
    org = _organisation(database, organisation)
    since = _since(database, org.id, url, full)
    started = now()
    result = SyncResult(org.name, url, since is None, started, ImportSummary())
    today = started.astimezone(ZoneInfo(org.timezone)).date()
    try:
        connection = SchoolSystemConnection.from_settings(settings, url)
        source = await read_school_system(
            connection, country=org.country, today=today, modified_after=since
        )
        result.problems = source.problems

        def work(session: Session) -> None:
            _apply_source(session, org, source, result, settings, force)

        if dry_run:
            with database.sessions() as session:
                work(session)
                session.rollback()
        else:
            database.transaction(work)
    except (SchoolSystemError, SyncRefused) as problem:
        ROSTER_SYNCS.labels("refused" if isinstance(problem, SyncRefused) else "failed").inc()
        if not dry_run:
            _record_failure(database, org.id, url, str(problem))
        log.warning("roster sync wrote nothing", extra={"source": url, "reason": str(problem)})
        raise
    if not dry_run:
        _record(database, org.id, result)
        _count(result)
    log.info("roster sync", extra={"diff": result.as_json(), "dry_run": dry_run})
    return result


def _count(result: SyncResult) -> None:
    ROSTER_SYNCS.labels("full" if result.full else "delta").inc()
    for changes in result.summary.by_school.values():
        for kind, count in asdict(changes).items():
            if count:
                ROSTER_CHANGES.labels(kind).inc(count)
