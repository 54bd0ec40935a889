"""Missing pupils on the page ``/staff``: the roll call (each group's pupils for the day;
tick those not here, send them in one action) and the outreaches, which the page follows
live: a small script fetches the panel again every few seconds and puts it in place, so
nothing reloads and a screen reader hears what changed. Without scripts, reloading the page
shows the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ivr.domain.names import PupilName
from ivr.feed.access import csrf_token
from ivr.feed.forms import PAGE, Csrf, Day, cookie_access, form_access, html, page_url, parse_day
from ivr.i18n import Catalogue
from ivr.services.missing import marking
from ivr.services.missing.rules import OPEN, Rules, local_time
from ivr.services.missing.views import MissingPupil, missing_pupils
from ivr.store import audit
from ivr.store import outreach as store
from ivr.store.roll_call import reported_in_schools, roll_call
from ivr.store.sign_in import outreach_place, pupil_groups
from ivr.store.staff import StaffAccess
from ivr.web.state import (
    catalogue_for,
    database_of,
    now_of,
    settings_of,
    today_for,
    wake_dispatcher,
)

router = APIRouter(include_in_schema=False)

PANEL = PAGE + "/missing/panel"
SCRIPT = PAGE + "/missing.js"
REFRESH_SECONDS = 3
_SCRIPT_TEXT = resources.files("ivr.feed").joinpath("templates/missing.js").read_text("utf-8")


# --- what the page shows -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RollCallPupil:
    name: str
    value: str  # what the form sends: the school's id and the pupil's roster id
    state: str  # here (may be ticked), reported, or the outreach's status
    note: str = ""


@dataclass(slots=True)
class RollCallGroup:
    school: str
    name: str
    pupils: list[RollCallPupil] = field(default_factory=list)

    @property
    def reported(self) -> int:
        return sum(pupil.state == "reported" for pupil in self.pupils)


def roll_call_groups(
    session: Session, access: StaffAccess, catalogue: Catalogue, day: date, now: datetime
) -> list[RollCallGroup]:
    """Each group's pupils of the day: reported now, already being reached, or here."""
    school_ids = list(access.schools)
    found = roll_call(session, school_ids, day)
    moment = local_time(now, access.timezone).time()
    reported = reported_in_schools(session, school_ids, day, moment)
    groups = []
    for (school_id, group), pupils in groupby(
        found.pupils, key=lambda pupil: (pupil.school_id, pupil.group_name)
    ):
        if not access.sees(school_id, group):
            continue
        shown = RollCallGroup(access.schools[school_id], group)
        for pupil in sorted(pupils, key=lambda pupil: PupilName.of(pupil).order()):
            name = PupilName.of(pupil).shown
            outreach = found.outreaches.get(pupil.id)
            if outreach is not None:
                state = outreach[1]
                note = catalogue.text(f"staff.missing.status_{state}")
            elif pupil.id in reported:
                state, note = "reported", catalogue.text("staff.missing.reported")
            else:
                state, note = "here", ""
            shown.pupils.append(
                RollCallPupil(name, f"{school_id}:{pupil.external_id}", state, note)
            )
        groups.append(shown)
    return groups


def _event_text(catalogue: Catalogue, kind: str, detail: str) -> str:
    if kind.startswith("call_"):
        outcome = catalogue.text(f"staff.missing.call_{kind.removeprefix('call_')}")
        return catalogue.text("staff.missing.event_call", name=detail, outcome=outcome)
    if kind.startswith("alert_"):
        reason = catalogue.text(f"staff.missing.{kind}", name=detail)
        return catalogue.text("staff.missing.event_alert", reason=reason)
    return catalogue.text(f"staff.missing.event_{kind}", detail=detail)


def _state_text(catalogue: Catalogue, outreach: MissingPupil, minutes: int) -> str:
    first_name = outreach.pupil.split(" ")[0]
    if outreach.status == "missing" and outreach.alert is not None:
        who = next((c.name for c in outreach.contacts if c.answer == "does_not_know"), "")
        reason = catalogue.text(
            f"staff.missing.alert_{outreach.alert.reason}", name=who, minutes=minutes
        )
        return catalogue.text("staff.missing.state_missing", first_name=first_name, reason=reason)
    if outreach.status == "away":
        who = outreach.answered.by if outreach.answered else ""
        return catalogue.text("staff.missing.state_away", name=who, first_name=first_name)
    if outreach.status == "arrived" and outreach.ended is not None:
        return catalogue.text(
            "staff.missing.state_arrived", by=outreach.ended.by, time=outreach.ended.at.time()
        )
    return catalogue.text("staff.missing.state_active")


