"""What an outreach sends: the guardians' SMS and calls, the alert to the school, the word
that it is over; and the calls it cancels or ends."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.domain.names import PupilName
from ivr.domain.statuses import AlertReason, CallOutcome, MessageStatus, OutreachStatus
from ivr.i18n import Catalogue
from ivr.services.missing.rules import (
    ALERT_KIND,
    ANSWERED_KIND,
    CALL_KINDS,
    HANGUP_KIND,
    RESOLVED_KIND,
    SMS_KIND,
    Rules,
    local_time,
)
from ivr.store import outreach as store
from ivr.store.models import OutboxMessage, Outreach, OutreachContact
from ivr.store.outbox import Draft, queue
from ivr.twilio.sealed import OutreachTokens

log = logging.getLogger(__name__)


def sms_draft(kind: str, contact: OutreachContact, catalogue: Catalogue, body: str) -> Draft:
    assert contact.phone is not None
    return Draft(
        kind=kind,
        recipient=contact.recipient,
        recipient_name=contact.name,
        channel="sms",
        address=contact.phone,
        language=catalogue.language,
        subject=None,
        body=body,
    )


def call_draft(kind: str, contact: OutreachContact, tokens: OutreachTokens) -> Draft:
    """A call to place: the contact's sealed id is what the call's URLs carry."""
    assert contact.phone is not None
    return Draft(
        kind=kind,
        recipient=contact.recipient,
        recipient_name=contact.name,
        channel="call",
        address=contact.phone,
        language=contact.language,
        subject=None,
        body=tokens.seal(contact.id),
    )


def raise_alert(
    session: Session,
    rules: Rules,
    outreach_id: int,
    reason: AlertReason,
    local: datetime,
    contact: OutreachContact | None,
) -> bool:
    """Nobody knows where the pupil is: tell the group's contact teachers and the office,
    once."""
    if not store.move(
        session,
        outreach_id,
        [OutreachStatus.ACTIVE],
        OutreachStatus.MISSING,
        alert_reason=reason,
        alerted_at=local,
    ):
        return False
    view = store.load_outreaches(session, [outreach_id])[0]
    store.add_event(session, outreach_id, local, f"alert_{reason}", contact.name if contact else "")
    tell_school(session, rules, view, local, ALERT_KIND, contact)
    log.warning(
        "missing pupil: alert raised",
        extra={"outreach": view.outreach.reference, "reason": str(reason)},
    )
    return True


def tell_school(
    session: Session,
    rules: Rules,
    view: store.OutreachView,
    local: datetime,
    kind: str,
    contact: OutreachContact | None,
) -> None:
    """The alert (or that it is resolved) to the group's contact teachers and the school's
    office, by email and SMS, in the organisation's language; urgent, so that it leaves at
    once even behind a morning's queue of SMS. A pupil whose identity is protected is not
    named, nor is the guardian: the texts say "a pupil in 5A" with the outreach's
    reference, to look up on the staff page."""
    teachers, school = store.alert_recipients(session, view.school.id, view.pupil.group_name)
    catalogue = rules.catalogue_for(view.organisation.language)
    pupil = view.pupil
    outreach = view.outreach
    minutes = int(rules.escalate_after.total_seconds() // 60)
    pupil_name = PupilName.of(pupil)
    unnamed = "_protected" if pupil_name.is_protected else ""
    reason = outreach.alert_reason or AlertReason.NO_GUARDIAN_REACHED
    reason_key = f"missing.alert_{reason}"
    if reason == AlertReason.GUARDIAN_DOES_NOT_KNOW:
        reason_key += unnamed  # "a guardian", not who
    guardian = contact.name if contact and not pupil_name.is_protected else ""
    values = {
        "school": school.name,
        # Unnamed: a text that names the pupil anyway gets nothing to name them with.
        **(dict.fromkeys(pupil_name.values(), "") if unnamed else pupil_name.values()),
        "reference": outreach.reference,
        "group": pupil.group_name,
        "guardian": guardian,
        "marked_at": catalogue.time(
            local_time(outreach.marked_at, view.organisation.timezone).time()
        ),
        "marked_by": outreach.marked_by,
    }
    values["reason"] = catalogue.text(reason_key, minutes=minutes, guardian=guardian)
    people: list[tuple[str, str, str | None, str | None]] = [
        (f"teacher:{t.id}", t.name, t.phone, t.email) for t in teachers
    ]
    if school.office_email or school.office_phone:
        people.append(
            (f"office:{school.id}", school.name, school.office_phone, school.office_email)
        )
    if kind == RESOLVED_KIND:
        # A guardian knows after all, or the pupil came: the alert is over.
        resolved = "missing.resolved_sms" if contact else "missing.resolved_arrived_sms"
        text = catalogue.text(resolved + unnamed, **values)
        subject = catalogue.text("missing.resolved_email_subject" + unnamed, **values)
        body = text
    else:
        text = catalogue.text("missing.alert_sms" + unnamed, **values)
        subject = catalogue.text("missing.alert_email_subject" + unnamed, **values)
        body = catalogue.text("missing.alert_email_body" + unnamed, **values).strip()
    drafts = []
    for key, name, phone, email in people:
        if phone:
            drafts.append(
                Draft(kind, key, name, "sms", phone, catalogue.language, None, text, urgent=True)
            )
        if email:
            drafts.append(
                Draft(
                    kind, key, name, "email", email, catalogue.language, subject, body + "\n", True
                )
            )
    queue(session.connection(), None, drafts, local, outreach_id=outreach.id)
    if not people:
        store.add_event(session, outreach.id, local, "no_one_to_alert", school.name)


def end_calls(
    session: Session, outreach_id: int, contacts: Sequence[OutreachContact], local: datetime
) -> list[Draft]:
    """The calls to ``contacts`` are no longer needed: those not yet placed are cancelled;
    for those placed and not over, the drafts that hang them up."""
    recipients = [contact.recipient for contact in contacts]
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.outreach_id == outreach_id,
            OutboxMessage.kind.in_(CALL_KINDS),
            OutboxMessage.recipient.in_(recipients),
            OutboxMessage.status == MessageStatus.PENDING,
        )
        .values(status=MessageStatus.CANCELLED, updated_at=local, last_error="no longer needed")
        .execution_options(synchronize_session=False)
    )
    placed = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.outreach_id == outreach_id,
            OutboxMessage.kind.in_(CALL_KINDS),
            OutboxMessage.recipient.in_(recipients),
            OutboxMessage.provider_id.is_not(None),
        )
    ).all()
    finished = {CallOutcome.COMPLETED, CallOutcome.CANCELLED, *store.UNANSWERED}
    by_recipient = {contact.recipient: contact for contact in contacts}
    return [
        Draft(
            HANGUP_KIND,
            f"{message.recipient}:{message.id}",
            message.recipient_name,
            "hangup",
            str(message.provider_id),
            message.language,
            None,
            "",
        )
        for message in placed
        if by_recipient[message.recipient].call_outcome not in finished
    ]


def stop_reaching(
    session: Session,
    rules: Rules,
    view: store.OutreachView,
    local: datetime,
    told: tuple[str, OutreachContact | None],
    in_call: bool = False,
) -> None:
    """Cancel the SMS and calls not yet sent, end the calls in progress (not the one the
    answer came in: ``in_call``), and tell the guardians who were reached (``told``: the
    kind of message, and who answered, if someone did). A guardian the line never reached
    is not disturbed."""
    outreach = view.outreach
    kind, answered_by = told
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.outreach_id == outreach.id,
            OutboxMessage.kind == SMS_KIND,
            OutboxMessage.status == MessageStatus.PENDING,
        )
        .values(status=MessageStatus.CANCELLED, updated_at=local, last_error="no longer needed")
        .execution_options(synchronize_session=False)
    )
    ending = [c for c in view.contacts if not (in_call and c is answered_by)]
    drafts = end_calls(session, outreach.id, ending, local)
    for contact in view.contacts:
        if contact is answered_by or not contact.phone:
            continue
        reached = contact.call_outcome != CallOutcome.QUEUED or _sms_sent(
            session, outreach, contact
        )
        if not reached:
            continue
        catalogue = rules.catalogue_for(contact.language)
        values = {
            "school": view.school.name,
            "first_name": view.pupil.first_name,
            "guardian": PupilName.of(view.pupil).contact(answered_by.name) if answered_by else "",
        }
        text = "missing.answered" if kind == ANSWERED_KIND else "missing.arrived"
        drafts.append(sms_draft(kind, contact, catalogue, catalogue.text(text, **values)))
    queue(session.connection(), None, drafts, local, outreach_id=outreach.id)


def _sms_sent(session: Session, outreach: Outreach, contact: OutreachContact) -> bool:
    """Whether the guardian has been reached: the outreach's SMS was taken by the provider."""
    status = session.scalar(
        select(OutboxMessage.status).where(
            OutboxMessage.outreach_id == outreach.id,
            OutboxMessage.kind == SMS_KIND,
            OutboxMessage.recipient == contact.recipient,
        )
    )
    return status in (MessageStatus.SENT, MessageStatus.DELIVERED)
