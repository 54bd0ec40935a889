"""The page ``/staff``: the day's reported absences of the token's schools, by group, for
the class team's check before the first lesson. Server-rendered; works without scripts.

Signing in: the link ``/staff?token=...`` sets the token in a cookie (HttpOnly, so scripts
cannot read it; SameSite=Strict, so no other site's page can make the browser send it) and
sends the browser on to ``/staff``, so the token leaves the address bar and history. A
link followed from another site (an email) would lose a SameSite=Strict cookie on an HTTP
redirect; that answer is a page that moves on by itself instead.

Once the organisation's staff sign in with their own account (``ivr.feed.sign_in``), the
page takes no token, in the link or the cookie: a person's session instead, and a teacher
sees only their own groups.

Forms (acknowledge, cancel) are protected against cross-site request forgery three ways:
the cookie is SameSite=Strict; each form carries a CSRF token, an HMAC of the staff
token's hash under the secret key, which no other site can know; and a request whose
``Origin`` is another host is refused. The forms accept the cookie only, never a token in
the address.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ivr.domain.masking import masked_address
from ivr.domain.names import PupilName
from ivr.domain.statuses import AbsenceStatus
from ivr.feed import overview
from ivr.feed.access import COOKIE, csrf_token, page_access, token_for_page
from ivr.feed.forms import HEADERS, PAGE, Csrf, Day, form_access, html, page_url, parse_day
from ivr.feed.missing_page import PANEL, REFRESH_SECONDS, panel_context, roll_call_groups
from ivr.feed.sign_in import LOGOUT, sign_in_links
from ivr.i18n import Catalogue
from ivr.services.cancellation import cancel_report
from ivr.services.staff_texts import local, period_text, pupil_name, recipient_name
from ivr.store import audit, feed
from ivr.store.feed import AbsenceFilter, StaffAbsence
from ivr.store.models import Pupil
from ivr.store.sign_in import absence_place, providers, pupils_seen
from ivr.store.staff import StaffAccess
from ivr.web.state import (
    catalogue_for,
    catalogues_of,
    database_of,
    now_of,
    settings_of,
    today_for,
)

router = APIRouter(include_in_schema=False)

COOKIE_DAYS = 90


async def _unauthorised(request: Request, token_refused: bool = False) -> HTMLResponse:
    catalogue = catalogues_of(request)(None)
    found = await database_of(request).run(providers)
    response = html(
        "unauthorised.html",
        401,
        t=catalogue.text,
        lang=catalogue.language,
        sign_in=sign_in_links(found),
        token_refused=token_refused,
    )
    response.delete_cookie(COOKIE, path="/")
    return response


def _day(text: str | None, today: date) -> date:
    return parse_day(text) or today


def _sign_in(request: Request, token: str, day: str | None) -> Response:
    """Keep the token in a cookie and drop it from the address."""
    target = page_url(parse_day(day))
    if request.headers.get("sec-fetch-site", "none") in ("none", "same-origin"):
        response: Response = RedirectResponse(target, status_code=303, headers=HEADERS)
    else:
        response = html("continue.html", target=target)
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_DAYS * 24 * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings_of(request).public_base_url.startswith("https://"),
    )
    return response


@router.get(PAGE, response_class=HTMLResponse)
async def staff_page(
    request: Request,
    day: str | None = None,
    token: str | None = None,
    started: int | None = None,
    reported: int | None = None,
) -> Response:
    if token is not None:
        if await token_for_page(request, token) is None:
            return await _unauthorised(request, token_refused=True)
        return _sign_in(request, token, day)
    access = await page_access(request)
    if access is None:
        return await _unauthorised(request)
    catalogue = catalogue_for(request, access)
    today = today_for(access, now_of(request))
    shown = _day(day, today)
    days = overview.school_days(shown, access.country)
    school_ids = list(access.schools)

    def read(session: Session) -> tuple[list[StaffAbsence], list[overview.Span], list[Pupil]]:
        ids = feed.absences_covering(session, AbsenceFilter(school_ids, shown, shown))
        spans = feed.reported_days(
            session, school_ids, shown - timedelta(days=overview.WINDOW_DAYS - 1), shown
        )
        loaded = feed.load_absences(session, ids)
        seen = pupils_seen(session, access)  # a teacher's groups only
        if seen is not None:
            spans = [span for span in spans if span[0] in seen]
            loaded = [item for item in loaded if item.pupil.id in seen]
        flagged = feed.pupil_names(session, overview.worrying(days, spans))
        return loaded, spans, flagged

    items, spans, flagged = await database_of(request).run(read)
    now = now_of(request)
    roll = []
    if shown == today:
        roll = await database_of(request).run(
            lambda session: roll_call_groups(session, access, catalogue, shown, now)
        )
    panel = await panel_context(request, access, catalogue, shown)
    worrying = overview.worrying(days, spans)
    chart = overview.bar_chart(overview.absent_pupils_per_day(days, spans))
    return html(
        "staff.html",
        t=catalogue.text,
        lang=catalogue.language,
        catalogue=catalogue,
        schools=", ".join(access.schools.values()),
        day=shown,
        today=today,
        sections=[
            (school, group, [_row(catalogue, item, worrying) for item in found])
            for school, group, found in overview.by_group(items)
        ],
        count=len(items),
        chart=chart,
        flagged=[
            catalogue.text(
                "staff.flagged_line",
                pupil=PupilName.of(pupil).shown,
                group=pupil.group_name,
                school=access.schools.get(pupil.school_id, ""),
                days=worrying[pupil.id],
            )
            for pupil in sorted(flagged, key=lambda p: (p.group_name, *PupilName.of(p).order()))
        ],
        csrf=csrf_token(access, settings_of(request)),
        person=access.person,
        logout=LOGOUT,
        whole_schools=access.whole_schools,
        roll_call=roll,
        notice=_notice(catalogue, started, reported),
        panel_url=page_url(shown).replace(PAGE, PANEL, 1),
        refresh_seconds=REFRESH_SECONDS,
        outreaches=panel["outreaches"],
        csv_link="/api/v1/absences.csv?"
        + urlencode(
            {
                "from": shown.isoformat(),
                "to": shown.isoformat(),
                "separator": "comma" if catalogue.language == "en" else "semicolon",
            }
        ),
    )


def _notice(catalogue: Catalogue, started: int | None, reported: int | None) -> str | None:
    """What the last marking came to, once, after the form."""
    if started is None and reported is None:
        return None
    return catalogue.text("staff.missing.notice", started=started or 0, reported=reported or 0)


def _row(catalogue: Catalogue, item: StaffAbsence, worrying: dict[int, int]) -> dict[str, Any]:
    absence = item.absence
    reported = local(item, absence.reported_at)
    relation = "staff.caller_guardian" if absence.caller_is_guardian else "staff.caller_other"
    state = overview.confirmation_state(item)
    if state.total == 0:
        confirmations = catalogue.text("staff.no_recipients")
    elif state.all_delivered:
        confirmations = catalogue.text("staff.confirmations_delivered", count=state.total)
    else:
        confirmations = catalogue.text(
            "staff.confirmations_waiting", delivered=state.delivered, count=state.total
        )
    acknowledged = cancelled = None
    if absence.acknowledged_at is not None:
        acknowledged = catalogue.text(
            "staff.acknowledged",
            by=absence.acknowledged_by,
            time=local(item, absence.acknowledged_at).time(),
        )
    if absence.cancelled_at is not None:
        when = local(item, absence.cancelled_at)
        cancelled = catalogue.text(
            "staff.cancelled",
            by=absence.cancelled_by,
            date=catalogue.date(when.date(), short=True),
            time=when.time(),
            reason=absence.cancel_reason,
        )
    return {
        "reference": absence.reference,
        "pupil": pupil_name(item),
        "flagged": item.pupil.id in worrying,
        "period": period_text(catalogue, item),
        "reported": catalogue.text(
            "staff.reported",
            date=catalogue.date(reported.date(), short=True),
            time=reported.time(),
            caller=masked_address("sms", absence.caller),
        )
        + f" ({catalogue.text(relation)})",
        "confirmations": confirmations,
        "all_delivered": state.all_delivered,
        "failed": [
            catalogue.text(
                "staff.confirmation_failed",
                channel=catalogue.text(f"staff.channel_{message.channel}"),
                recipient=recipient_name(item, message.recipient_name),
                to=masked_address(message.channel, message.address),
            )
            for message in state.failed
        ],
        "acknowledged": acknowledged,
        "cancelled": cancelled,
        "active": absence.status == AbsenceStatus.ACTIVE,
    }


# --- the forms -------------------------------------------------------------------------------


def _find(session: Session, access: StaffAccess, reference: str) -> int:
    absence_id = feed.find_absence_id(session, list(access.schools), reference)
    if absence_id is None or not access.sees(*absence_place(session, absence_id)):
        raise HTTPException(status_code=404, detail="no such absence")
    return absence_id


@router.post(PAGE + "/absences/{reference}/acknowledge")
async def acknowledge_form(request: Request, reference: str, csrf: Csrf, day: Day = "") -> Response:
    access = await form_access(request, csrf)
    now = now_of(request)

    def work(session: Session) -> None:
        absence_id = _find(session, access, reference)
        if feed.acknowledge(session, absence_id, access.who, now):
            audit.record_absence(session, access, absence_id, "acknowledged", now)

    await database_of(request).run(work)
    return RedirectResponse(page_url(parse_day(day), f"absence-{reference}"), status_code=303)


@router.post(PAGE + "/absences/{reference}/cancel")
async def cancel_form(
    request: Request,
    reference: str,
    csrf: Csrf,
    reason: Annotated[str, Form(max_length=500)],
    day: Day = "",
) -> Response:
    access = await form_access(request, csrf)
    if not reason.strip():
        raise HTTPException(status_code=422, detail="say why the report is wrong")
    now, catalogues = now_of(request), catalogues_of(request)

    def work(session: Session) -> None:
        absence_id = _find(session, access, reference)
        if cancel_report(session, absence_id, access.who, reason.strip(), now, catalogues):
            audit.record_absence(session, access, absence_id, "cancelled", now)

    await database_of(request).run(work)
    return RedirectResponse(page_url(parse_day(day), f"absence-{reference}"), status_code=303)
