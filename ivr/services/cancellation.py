"""Cancelling a wrong report: the absence is marked cancelled (by whom, when, why) and
everyone who got its confirmation is told, in the same transaction.

A cancellation message goes to each recipient on each channel whose confirmation was not
given up on (``failed``): the channels that reached them, or will. It is written in the
language their confirmation was in. The staff's reason is kept for staff and is not sent:
guardians are told that the school withdrew the report and whom to ask.

Cancelling twice does nothing more: only the transaction that moves the absence from
``active`` to ``cancelled`` queues messages, and the outbox is unique per kind, absence,
recipient and channel besides.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from ivr.domain.names import PupilName
from ivr.domain.statuses import MessageStatus
from ivr.i18n import Catalogue
from ivr.store import feed
from ivr.store.feed import StaffAbsence, load_absences
from ivr.store.outbox import Draft, queue

KIND = "cancellation"


def cancellation_drafts(
    item: StaffAbsence, catalogue_for: Callable[[str | None], Catalogue]
) -> list[Draft]:
    """One message per confirmation that was not given up on."""
    drafts: list[Draft] = []
    period = item.absence.period
    name = PupilName.of(item.pupil)
    for confirmation in item.messages_of("confirmation"):
        if confirmation.status == MessageStatus.FAILED:
            continue
        catalogue = catalogue_for(confirmation.language)
        values = {
            "recipient_name": name.contact(confirmation.recipient_name),
            **name.values(),
            "group": item.pupil.group_name,
            "school": item.school.name,
            "reference": item.absence.reference,
        }
        sms = confirmation.channel == "sms"
        drafts.append(
            Draft(
                kind=KIND,
                recipient=confirmation.recipient,
                recipient_name=confirmation.recipient_name,
                channel=confirmation.channel,
                address=confirmation.address,
                language=catalogue.language,
                subject=None if sms else catalogue.text("cancellation.email_subject", **values),
                body=catalogue.text(
                    "cancellation.sms", **values, period=catalogue.period(period, short=True)
                )
                if sms
                else catalogue.text("cancellation.email_body", **values, period=period).strip()
                + "\n",
            )
        )
    return drafts


def cancel_report(
    session: Session,
    absence_id: int,
    by: str,
    reason: str,
    now: datetime,
    catalogue_for: Callable[[str | None], Catalogue],
) -> bool:
    """Cancel the absence and queue the messages; False (and nothing done) if it already
    was cancelled. A pupil who has left gets no messages: the cancellation is only kept."""
    if not feed.cancel(session, absence_id, by, reason, now):
        return False
    [item] = load_absences(session, [absence_id])
    if not item.pupil.active:
        return True
    queue(session.connection(), absence_id, cancellation_drafts(item, catalogue_for), now)
    return True
