"""What comes back: a guardian's answer (in the call or by SMS), the provider's word on
each call, and what a call needs to speak."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.domain.absence import AbsencePeriod
from ivr.domain.phone import mask
from ivr.domain.statuses import AlertReason, CallOutcome, OutreachStatus
from ivr.flows.outreach import Answer
from ivr.services.missing.messages import end_calls, raise_alert, stop_reaching, tell_school
from ivr.services.missing.rules import (
    ANSWERED_KIND,
    HANGUP_KIND,
    OPEN,
    RESOLVED_KIND,
    Rules,
    local_time,
)
from ivr.services.reports import record_report
from ivr.store import outreach as store
from ivr.store.models import Outreach, OutreachContact
from ivr.store.outbox import Draft, queue

log = logging.getLogger(__name__)

# --- answers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answered:
    """What an answer came to: ``away`` or ``does_not_know`` (taken), ``closed`` (the
    outreach is over), or ``already`` (another answer came first)."""

    result: str
    first_name: str
    school: str


def answer(
    session: Session,
    rules: Rules,
    *,
    contact_id: int,
    answer: Answer,
    channel: str,
    now: datetime,
    record_now: bool,
) -> Answered:
    """A guardian's answer, by SMS or in a call. ``record_now`` records the absence at
    once (an SMS); a call asks first for the time the pupil is back (``record_away``)."""
    contact = store.contact(session, contact_id)
    assert contact is not None
    view = store.load_outreaches(session, [contact.outreach_id])[0]
    outreach = view.outreach
    local = local_time(now, view.organisation.timezone)
    names = (view.pupil.first_name, view.school.name)
    if outreach.status not in OPEN or outreach.day != local.date():
        return Answered("closed", *names)
    contact.answer = answer
    contact.answered_at = now
    if answer is Answer.DOES_NOT_KNOW:
        store.add_event(session, outreach.id, local, f"does_not_know_{channel}", contact.name)
        if outreach.status == OutreachStatus.ACTIVE:
            raise_alert(
                session, rules, outreach.id, AlertReason.GUARDIAN_DOES_NOT_KNOW, local, contact
            )
        if channel == "sms":  # answered: the call to this guardian is no longer needed
            hangups = end_calls(session, outreach.id, [contact], local)
            queue(session.connection(), None, hangups, local, outreach_id=outreach.id)
        return Answered("does_not_know", *names)
    was = outreach.status
    if not store.move(
        session,
        outreach.id,
        OPEN,
        OutreachStatus.AWAY,
        answered_by=contact.name,
        answered_at=now,
        ended_at=now,
    ):
        return Answered("already", *names)
    store.add_event(session, outreach.id, local, f"away_{channel}", contact.name)
    stop_reaching(
        session, rules, view, local, told=(ANSWERED_KIND, contact), in_call=channel == "call"
    )
    if was == OutreachStatus.MISSING:
        tell_school(session, rules, view, local, RESOLVED_KIND, contact)
    if record_now:
        record_away(session, rules, contact_id=contact.id, back_at=None, now=now)
    return Answered("away", *names)


def record_away(
    session: Session, rules: Rules, *, contact_id: int, back_at: time | None, now: datetime
) -> str | None:
    """The absence a guardian's "away" means: from now (or the time the outreach started
    from) to ``back_at`` or the end of the day, reported by that guardian and confirmed to
    every guardian. Once per outreach: a second call does nothing. Its reference."""
    contact = store.contact(session, contact_id)
    assert contact is not None
    view = store.load_outreaches(session, [contact.outreach_id])[0]
    outreach = view.outreach
    if outreach.absence_id is not None or contact.answer != Answer.AWAY:
        return None
    local = local_time(now, view.organisation.timezone)
    starts = outreach.since or local.time().replace(second=0, microsecond=0)
    if back_at is not None and back_at <= starts:
        back_at = None
    period = AbsencePeriod(outreach.day, starts, outreach.day, back_at)
    try:
        with session.begin_nested():
            absence = record_report(
                session.connection(),
                organisation_id=outreach.organisation_id,
                pupil_id=outreach.pupil_id,
                period=period,
                caller=contact.phone or contact.name,
                call_sid=f"outreach:{outreach.reference}",
                number_in_call=1,
                reported_at=local,
                catalogue_for=rules.catalogue_for,
            )
    except IntegrityError:
        return None
    outreach.absence_id = absence.id
    store.add_event(session, outreach.id, local, "absence_recorded", absence.reference)
    return absence.reference


# --- the provider tells how a call went ------------------------------------------------------

_OUTCOMES = {
    "initiated": CallOutcome.QUEUED,
    "queued": CallOutcome.QUEUED,
    "ringing": CallOutcome.RINGING,
    "in-progress": CallOutcome.ANSWERED,
    "answered": CallOutcome.ANSWERED,
    "completed": CallOutcome.COMPLETED,
    "busy": CallOutcome.BUSY,
    "no-answer": CallOutcome.NO_ANSWER,
    "failed": CallOutcome.FAILED,
    "canceled": CallOutcome.CANCELLED,
}


def call_status(
    session: Session,
    rules: Rules,
    *,
    contact_id: int,
    call_sid: str,
    status: str,
    answered_by: str | None,
    now: datetime,
) -> None:
    """A status callback of an outreach call; on its end, what it came to."""
    contact = store.contact(session, contact_id)
    if contact is None:
        return
    outcome = _OUTCOMES.get(status)
    if outcome is None:
        return
    if outcome == CallOutcome.COMPLETED and (answered_by or "").startswith("machine"):
        outcome = CallOutcome.VOICEMAIL
    elif (
        outcome == CallOutcome.COMPLETED
        and contact.answer is None
        and contact.call_outcome
        in (
            CallOutcome.QUEUED,
            CallOutcome.RINGING,
        )
    ):
        outcome = CallOutcome.NO_ANSWER
    if contact.call_outcome == CallOutcome.VOICEMAIL and outcome == CallOutcome.COMPLETED:
        outcome = CallOutcome.VOICEMAIL
    ended = outcome not in (CallOutcome.QUEUED, CallOutcome.RINGING, CallOutcome.ANSWERED)
    first_status = contact.call_sid != call_sid
    if first_status and not ended and _outreach_status(session, contact) not in OPEN:
        # Placed while the outreach was ending (the dispatcher had it in hand): end it now.
        hangup = Draft(
            HANGUP_KIND,
            f"{contact.recipient}:{call_sid}",
            contact.name,
            "hangup",
            call_sid,
            contact.language,
            None,
            "",
        )
        queue(session.connection(), None, [hangup], now, outreach_id=contact.outreach_id)
    contact.call_sid = call_sid
    contact.call_outcome = outcome
    if first_status and outcome in (CallOutcome.QUEUED, CallOutcome.RINGING):
        contact.calls_placed += 1
    if ended:
        contact.call_ended_at = now
        store.add_event(session, contact.outreach_id, now, f"call_{outcome}", contact.name)
        if contact.answer == Answer.AWAY:
            record_away(session, rules, contact_id=contact.id, back_at=None, now=now)


# --- replies by SMS -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer an SMS with (None: nothing), in the guardian's language."""

    text: str | None
    language: str | None = None