def panel_rows(
    catalogue: Catalogue, outreaches: Sequence[MissingPupil], minutes: int
) -> list[dict[str, Any]]:
    rows = []
    for outreach in outreaches:
        rows.append(
            {
                "reference": outreach.reference,
                "status": outreach.status,
                "pupil": outreach.pupil,
                "where": f"{outreach.group}, {outreach.school}",
                "state": _state_text(catalogue, outreach, minutes),
                "marked": catalogue.text(
                    "staff.missing.marked_by",
                    by=outreach.marked.by,
                    time=outreach.marked.at.time(),
                ),
                "absence": outreach.absence,
                "open": outreach.status in OPEN,
                "contacts": [
                    {
                        "name": contact.name,
                        "phone": contact.phone or catalogue.text("staff.missing.no_phone"),
                        "sms": catalogue.text(f"staff.missing.sms_{contact.sms}")
                        if contact.sms
                        else "",
                        "call": catalogue.text(f"staff.missing.call_{contact.call}")
                        if contact.call
                        else "",
                        "calls": contact.calls_placed,
                        "answer": catalogue.text(f"staff.missing.answer_{contact.answer}")
                        if contact.answer
                        else "",
                        "reached": contact.reached or not contact.phone,
                    }
                    for contact in outreach.contacts
                ],
                "events": [
                    (event.at.time(), _event_text(catalogue, event.kind, event.detail))
                    for event in outreach.events
                ],
            }
        )
    return rows


async def panel_context(
    request: Request, access: StaffAccess, catalogue: Catalogue, day: date
) -> dict[str, Any]:
    """What the outreach panel needs, for the page and for the panel fetched alone."""
    school_ids = list(access.schools)
    outreaches = await database_of(request).run(
        lambda session: missing_pupils(session, store.outreaches_of(session, school_ids, day))
    )
    outreaches = [o for o in outreaches if access.sees(access.school_id(o.school) or 0, o.group)]
    minutes = settings_of(request).missing_escalate_minutes
    return {
        "outreaches": panel_rows(catalogue, outreaches, minutes),
        "csrf": csrf_token(access, settings_of(request)),
        "day": day,
        "t": catalogue.text,
    }


# --- the routes ------------------------------------------------------------------------------


@router.get(PANEL, response_class=HTMLResponse)
async def panel(request: Request, day: str | None = None) -> Response:
    """The outreach panel alone, for the page's script."""
    access = await cookie_access(request)
    if access is None:
        return Response(status_code=401)
    catalogue = catalogue_for(request, access)
    shown = parse_day(day) or today_for(access, now_of(request))
    return html("outreaches.html", **await panel_context(request, access, catalogue, shown))


@router.get(SCRIPT)
async def script() -> Response:
    return Response(
        _SCRIPT_TEXT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )


def _pupils_by_school(access: StaffAccess, values: Sequence[str]) -> dict[int, list[str]]:
    chosen: dict[int, list[str]] = {}
    for value in values:
        school, _colon, pupil_id = value.partition(":")
        if (
            not school.isdigit()
            or int(school) not in access.schools
            or not pupil_id
            or "\x00" in pupil_id
        ):
            raise HTTPException(status_code=422, detail="a pupil not of your schools; reload")
        chosen.setdefault(int(school), []).append(pupil_id)
    return chosen


@router.post(PAGE + "/missing")
async def mark_form(
    request: Request,
    csrf: Csrf,
    pupil: Annotated[list[str] | None, Form(max_length=80)] = None,
    day: Day = "",
) -> Response:
    """The ticked pupils, all at once: their guardians are reached now."""
    access = await form_access(request, csrf)
    chosen = _pupils_by_school(access, pupil or [])
    now = now_of(request)
    rules: Rules = request.app.state.missing_rules

    def work(session: Session) -> list[marking.Marked]:
        for school_id, pupil_ids in chosen.items():
            groups = pupil_groups(session, school_id, pupil_ids)
            if not all(access.sees(school_id, group) for group in groups.values()):
                raise HTTPException(status_code=422, detail="a pupil not of your groups; reload")
        results: list[marking.Marked] = []
        for school_id, pupil_ids in chosen.items():
            marked = marking.mark_missing(
                session,
                rules,
                organisation_id=access.organisation_id,
                timezone=access.timezone,
                school_ids=[school_id],
                pupil_ids=pupil_ids,
                by=access.who,
                now=now,
            )
            for result in marked:
                if result.state == "started" and result.outreach is not None:
                    audit.record(session, access, "marked_missing", result.outreach, school_id, now)
            results.extend(marked)
        return results

    try:
        results = await database_of(request).run(work, within=120)
    except marking.UnknownPupils:
        raise HTTPException(
            status_code=422, detail="a pupil is no longer in the roster; reload the page"
        ) from None
    wake_dispatcher(request)
    started = sum(result.state == "started" for result in results)
    reported = sum(result.state == "already_reported" for result in results)
    return RedirectResponse(
        page_url(parse_day(day), "missing", started=str(started), reported=str(reported)),
        status_code=303,
    )


@router.post(PAGE + "/missing/{reference}/arrived")
async def arrived_form(request: Request, reference: str, csrf: Csrf, day: Day = "") -> Response:
    access = await form_access(request, csrf)
    now = now_of(request)
    rules: Rules = request.app.state.missing_rules

    def work(session: Session) -> None:
        outreach_id = store.find_outreach(session, list(access.schools), reference)
        if outreach_id is None or not access.sees(*outreach_place(session, outreach_id)):
            raise HTTPException(status_code=404, detail="no such outreach")
        if marking.arrived(session, rules, outreach_id=outreach_id, by=access.who, now=now):
            audit.record_outreach(session, access, outreach_id, "arrived", now)

    await database_of(request).run(work)
    wake_dispatcher(request)
    return RedirectResponse(page_url(parse_day(day), f"outreach-{reference}"), status_code=303)
