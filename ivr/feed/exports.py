"""The absences as an Atom feed (for feed readers) and as CSV (for spreadsheets)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ivr.domain.statuses import MessageStatus
from ivr.feed import atom, spreadsheet
from ivr.feed.access import ACCESS_ERRORS, StaffReader, schools_asked
from ivr.feed.params import From, Group, SchoolName, To
from ivr.i18n import Catalogue
from ivr.services.staff_texts import (
    caller_note,
    caller_text,
    last_change,
    local,
    period_text,
    pupil_name,
)
from ivr.store import feed
from ivr.store.feed import AbsenceFilter, StaffAbsence
from ivr.web.state import catalogue_for, database_of, invalid, now_of, settings_of, today_for

router = APIRouter(prefix="/api/v1", tags=["staff feed"], responses=ACCESS_ERRORS)

FEED_SIZE = 100
LONGEST_EXPORT = timedelta(days=366)


def _entry(item: StaffAbsence, catalogue: Catalogue, base_url: str) -> atom.Entry:
    absence = item.absence
    reported = local(item, absence.reported_at)
    values = {
        "pupil": pupil_name(item),
        "group": item.pupil.group_name,
        "school": item.school.name,
        "period": period_text(catalogue, item),
    }
    cancelled = absence.cancelled_at is not None
    summary = [
        catalogue.text(
            "feed.summary",
            date=reported.date(),
            time=reported.time(),
            caller=caller_text(item),
            caller_note=caller_note(catalogue, item),
            reference=absence.reference,
        )
    ]
    if absence.acknowledged_at is not None:
        seen = local(item, absence.acknowledged_at)
        summary.append(
            catalogue.text(
                "feed.summary_acknowledged",
                by=absence.acknowledged_by,
                date=seen.date(),
                time=seen.time(),
            )
        )
    if absence.cancelled_at is not None:
        when = local(item, absence.cancelled_at)
        summary.append(
            catalogue.text(
                "feed.summary_cancelled",
                by=absence.cancelled_by,
                date=when.date(),
                time=when.time(),
                reason=absence.cancel_reason,
            )
        )
    return atom.Entry(
        id=atom.absence_entry_id(absence.reference),
        title=catalogue.text(
            "feed.entry_title_cancelled" if cancelled else "feed.entry_title", **values
        ),
        summary=" ".join(summary),
        published=reported,
        updated=local(item, last_change(item)),
        link=f"{base_url}/staff?day={absence.start_date.isoformat()}",
        category=absence.status,
    )


@router.get(
    "/absences.atom",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}, "description": "An Atom feed."}},
)
async def atom_feed(request: Request, access: StaffReader, school: SchoolName = None) -> Response:
    """The latest reported absences as an Atom feed; an entry is updated when its absence
    is acknowledged or cancelled. Feed readers pass the token as `?token=`."""
    school_ids = schools_asked(access, school)
    settings = settings_of(request)
    catalogue = catalogue_for(request, access)
    items = await database_of(request).run(
        lambda session: feed.load_absences(
            session, feed.recently_changed(session, school_ids, FEED_SIZE)
        )
    )
    base = settings.public_base_url
    entries = [_entry(item, catalogue, base) for item in items]
    schools = ", ".join(access.schools[school_id] for school_id in school_ids)
    document = atom.Feed(
        id=atom.feed_id(access.token_hash),
        title=catalogue.text("feed.title", schools=schools),
        author=access.organisation_name,
        self_link=f"{base}/api/v1/absences.atom",
        alternate_link=f"{base}/staff",
        updated=max((entry.updated for entry in entries), default=now_of(request)),
        entries=entries,
    )
    return Response(atom.atom_document(document), media_type=atom.CONTENT_TYPE)


CSV_HEADER = (
    "reference",
    "pupil_id",
    "pupil",
    "school",
    "group",
    "start_date",
    "start_time",
    "end_date",
    "end_time",
    "reported_at",
    "caller",
    "caller_is_guardian",
    "status",
    "acknowledged_by",
    "acknowledged_at",
    "cancelled_by",
    "cancelled_at",
    "cancel_reason",
    "confirmations",
    "confirmations_failed",
)


def _minutes(item: StaffAbsence, moment: datetime | None) -> str:
    if moment is None:
        return ""
    return local(item, moment).strftime("%Y-%m-%d %H:%M")


def csv_row(item: StaffAbsence) -> list[str]:
    absence = item.absence
    confirmations = item.messages_of("confirmation")
    return [
        absence.reference,
        item.pupil.external_id,
        spreadsheet.as_text(pupil_name(item)),
        spreadsheet.as_text(item.school.name),
        spreadsheet.as_text(item.pupil.group_name),
        absence.start_date.isoformat(),
        absence.start_time.strftime("%H:%M") if absence.start_time else "",
        absence.end_date.isoformat(),
        absence.end_time.strftime("%H:%M") if absence.end_time else "",
        _minutes(item, absence.reported_at),
        caller_text(item),
        "yes" if absence.caller_is_guardian else "no",
        absence.status,
        spreadsheet.as_text(absence.acknowledged_by or ""),
        _minutes(item, absence.acknowledged_at),
        spreadsheet.as_text(absence.cancelled_by or ""),
        _minutes(item, absence.cancelled_at),
        spreadsheet.as_text(absence.cancel_reason or ""),
        str(len(confirmations)),
        str(sum(message.status == MessageStatus.FAILED for message in confirmations)),
    ]


@router.get(
    "/absences.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 with a BOM."}},
)
async def csv_export(
    request: Request,
    access: StaffReader,
    start: From = None,
    end: To = None,
    school: SchoolName = None,
    group: Group = None,
    separator: Annotated[
        spreadsheet.Separator,
        Query(description="`semicolon` for a spreadsheet with a Swedish (decimal comma) locale."),
    ] = "comma",
) -> Response:
    """Absences that touch the days from `from` to `to` (default: today), in report order.
    Times are in the organisation's time zone."""
    today = today_for(access, now_of(request))
    first: date = start or end or today
    last: date = end or start or today
    if last < first or last - first > LONGEST_EXPORT:
        raise invalid("query", "to", "from..to: at most a year, from before to")
    which = AbsenceFilter(schools_asked(access, school), first, last, group)
    items = await database_of(request).run(
        lambda session: feed.load_absences(session, feed.absences_covering(session, which))
    )
    body = spreadsheet.write_csv(CSV_HEADER, (csv_row(item) for item in items), separator)
    filename = f"absences-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        body,
        media_type=spreadsheet.CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
