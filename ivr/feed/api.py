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
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from ivr.feed.access import StaffReader, StaffWriter, schools_asked
from ivr.feed.cancellation import cancel_report
from ivr.feed.schemas import Absence, AbsencePage, CancelRequest, School, absence_out
from ivr.feed.web import catalogues_of, now_of, sessions_of
from ivr.store import feed
from ivr.store.feed import START, AbsenceFilter, Position
from ivr.store.staff import StaffAccess

router = APIRouter(prefix="/api/v1", tags=["staff feed"])

_CURSOR = re.compile(r"^(\d{1,19})-(\d{1,19})$")
CURSOR_PATTERN = _CURSOR.pattern


def encode_cursor(position: Position) -> str:
    return f"{position.transaction_id}-{position.event_id}"


def decode_cursor(cursor: str | None) -> Position:
    if not cursor:
        return START
    match = _CURSOR.match(cursor)
    if match is None:
        raise HTTPException(status_code=422, detail="since: not a cursor from this API")
    return Position(int(match[1]), int(match[2]))


_NOT_FOUND = HTTPException(status_code=404, detail="no such absence")

From = Annotated[
    date | None, Query(alias="from", description="Only absences that end on or after this day.")
]
To = Annotated[
    date | None, Query(alias="to", description="Only absences that start on or before this day.")
]
SchoolName = Annotated[
    str | None, Query(max_length=200, description="One of the token's schools; default all.")
]
Group = Annotated[str | None, Query(max_length=100, description="Only pupils of this group.")]


@router.get("/schools")
async def schools(request: Request, access: StaffReader) -> list[School]:
    """The schools this token shows, with their groups."""
    async with sessions_of(request)() as session, session.begin():
        groups = await feed.groups_of(session, list(access.schools))
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
    async with sessions_of(request)() as session, session.begin():
        changes = await feed.changes_after(session, after, which, limit)
        items = await feed.load_absences(session, changes.absence_ids)
    return AbsencePage(
        absences=[absence_out(item) for item in items],
        next=encode_cursor(changes.last),
        more=changes.more,
    )


async def _one(request: Request, access: StaffAccess, reference: str) -> Absence:
    async with sessions_of(request)() as session, session.begin():
        absence_id = await feed.find_absence_id(session, list(access.schools), reference)
        if absence_id is None:
            raise _NOT_FOUND
        [item] = await feed.load_absences(session, [absence_id])
    return absence_out(item)


@router.get("/absences/{reference}")
async def one_absence(request: Request, access: StaffReader, reference: str) -> Absence:
    """One absence by its reference."""
    return await _one(request, access, reference)


@router.post("/absences/{reference}/acknowledge")
async def acknowledge(request: Request, access: StaffWriter, reference: str) -> Absence:
    """Mark an absence as seen by staff. The first acknowledgement is kept."""
    async with sessions_of(request)() as session, session.begin():
        absence_id = await feed.find_absence_id(session, list(access.schools), reference)
        if absence_id is None:
            raise _NOT_FOUND
        await feed.acknowledge(session, absence_id, access.who, now_of(request))
    return await _one(request, access, reference)


@router.post("/absences/{reference}/cancel")
async def cancel(
    request: Request, access: StaffWriter, reference: str, body: CancelRequest
) -> Absence:
    """Cancel a wrong report. Everyone who got its confirmation is told, on the same
    channels. Cancelling again changes nothing."""
    reason = body.reason.strip()
    if not reason:
        raise HTTPException(status_code=422, detail="reason: say why the report is wrong")
    async with sessions_of(request)() as session, session.begin():
        absence_id = await feed.find_absence_id(session, list(access.schools), reference)
        if absence_id is None:
            raise _NOT_FOUND
        await cancel_report(
            session, absence_id, access.who, reason, now_of(request), catalogues_of(request)
        )
    return await _one(request, access, reference)
