"""Recording a report: the absence and every confirmation of it, in the caller's transaction.

A report from a call whose period an active report of the same pupil, made in another call,
already holds whole records nothing and sends nothing: the guardians were told once. Only a
caller who would have been told anyway (a registered guardian, or the pupil from their own
registered number) hears that it was reported already; anyone else hears the usual
read-back, so a personal number alone never tells whether a child is at home.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from ivr.domain.absence import AbsencePeriod
from ivr.domain.names import PupilName
from ivr.domain.personal_number import age_on
from ivr.i18n import Catalogue
from ivr.services.confirmations import (
    Recipient,
    ReportFacts,
    caller_relation,
    choose_recipients,
    confirmation_drafts,
)
from ivr.store.absences import AddedAbsence, NewAbsence
from ivr.store.outbox import Draft
from ivr.store.reports import add_report, report_facts
from ivr.store.roster import ReportedPupil


def _recipients(pupil: ReportedPupil, protected: bool) -> tuple[Recipient, list[Recipient]]:
    own = Recipient(
        key=f"pupil:{pupil.id}",
        name=PupilName(pupil.first_name, pupil.last_name, protected).shown,
        phone=pupil.phone,
        email=pupil.email,
        language=None,
    )
    guardians = [
        Recipient(f"guardian:{g.id}", g.name, g.phone, g.email, g.language) for g in pupil.guardians
    ]
    return own, guardians


@dataclass(frozen=True, slots=True)
class Recorded:
    reference: str


@dataclass(frozen=True, slots=True)
class AlreadyReported:
    """Nothing recorded: ``period`` (another call's report) holds all of it."""

    period: AbsencePeriod
    caller_may_know: bool


def report_from_call(
    connection: Connection,
    *,
    organisation_id: int,
    pupil_id: int,
    period: AbsencePeriod,
    caller: str,
    call_sid: str,
    number_in_call: int,
    reported_at: datetime,
    catalogue_for: Callable[[str | None], Catalogue],
) -> Recorded | AlreadyReported:
    """Record the report, unless another call's report holds it already."""
    facts = report_facts(connection, pupil_id, period, call_sid)
    held_by = facts.held_by(period)
    if held_by is not None:
        own, guardians = _recipients(facts.pupil, facts.protected_identity)
        relation = caller_relation(caller, own, guardians)
        return AlreadyReported(held_by, caller_may_know=relation in ("guardian", "pupil"))
    absence = _record(
        connection,
        facts.pupil,
        facts.protected_identity,
        organisation_id=organisation_id,
        period=period,
        caller=caller,
        call_sid=call_sid,
        number_in_call=number_in_call,
        reported_at=reported_at,
        catalogue_for=catalogue_for,
    )
    return Recorded(absence.reference)


def record_report(
    connection: Connection,
    *,
    organisation_id: int,
    pupil_id: int,
    period: AbsencePeriod,
    caller: str,
    call_sid: str,
    number_in_call: int,
    reported_at: datetime,
    catalogue_for: Callable[[str | None], Catalogue],
) -> AddedAbsence:
    """Record a report, whatever else is recorded. ``reported_at`` is in the organisation's
    time zone: confirmations show it as is."""
    facts = report_facts(connection, pupil_id, period, call_sid)
    return _record(
        connection,
        facts.pupil,
        facts.protected_identity,
        organisation_id=organisation_id,
        period=period,
        caller=caller,
        call_sid=call_sid,
        number_in_call=number_in_call,
        reported_at=reported_at,
        catalogue_for=catalogue_for,
    )


def _record(
    connection: Connection,
    pupil: ReportedPupil,
    protected: bool,
    *,
    organisation_id: int,
    period: AbsencePeriod,
    caller: str,
    call_sid: str,
    number_in_call: int,
    reported_at: datetime,
    catalogue_for: Callable[[str | None], Catalogue],
) -> AddedAbsence:
    own, guardians = _recipients(pupil, protected)
    relation = caller_relation(caller, own, guardians)
    recipients = choose_recipients(own, age_on(pupil.birth_date, period.start_date), guardians)

    def drafts_for(reference: str) -> list[Draft]:
        facts = ReportFacts(
            reference=reference,
            first_name=pupil.first_name,
            last_name=pupil.last_name,
            group=pupil.group,
            school=pupil.school,
            period=period,
            reported_at=reported_at,
            caller=caller,
            caller_relation=relation,
            protected_identity=protected,
        )
        return confirmation_drafts(facts, recipients, catalogue_for)

    new = NewAbsence(
        organisation_id=organisation_id,
        school_id=pupil.school_id,
        pupil_id=pupil.id,
        period=period,
        reported_at=reported_at,
        caller=caller,
        caller_is_guardian=relation == "guardian",
        call_sid=call_sid,
        number_in_call=number_in_call,
    )
    return add_report(connection, new, drafts_for)
