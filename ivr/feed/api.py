"""The JSON API under ``/api/v1``: absences of the token's schools, and acknowledging or
cancelling one.

``GET /api/v1/absences`` is also the feed a school system polls: absences come in the order
they last changed, and ``next`` is the position after the page. Pass it back as ``since``
to get only what changed after it; every change is seen, none twice (``ivr.store.feed``
explains the order and why concurrent reports cannot be skipped). An absence changed again
(acknowledged, cancelled) comes again, in its new state.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy.orm import Session

from ivr.feed.access import ACCESS_ERRORS, StaffReader, StaffWriter, schools_asked
from ivr.feed.params import From, Group, SchoolName, To
from ivr.feed.schemas import Absence, AbsencePage, CancelRequest, School, absence_out
from ivr.services.cancellation import cancel_report
from ivr.store import audit, feed
from ivr.store.feed import START, AbsenceFilter, Position
from ivr.store.staff import StaffAccess
from ivr.web.state import catalogues_of, database_of, invalid, now_of

router = APIRouter(prefix="/api/v1", tags=["staff feed"], responses=ACCESS_ERRORS)

_CURSOR = re.compile(r"^(\d{1,19})-(\d{1,19})$")
CURSOR_PATTERN = _CURSOR.pattern


def encode_cursor(position: Position) -> str:
    return f"{position.transaction_id}-{position.event_id}"


def decode_cursor(cursor: str | None) -> Position:
    if not cursor:
        return START
    match = _CURSOR.match(cursor)
    if match is None:
        raise invalid("query", "since", "not a cursor from this API")
    return Position(int(match[1]), int(match[2]))


_NOT_FOUND = HTTPException(status_code=404, detail="no such absence")

_ONE_ABSENCE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No absence with that reference in the token's schools."}
}


@router.get("/schools")
async def schools(request: Request, access: StaffReader) -> list[School]:
    """The schools this token shows, with their groups."""
    school_ids = list(access.schools)
    groups = await database_of(request).run(lambda session: feed.groups_of(session, school_ids))
    return [
        School(name=name, groups=[group for school, group in groups if school == name])
        for name in access.schools.values()
    ]


@router.get("/absences")
async def list_absences(
    request: Request,
    access: StaffReader,
    start: From = None,
    end: To = None,
    school: SchoolName = None,
    group: Group = None,
    since: Annotated[
        str | None,
        Query(max_length=40, description="`next` of the previous page: only what changed after."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many changes.")] = 100,
) -> AbsencePage:
    """Absences in the order they last changed (reported, acknowledged, cancelled)."""
    which = AbsenceFilter(schools_asked(access, school), start, end, group)
    after = decode_cursor(since)

    def read(session: Session) -> tuple[feed.Changes, list[feed.StaffAbsence]]:
        changes = feed.changes_after(session, after, which, limit)
        return changes, feed.load_absences(session, changes.absence_ids)

    changes, items = await database_of(request).run(read)
    return AbsencePage(
        absences=[absence_out(item) for item in items],
        next=encode_cursor(changes.last),
        more=changes.more,
    )


def _find(session: Session, access: StaffAccess, reference: str) -> int:
    absence_id = feed.find_absence_id(session, list(access.schools), reference)
    if absence_id is None:
        raise _NOT_FOUND
    return absence_id


async def _one(request: Request, access: StaffAccess, reference: str) -> Absence:
    def read(session: Session) -> feed.StaffAbsence:
        [item] = feed.load_absences(session, [_find(session, access, reference)])
        return item

    return absence_out(await database_of(request).run(read))


@router.get("/absences/{reference}", responses=_ONE_ABSENCE)
async def one_absence(request: Request, access: StaffReader, reference: str) -> Absence:
    """One absence by its reference."""
    return await _one(request, access, reference)


@router.post("/absences/{reference}/acknowledge", responses=_ONE_ABSENCE)
async def acknowledge(request: Request, access: StaffWriter, reference: str) -> Absence:
    """Mark an absence as seen by staff. The first acknowledgement is kept."""
    now = now_of(request)

    def work(session: Session) -> None:
        absence_id = _find(session, access, reference)
        if feed.acknowledge(session, absence_id, access.who, now):
            audit.record_absence(session, access, absence_id, "acknowledged", now)

    await database_of(request).run(work)
    return await _one(request, access, reference)


@router.post("/absences/{reference}/cancel", responses=_ONE_ABSENCE)
async def cancel(
    request: Request, access: StaffWriter, reference: str, body: CancelRequest
) -> Absence:
    """Cancel a wrong report. Everyone who got its confirmation is told, on the same
    channels. Cancelling again changes nothing."""
    reason = body.reason.strip()
    if not reason:
        raise invalid("body", "reason", "say why the report is wrong")
    now, catalogues = now_of(request), catalogues_of(request)

    def work(session: Session) -> None:
        absence_id = _find(session, access, reference)
        if cancel_report(session, absence_id, access.who, reason, now, catalogues):
            audit.record_absence(session, access, absence_id, "cancelled", now)

    await database_of(request).run(work)
    return await _one(request, access, reference)
