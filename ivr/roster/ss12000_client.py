"""Read one organisation's roster from its own student information system, through the
SS 12000 API (SIS standard 12000:2020, REST/JSON, version 2.1). ``ivr.roster.ss12000``
says which fields are read (addresses never are) and what they become.

The requests, each relative to the API's base address (``IVR_SS12000_URL``), every list
paged with ``limit`` and ``pageToken`` (``ivr.roster.ss12000_http``):

- ``GET /organisations?type=Skolenhet``: the school units and their names.
- ``GET /duties?expand=person&expandReferenceNames=true``: the mentors ("Mentor"
  assignment roles), each duty's person embedded and its groups named. Always whole: a
  mentor has no id of their own, so only the whole list can say who no longer is one.
- A full read: ``GET /persons?relationship.entity.type=enrolment&expand=groupMemberships``
  (the pupils, with their enrolments, responsibles and class memberships), then
  ``GET /persons?relationship.entity.type=responsibleFor.enrolment`` (their guardians).
- A delta (``modified_after``): ``GET /persons?meta.modified.after=...&expand=groupMemberships
  &expand=responsibleFor`` (everyone changed: a changed guardian's pupils are read again),
  ``GET /groups?groupType=Klass&meta.modified.after=...`` (a changed class's members are
  read again), ``GET /deletedEntities?after=...&entities=Person``, and
  ``POST /persons/lookup?expand=groupMemberships`` for the pupils those touched whose own
  record did not change.
- ``POST /persons/lookup`` for whoever else a returned pupil or a mentor names and was not
  read yet (a guardian outside the lists, a duty's person that came without ``expand``).

Everything is read before anything is returned: a failure at any page fails the read.
A delta cannot see a membership deleted outright (rather than ended) from a class, nor the
members of a class deleted since; the daily full read puts those right.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from ivr.roster.records import SourceRoster
from ivr.roster.ss12000 import RosterAssembler
from ivr.roster.ss12000_connection import SchoolSystemConnection, SchoolSystemError
from ivr.roster.ss12000_http import SchoolSystemApi

__all__ = ["SchoolSystemConnection", "SchoolSystemError", "read_school_system"]

log = logging.getLogger(__name__)
NAMES = {"expandReferenceNames": "true"}


async def read_school_system(
    connection: SchoolSystemConnection,
    *,
    country: str,
    today: date,
    modified_after: datetime | None,
) -> SourceRoster:
    """The roster the school's system holds today (``modified_after`` None), or what
    changed since ``modified_after`` (a delta). Raises ``SchoolSystemError``."""
    started = time.monotonic()
    assembler = RosterAssembler(
        today=today, country_code=country, guardian_relations=connection.guardian_relations
    )
    with _COLLECTOR.paused():
        async with SchoolSystemApi.open(connection) as api:
            await _read(api, assembler, modified_after)
            requests = api.requests
        roster = assembler.roster(full=modified_after is None)
    log.info(
        "read the school's system (SS 12000): %s",
        "full" if roster.full else "changes",
        extra={
            "schools": len(roster.schools),
            "pupils": len(roster.pupils),
            "mentors": len(roster.mentors),
            "left": len(roster.left),
            "problems": len(roster.problems),
            "requests": requests,
            "seconds": round(time.monotonic() - started, 3),
        },
    )
    return roster


async def _read(
    api: SchoolSystemApi, assembler: RosterAssembler, modified_after: datetime | None
) -> None:
    async for page in api.pages("/organisations", {"type": "Skolenhet"}):
        assembler.add_organisations(_entities(page, "/organisations"))
    duties = {"expand": "person", **NAMES}
    async for page in api.pages("/duties", duties):
        assembler.add_duties(_entities(page, "/duties"))
    if modified_after is None:
        await _read_everyone(api, assembler)
    else:
        await _read_changes(api, assembler, _timestamp(modified_after))
    missing = assembler.missing_people()
    if missing:
        assembler.add_persons(await api.lookup(missing))


async def _read_everyone(api: SchoolSystemApi, assembler: RosterAssembler) -> None:
    pupils = {
        "relationship.entity.type": "enrolment",
        "expand": "groupMemberships",
        **NAMES,
    }
    async for page in api.pages("/persons", pupils):
        assembler.add_persons(_entities(page, "/persons"))
    guardians = {"relationship.entity.type": "responsibleFor.enrolment", **NAMES}
    async for page in api.pages("/persons", guardians):
        assembler.add_persons(_entities(page, "/persons"))


async def _read_changes(api: SchoolSystemApi, assembler: RosterAssembler, since: str) -> None:
    changed = {
        "meta.modified.after": since,
        "expand": ["groupMemberships", "responsibleFor"],
        **NAMES,
    }
    async for page in api.pages("/persons", changed):
        assembler.add_persons(_entities(page, "/persons"))
    classes = {"groupType": "Klass", "meta.modified.after": since}
    async for page in api.pages("/groups", classes):
        assembler.add_groups(_entities(page, "/groups"))
    async for page in api.pages("/deletedEntities", {"after": since, "entities": "Person"}):
        if not isinstance(page, dict):
            raise _not_a_list("/deletedEntities", "an object of lists of ids")
        assembler.add_deleted(page)
    touched = assembler.to_fetch()
    if touched:
        assembler.add_persons(await api.lookup(touched, expand=["groupMemberships"]))


class _CollectorPause:
    """The cyclic garbage collector waits while reads run. A read builds millions of objects
    (the pages' JSON, then what is kept of it) and nearly all of them live until the page is
    done or the read ends: the collector's passes over them are pure cost, more than the
    read itself (a hundred thousand pupils: 33 s of CPU instead of 14 s). Reference counting
    frees everything else as always; the collector resumes when the last read ends, as it
    was before the first began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reads = 0
        self._resume = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self._lock:
            if self._reads == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._reads += 1
        try:
            yield
        finally:
            with self._lock:
                self._reads -= 1
                if self._reads == 0 and self._resume:
                    gc.enable()


_COLLECTOR = _CollectorPause()


def _entities(page: object, path: str) -> list[object]:
    if not isinstance(page, list):
        raise _not_a_list(path, "a list")
    return page


def _not_a_list(path: str, what: str) -> SchoolSystemError:
    return SchoolSystemError(
        f"the SS 12000 API answered GET {path} with something that is not the standard's "
        f"JSON (its data is not {what}): check that IVR_SS12000_URL is the base address "
        "of an SS 12000 API"
    )


def _timestamp(moment: datetime) -> str:
    """RFC 3339, as the standard's date-time parameters are (UTC when ``moment`` is naive)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()
