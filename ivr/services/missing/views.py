"""A missing pupil's outreach as staff see it, in the API, on the page and in ``ivr missing
list --json``: who marked the pupil, each guardian's SMS and call with its outcome, who
answered what, every step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ivr.domain.masking import masked_phone
from ivr.domain.names import PupilName
from ivr.domain.statuses import CallOutcome, MessageStatus
from ivr.services.missing.rules import SMS_KIND
from ivr.store import outreach as store
from ivr.store.models import OutreachContact
from ivr.store.outreach import OutreachView
from ivr.store.roll_call import absence_references, sms_statuses

OutreachState = Literal["active", "away", "missing", "arrived"]
CallState = Literal[
    "queued",
    "ringing",
    "answered",
    "no_answer",
    "busy",
    "voicemail",
    "failed",
    "completed",
    "cancelled",
]
HHMM = r"^\d{2}:\d{2}$"
SmsState = Literal["pending", "sending", "sent", "delivered", "failed", "cancelled"]


class Step(BaseModel):
    by: str
    at: datetime


class Alert(BaseModel):
    reason: Literal["guardian_does_not_know", "no_guardian_reached"] = Field(
        description="A guardian answered 2, or nobody answered in time."
    )
    at: datetime


class OutreachContactOut(BaseModel):
    """A guardian (or the pupil from 18) the line reaches by SMS and a call."""

    name: str
    phone: str | None = Field(description="Masked: `+46 70-*** ** 05`. None: no number.")
    sms: SmsState | None = Field(description="The SMS's state; None: no SMS (no number).")
    call: CallState | None = Field(description="The last call's outcome; None: no number.")
    calls_placed: int = Field(description="Calls that reached the network (a recall is one).")
    reached: bool = Field(
        description="An SMS left the provider, a call rang, or the guardian answered."
    )
    answer: Literal["away", "does_not_know"] | None
    answered_at: datetime | None


class OutreachEventOut(BaseModel):
    at: datetime
    kind: str = Field(
        description="`marked`, `reaching`, `call_<outcome>`, `away_sms`, `away_call`, "
        "`does_not_know_sms`, `does_not_know_call`, `absence_recorded`, `alert_<reason>`, "
        "`no_one_to_alert`, `recall`, `arrived`."
    )
    detail: str = Field(description="Whom it was about, or who did it.")


class MissingPupil(BaseModel):
    """A pupil marked as not at school, and what the line has done since."""

    reference: str = Field(description="The outreach's id.")
    pupil_id: str
    pupil: str = Field(
        description="First and last name; the first name only when the pupil's identity "
        "is protected (guardians then by the first word of their names)."
    )
    group: str
    school: str
    day: date
    since: str | None = Field(pattern=HHMM, description="Not at school since; None: marked.")
    status: OutreachState = Field(
        description="`active`: reaching the guardians; `away`: a guardian knows (an absence "
        "is recorded); `missing`: nobody knows where the pupil is (the school is alerted); "
        "`arrived`: staff stopped it."
    )
    marked: Step
    alert: Alert | None
    answered: Step | None = Field(description="The guardian who said the pupil is away.")
    ended: Step | None
    absence: str | None = Field(description="The reference of the absence recorded.")
    contacts: list[OutreachContactOut]
    events: list[OutreachEventOut]


_SMS_LEFT = (MessageStatus.SENT, MessageStatus.DELIVERED)
_CALL_RANG = (
    CallOutcome.RINGING,
    CallOutcome.ANSWERED,
    CallOutcome.NO_ANSWER,
    CallOutcome.VOICEMAIL,
    CallOutcome.COMPLETED,
)


def _contact_out(
    contact: OutreachContact, sms: str | None, zone: ZoneInfo, name: PupilName
) -> OutreachContactOut:
    reached = contact.answer is not None or sms in _SMS_LEFT or contact.call_outcome in _CALL_RANG
    return OutreachContactOut(
        name=name.contact(contact.name),
        phone=masked_phone(contact.phone) if contact.phone else None,
        sms=sms,
        call=contact.call_outcome,
        calls_placed=contact.calls_placed,
        reached=reached,
        answer=contact.answer,
        answered_at=contact.answered_at.astimezone(zone) if contact.answered_at else None,
    )


def _step(by: str | None, at: datetime | None, zone: ZoneInfo) -> Step | None:
    return Step(by=by or "", at=at.astimezone(zone)) if at is not None else None


def _shown_contacts(view: OutreachView, name: PupilName) -> Callable[[str], str]:
    """A step's text with each contact's name as shown beside the pupil (a step names the
    guardians it was about: one, or several joined)."""
    if not name.is_protected:
        return lambda text: text
    names = sorted({contact.name for contact in view.contacts if contact.name}, key=len)

    def shown(text: str) -> str:
        for full in reversed(names):
            text = text.replace(full, name.contact(full))
        return text

    return shown


def outreach_out(
    view: OutreachView, sms: dict[tuple[int, str], str], absence: str | None
) -> MissingPupil:
    outreach, pupil = view.outreach, view.pupil
    zone = ZoneInfo(view.organisation.timezone)
    name = PupilName.of(pupil)
    shown = _shown_contacts(view, name)
    alert = None
    if outreach.alerted_at is not None and outreach.alert_reason:
        alert = Alert(
            reason=outreach.alert_reason,
            at=outreach.alerted_at.astimezone(zone),
        )
    return MissingPupil(
        reference=outreach.reference,
        pupil_id=pupil.external_id,
        pupil=name.shown,
        group=pupil.group_name,
        school=view.school.name,
        day=outreach.day,
        since=outreach.since.strftime("%H:%M") if outreach.since else None,
        status=outreach.status,
        marked=Step(by=outreach.marked_by, at=outreach.marked_at.astimezone(zone)),
        alert=alert,
        answered=_step(shown(outreach.answered_by or ""), outreach.answered_at, zone),
        ended=_step(outreach.ended_by, outreach.ended_at, zone),
        absence=absence,
        contacts=[
            _contact_out(contact, sms.get((outreach.id, contact.recipient)), zone, name)
            for contact in view.contacts
        ],
        events=[
            OutreachEventOut(
                at=event.at.astimezone(zone), kind=event.kind, detail=shown(event.detail)
            )
            for event in view.events
        ],
    )


def missing_pupils(session: Session, outreach_ids: Sequence[int]) -> list[MissingPupil]:
    """These outreaches as staff see them, in the order asked."""
    views = store.load_outreaches(session, outreach_ids)
    sms = sms_statuses(session, outreach_ids, SMS_KIND)
    absences = absence_references(
        session, [view.outreach.absence_id for view in views if view.outreach.absence_id]
    )
    return [
        outreach_out(
            view,
            sms,
            absences.get(view.outreach.absence_id) if view.outreach.absence_id else None,
        )
        for view in views
    ]
