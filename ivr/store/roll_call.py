"""What staff see of missing pupils: each group's pupils for the roll call, and what the
outreaches sent (the SMS's state, the absence a guardian's answer recorded)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.absences import pupils_reported_at
from ivr.store.models import Absence, OutboxMessage, Outreach, Pupil


@dataclass(frozen=True, slots=True)
class RollCall:
    """A day's pupils of some schools, by school, group and name, with the day's outreach
    of those who have one (pupil id to its reference and status)."""

    pupils: list[Pupil]
    outreaches: dict[int, tuple[str, str]]


def roll_call(session: Session, school_ids: Collection[int], day: date) -> RollCall:
    pupils = list(
        session.scalars(
            select(Pupil)
            .where(Pupil.school_id.in_(school_ids), Pupil.active.is_(True))
            .order_by(Pupil.school_id, Pupil.group_name, Pupil.last_name, Pupil.first_name)
        )
    )
    rows = session.execute(
        select(Outreach.pupil_id, Outreach.reference, Outreach.status).where(
            Outreach.school_id.in_(school_ids), Outreach.day == day
        )
    )
    return RollCall(pupils, {pupil_id: (reference, status) for pupil_id, reference, status in rows})


def sms_statuses(
    session: Session, outreach_ids: Collection[int], kind: str
) -> dict[tuple[int, str], str]:
    """The state of each outreach SMS of ``kind``, by outreach and recipient."""
    if not outreach_ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.outreach_id, OutboxMessage.recipient, OutboxMessage.status).where(
            OutboxMessage.outreach_id.in_(outreach_ids),
            OutboxMessage.kind == kind,
            OutboxMessage.channel == "sms",
        )
    )
    return {
        (outreach_id, recipient): status for outreach_id, recipient, status in rows if outreach_id
    }


def absence_references(session: Session, absence_ids: Collection[int]) -> dict[int, str]:
    if not absence_ids:
        return {}
    rows = session.execute(select(Absence.id, Absence.reference).where(Absence.id.in_(absence_ids)))
    return {int(absence_id): reference for absence_id, reference in rows}


def reported_in_schools(
    session: Session, school_ids: Collection[int], day: date, moment: time
) -> set[int]:
    """The pupils of these schools with an active report covering ``moment`` of ``day``."""
    return pupils_reported_at(session, Pupil.school_id.in_(school_ids), day, moment)
