"""Marking pupils as missing, staff stopping an outreach, and the line's own timers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.domain.personal_number import age_on
from ivr.domain.statuses import AlertReason, CallOutcome, OutreachStatus
from ivr.services.confirmations import ADULT_AGE
from ivr.services.missing.messages import (
    call_draft,
    raise_alert,
    sms_draft,
    stop_reaching,
    tell_school,
)
from ivr.services.missing.rules import (
    ARRIVED_KIND,
    CALL_KIND,
    OPEN,
    RECALL_KIND,
    RESOLVED_KIND,
    SMS_KIND,
    Rules,
    local_time,
)
from ivr.store import outreach as store
from ivr.store.models import Outreach, OutreachContact
from ivr.store.outbox import queue
from ivr.store.outreach import Contact, MarkedPupil

log = logging.getLogger(__name__)


class UnknownPupils(LookupError):
    """Pupils that are in none of the schools asked about: nothing was marked."""

    def __init__(self, pupil_ids: Sequence[str]) -> None:
        super().__init__(f"no such pupil in these schools: {', '.join(pupil_ids)}")
        self.pupil_ids = list(pupil_ids)


@dataclass(frozen=True, slots=True)
class Marked:
    """What marking one pupil came to: ``started``, ``already_started`` (by someone before,
    today) or ``already_reported`` (an active report covers the moment: nobody is
    contacted)."""

    pupil_id: str
    state: str
    outreach: str | None = None


# --- marking ------------------------------------------------------------------------------


def mark_missing(
    session: Session,
    rules: Rules,
    *,
    organisation_id: int,
    timezone: str,
    school_ids: Sequence[int],
    pupil_ids: Sequence[str],
    by: str,
    now: datetime,
    since: time | None = None,
) -> list[Marked]:
    """Mark ``pupil_ids`` (roster ids in ``school_ids``) as not at school. All or nothing:
    an unknown id raises ``UnknownPupils`` and nothing is written."""
    asked = list(dict.fromkeys(pupil_id.strip() for pupil_id in pupil_ids if pupil_id.strip()))
    pupils = store.pupils_of_schools(session, school_ids, asked)
    unknown = [pupil_id for pupil_id in asked if pupil_id not in pupils]
    if unknown:
        raise UnknownPupils(unknown)
    local = local_time(now, timezone)
    moment = since or local.time().replace(second=0, microsecond=0)
    reported = store.reported_at(session, [p.id for p in pupils.values()], local.date(), moment)
    results = []
    for pupil_id in asked:
        pupil = pupils[pupil_id]
        if pupil.id in reported:
            results.append(Marked(pupil_id, "already_reported"))
            continue
        outreach_id, started = store.start_outreach(
            session,
            organisation_id=organisation_id,
            pupil=pupil,
            day=local.date(),
            since=since,
            marked_at=now,
            marked_by=by,
        )
        if started:
            _reach(session, rules, outreach_id, pupil, local, by)
        reference = session.scalar(select(Outreach.reference).where(Outreach.id == outreach_id))
        results.append(Marked(pupil_id, "started" if started else "already_started", reference))
    return results


def _recipients(pupil: MarkedPupil, day: date) -> list[Contact]:
    """The guardians; a pupil of 18 or more with a contact of their own instead."""
    if age_on(pupil.birth_date, day) >= ADULT_AGE and (pupil.own.phone or pupil.own.email):
        return [pupil.own]
    return list(pupil.guardians)


def _reach(
    session: Session, rules: Rules, outreach_id: int, pupil: MarkedPupil, local: datetime, by: str
) -> None:
    catalogue_default = rules.catalogue_for(None)
    contacts = _recipients(pupil, local.date())
    store.add_contacts(session, outreach_id, contacts, catalogue_default.language)
    store.add_event(session, outreach_id, local, "marked", by)
    reachable = [c for c in _contacts(session, outreach_id) if c.phone]
    drafts = []
    for contact in reachable:
        catalogue = rules.catalogue_for(contact.language)
        values = {"school": pupil.school, "first_name": pupil.first_name}
        drafts.append(
            sms_draft(SMS_KIND, contact, catalogue, catalogue.text("missing.sms", **values))
        )
        drafts.append(call_draft(CALL_KIND, contact, rules.tokens))
    queue(session.connection(), None, drafts, local, outreach_id=outreach_id)
    if reachable:
        store.add_event(
            session, outreach_id, local, "reaching", ", ".join(c.name for c in reachable)
        )
        return
    # Nobody to call or text: nobody can say where the pupil is.
    raise_alert(session, rules, outreach_id, AlertReason.NO_GUARDIAN_REACHED, local, None)


def _contacts(session: Session, outreach_id: int) -> list[OutreachContact]:
    return list(
        session.scalars(
            select(OutreachContact)
            .where(OutreachContact.outreach_id == outreach_id)
            .order_by(OutreachContact.id)
        )
    )


# --- staff stop it ------------------------------------------------------------------------


def arrived(session: Session, rules: Rules, *, outreach_id: int, by: str, now: datetime) -> bool:
    """The pupil is at school: stop the outreach. False if it had ended already."""
    view = store.load_outreaches(session, [outreach_id])[0]
    if not store.move(
        session, outreach_id, OPEN, OutreachStatus.ARRIVED, ended_at=now, ended_by=by
    ):
        return False
    local = local_time(now, view.organisation.timezone)
    store.add_event(session, outreach_id, local, "arrived", by)
    stop_reaching(session, rules, view, local, told=(ARRIVED_KIND, None))
    if view.outreach.status == OutreachStatus.MISSING:  # the school was alerted: it is over
        tell_school(session, rules, view, local, RESOLVED_KIND, None)
    return True


# --- the line's own timers -----------------------------------------------------------------


def escalate_due(session: Session, rules: Rules, now: datetime) -> int:
    """Outreaches nobody answered in time raise the alert ("no guardian reached")."""
    raised = 0
    for outreach_id in store.due_escalations(session, now - rules.escalate_after):
        view = store.load_outreaches(session, [outreach_id])[0]
        local = local_time(now, view.organisation.timezone)
        if raise_alert(session, rules, outreach_id, AlertReason.NO_GUARDIAN_REACHED, local, None):
            raised += 1
    return raised


def recall_due(session: Session, rules: Rules, now: datetime) -> int:
    """Each guardian whose call went unanswered is called once more."""
    contacts = store.due_recalls(session, now - rules.recall_after)
    for contact in contacts:
        contact.recalled = True
        contact.call_outcome = CallOutcome.QUEUED
        queue(
            session.connection(),
            None,
            [call_draft(RECALL_KIND, contact, rules.tokens)],
            now,
            outreach_id=contact.outreach_id,
        )
        store.add_event(session, contact.outreach_id, now, "recall", contact.name)
    return len(contacts)