def sms_reply(session: Session, rules: Rules, *, phone: str, body: str, now: datetime) -> Reply:
    """A guardian's SMS reply: 1 (away), 2 (does not know), anything else asks again, twice
    at most. A reply from a number no outreach reached changes nothing; one to an outreach
    that is over, or of another day, gets a polite word."""
    latest = store.latest_contact(session, phone)
    if latest is None:
        log.info("an SMS from a number no outreach reached", extra={"from": mask(phone)})
        return Reply(None)
    view = store.load_outreaches(session, [latest.outreach_id])[0]
    local = local_time(now, view.organisation.timezone)
    open_contacts = [
        contact
        for contact in store.contacts_replying(session, phone, local.date())
        if _outreach_status(session, contact) in OPEN
    ]
    catalogue = rules.catalogue_for(latest.language)
    if not open_contacts:
        return Reply(catalogue.text("missing.reply_closed"), catalogue.language)
    key = body.strip()
    if key not in ("1", "2"):
        contact = open_contacts[0]
        contact.reprompts += 1
        if contact.reprompts > 2:
            return Reply(None)
        names = _names_of(session, contact)
        return Reply(catalogue.text("missing.reply_again", **names), catalogue.language)
    chosen = Answer.AWAY if key == "1" else Answer.DOES_NOT_KNOW
    outcome = None
    for contact in open_contacts:
        outcome = answer(
            session,
            rules,
            contact_id=contact.id,
            answer=chosen,
            channel="sms",
            now=now,
            record_now=True,
        )
    assert outcome is not None
    text = "missing.reply_away" if chosen is Answer.AWAY else "missing.reply_does_not_know"
    return Reply(
        catalogue.text(text, first_name=outcome.first_name, school=outcome.school),
        catalogue.language,
    )


def _outreach_status(session: Session, contact: OutreachContact) -> str | None:
    return session.scalar(select(Outreach.status).where(Outreach.id == contact.outreach_id))


def _names_of(session: Session, contact: OutreachContact) -> dict[str, str]:
    view = store.load_outreaches(session, [contact.outreach_id])[0]
    return {"first_name": view.pupil.first_name, "school": view.school.name}


# --- what a call says -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What an outreach call needs to speak: in whose language, about whom, and whether
    the outreach still wants an answer."""

    contact_id: int
    language: str
    school: str
    first_name: str
    timezone: str
    open: bool


def call_facts(session: Session, contact_id: int) -> CallFacts | None:
    contact = store.contact(session, contact_id)
    if contact is None:
        return None
    view = store.load_outreaches(session, [contact.outreach_id])[0]
    return CallFacts(
        contact.id,
        contact.language,
        view.school.name,
        view.pupil.first_name,
        view.organisation.timezone,
        view.outreach.status in OPEN and contact.answer is None,
    )
