"""The API of missing pupils under ``/api/v1/missing``: mark pupils who are not at school
and were not reported (an attendance system can do it itself), follow each outreach, and
stop one when the pupil arrives."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from ivr.feed.access import ACCESS_ERRORS, StaffReader, StaffWriter, schools_asked
from ivr.feed.params import SchoolName
from ivr.feed.schemas import HHMM, NO_NUL
from ivr.services.missing import marking
from ivr.services.missing.rules import Rules, local_time
from ivr.services.missing.views import MissingPupil, OutreachState, missing_pupils
from ivr.store import audit
from ivr.store import outreach as store
from ivr.store.staff import StaffAccess
from ivr.web.state import database_of, invalid, now_of, today_for, wake_dispatcher

router = APIRouter(prefix="/api/v1", tags=["missing pupils"], responses=ACCESS_ERRORS)

# Marking a whole school at once is one transaction; give it time.
MARK_SECONDS = 120.0
PupilId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00]+$"),
]


class MarkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pupils: list[PupilId] = Field(
        min_length=1, max_length=2000, description="The school's `pupil_id`s, as in the roster."
    )
    since: str | None = Field(
        default=None,
        pattern=HHMM,
        description="Not at school since this time today (HH:MM); the default is now. A "
        "report covering this moment means the pupil is not contacted.",
    )
    school: str | None = Field(
        default=None,
        max_length=200,
        pattern=NO_NUL,
        description="The pupils' school; needed when the token has more than one.",
    )


class MarkedOut(BaseModel):
    pupil_id: str
    state: Literal["started", "already_started", "already_reported"] = Field(
        description="`started`: the guardians are being reached; `already_started`: the "
        "pupil was marked before today; `already_reported`: a report covers the moment, "
        "nobody is contacted."
    )
    outreach: str | None = Field(description="The outreach's reference (None: reported).")
    status: OutreachState | None


class MarkResponse(BaseModel):
    pupils: list[MarkedOut]


_NOT_FOUND = HTTPException(status_code=404, detail="no such outreach in the token's schools")
_ONE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No outreach with that reference in the token's schools."}
}


def _since(text: str | None, now: datetime, timezone: str) -> time | None:
    if text is None:
        return None
    try:
        since = time.fromisoformat(text)
    except ValueError:
        raise invalid("body", "since", "not a time of day: use HH:MM, 00:00 to 23:59") from None
    if since > local_time(now, timezone).time():
        raise invalid("body", "since", "a time later than now: give the time the pupil was missed")
    return since


def _school_ids(access: StaffAccess, school: str | None) -> list[int]:
    if school is None and len(access.schools) > 1:
        raise invalid("body", "school", "this token has several schools: name the pupils' school")
    return schools_asked(access, school)


@router.post(
    "/missing",
    responses={422: {"description": "An unknown pupil id (nothing was marked), or a bad time."}},
)
async def mark(request: Request, access: StaffWriter, body: MarkRequest) -> MarkResponse:
    """Mark pupils as not at school. The guardians of each are reached at once, by SMS and
    a call. All or nothing: if one id is unknown, nobody is marked. A pupil marked before
    today keeps the one outreach; a pupil with a report covering the moment is not
    contacted."""
    now = now_of(request)
    since = _since(body.since, now, access.timezone)
    school_ids = _school_ids(access, body.school)
    rules: Rules = request.app.state.missing_rules

    def work(session: Session) -> list[MarkedOut]:
        marked = marking.mark_missing(
            session,
            rules,
            organisation_id=access.organisation_id,
            timezone=access.timezone,
            school_ids=school_ids,
            pupil_ids=body.pupils,
            by=access.who,
            now=now,
            since=since,
        )
        for m in marked:
            if m.state == "started" and m.outreach is not None:
                outreach_id = store.find_outreach(session, school_ids, m.outreach)
                if outreach_id is not None:
                    audit.record_outreach(session, access, outreach_id, "marked_missing", now)
        statuses = store.statuses_of(session, [m.outreach for m in marked if m.outreach])
        return [
            MarkedOut(
                pupil_id=m.pupil_id,
                state=m.state,
                outreach=m.outreach,
                status=statuses.get(m.outreach) if m.outreach else None,
            )
            for m in marked
        ]

    try:
        results = await database_of(request).run(work, within=MARK_SECONDS)
    except marking.UnknownPupils as unknown:
        raise invalid(
            "body",
            "pupils",
            f"no such pupil in the token's schools: {', '.join(unknown.pupil_ids)}; nobody "
            "was marked. Check the ids against the roster.",
        ) from None
    wake_dispatcher(request)
    return MarkResponse(pupils=results)


@router.get("/missing")
async def list_missing(
    request: Request,
    access: StaffReader,
    day: Annotated[
        date | None, Query(alias="date", description="The day; today if left out.")
    ] = None,
    school: SchoolName = None,
) -> list[MissingPupil]:
    """The day's outreaches of the token's schools, newest first."""
    school_ids = schools_asked(access, school)
    shown = day or today_for(access, now_of(request))
    return await database_of(request).run(
        lambda session: missing_pupils(session, store.outreaches_of(session, school_ids, shown))
    )


def _find(session: Session, access: StaffAccess, reference: str) -> int:
    outreach_id = store.find_outreach(session, list(access.schools), reference)
    if outreach_id is None:
        raise _NOT_FOUND
    return outreach_id


@router.get("/missing/{reference}", responses=_ONE)
async def one_missing(request: Request, access: StaffReader, reference: str) -> MissingPupil:
    """One outreach, with every step."""
    [found] = await database_of(request).run(
        lambda session: missing_pupils(session, [_find(session, access, reference)])
    )
    return found


@router.post("/missing/{reference}/arrived", responses=_ONE)
async def arrived(request: Request, access: StaffWriter, reference: str) -> MissingPupil:
    """The pupil is at school: the outreach stops (calls in progress end, calls not yet
    placed are not), and the guardians already reached are told. Once it has ended,
    nothing changes."""
    now = now_of(request)
    rules: Rules = request.app.state.missing_rules

    def work(session: Session) -> MissingPupil:
        outreach_id = _find(session, access, reference)
        if marking.arrived(session, rules, outreach_id=outreach_id, by=access.who, now=now):
            audit.record_outreach(session, access, outreach_id, "arrived", now)
        [found] = missing_pupils(session, [outreach_id])
        return found

    found = await database_of(request).run(work)
    wake_dispatcher(request)
    return found
