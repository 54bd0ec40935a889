"""Pupils who have left: found from a full roster (or a school system's list of those who
left), checked against the safety valve, and deactivated. Never deleted: their past
absences stay for the feed and the retention job."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ivr.store.models import Pupil, School, table_of

_pupils = table_of(Pupil)


@dataclass(frozen=True, slots=True)
class Leaving:
    """The active pupils a run would deactivate, by school name, and how many active
    pupils each of those schools has now."""

    pupil_ids: dict[str, list[int]]
    active: dict[str, int]

    def share(self, school: str) -> float:
        """Percent of the school's active pupils who would leave."""
        total = self.active.get(school, 0)
        return 100.0 * len(self.pupil_ids.get(school, [])) / total if total else 0.0

    def over(self, max_percent: float) -> list[str]:
        """What the safety valve says about each school over ``max_percent``."""
        return [
            f"{school}: {len(ids)} of {self.active[school]} pupils "
            f"({self.share(school):.0f}%) would be deactivated, more than {max_percent:g}%"
            for school, ids in sorted(self.pupil_ids.items())
            if self.share(school) > max_percent
        ]


def _active_counts(session: Session, organisation_id: int) -> dict[str, int]:
    rows = session.execute(
        select(School.name, func.count(Pupil.id))
        .join(Pupil, Pupil.school_id == School.id)
        .where(School.organisation_id == organisation_id, Pupil.active.is_(True))
        .group_by(School.name)
    )
    return {name: int(count) for name, count in rows}


def leaving(
    session: Session,
    organisation_id: int,
    *,
    schools: Collection[str] = (),
    enrolled: Collection[str] = (),
    left: Collection[str] = (),
) -> Leaving:
    """The active pupils of ``schools`` whose roster id is not in ``enrolled`` (a full
    roster of those schools), and those of any school whose id is in ``left``."""
    enrolled_ids, left_ids, covered = set(enrolled), set(left), set(schools)
    rows = session.execute(
        select(Pupil.id, Pupil.external_id, School.name)
        .join(School, School.id == Pupil.school_id)
        .where(Pupil.organisation_id == organisation_id, Pupil.active.is_(True))
    )
    found: dict[str, list[int]] = {}
    for pupil_id, external_id, school in rows:
        gone = external_id in left_ids or (school in covered and external_id not in enrolled_ids)
        if gone:
            found.setdefault(school, []).append(pupil_id)
    return Leaving(found, _active_counts(session, organisation_id))


_DEACTIVATE = (
    update(_pupils)
    .where(_pupils.c.id == bindparam("b_id"))
    .values(active=False, left_at=bindparam("now"), updated_at=bindparam("now"))
)


def deactivate(session: Session, pupil_ids: Collection[int], now: datetime) -> None:
    if pupil_ids:
        session.connection().execute(
            _DEACTIVATE, [{"b_id": pupil_id, "now": now} for pupil_id in sorted(pupil_ids)]
        )


def align_schools(
    session: Session, organisation_id: int, units: Mapping[str, str]
) -> dict[str, str]:
    """Make the organisation's schools match a school system's units (id -> name): a unit
    known by its id is renamed if its name changed; one known only by its name gets the id;
    a new unit becomes a school. Returns the schools renamed, old name -> new."""
    schools = list(session.scalars(select(School).where(School.organisation_id == organisation_id)))
    by_id = {school.external_id: school for school in schools if school.external_id}
    by_name = {school.name: school for school in schools}
    renamed: dict[str, str] = {}
    for unit_id, name in sorted(units.items()):
        school = by_id.get(unit_id) or by_name.get(name)
        if school is None:
            session.add(School(organisation_id=organisation_id, name=name, external_id=unit_id))
            continue
        school.external_id = unit_id
        if school.name != name:
            renamed[school.name] = name
            school.name = name
    session.flush()
    return renamed
