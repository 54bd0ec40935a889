"""The audit: who acknowledged or cancelled a report, or marked a pupil missing or
arrived. Each entry is written in the same transaction as the change it records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ivr.store.models import Absence, AuditEntry, Organisation, Outreach, School
from ivr.store.staff import StaffAccess

ACTIONS = ("acknowledged", "cancelled", "marked_missing", "arrived")


def record(
    session: Session,
    access: StaffAccess,
    action: str,
    reference: str,
    school_id: int | None,
    now: datetime,
) -> None:
    session.add(
        AuditEntry(
            at=now,
            organisation_id=access.organisation_id,
            school_id=school_id,
            who=access.who,
            action=action,
            reference=reference,
        )
    )
    session.flush()


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: datetime
    organisation: str
    school: str | None
    who: str
    action: str
    reference: str


def entries(session: Session, since: datetime | None = None) -> list[AuditRow]:
    """The audit, oldest first, from ``since`` on."""
    query = (
        select(
            AuditEntry.at,
            Organisation.name,
            School.name,
            AuditEntry.who,
            AuditEntry.action,
            AuditEntry.reference,
        )
        .join(Organisation, Organisation.id == AuditEntry.organisation_id)
        .outerjoin(School, School.id == AuditEntry.school_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return [AuditRow(*row) for row in session.execute(query)]


def record_absence(
    session: Session, access: StaffAccess, absence_id: int, action: str, now: datetime
) -> None:
    """Record an action on a report, under the report's reference and school."""
    _record_on(session, access, Absence, absence_id, action, now)


def record_outreach(
    session: Session, access: StaffAccess, outreach_id: int, action: str, now: datetime
) -> None:
    """Record an action on a missing pupil's outreach, under its reference and school."""
    _record_on(session, access, Outreach, outreach_id, action, now)


def _record_on(
    session: Session,
    access: StaffAccess,
    kind: type[Absence] | type[Outreach],
    row_id: int,
    action: str,
    now: datetime,
) -> None:
    school_id, reference = session.execute(
        select(kind.school_id, kind.reference).where(kind.id == row_id)
    ).one()
    record(session, access, action, reference, school_id, now)


def delete_before(session: Session, before: datetime) -> int:
    """Entries older than ``before``."""
    result = session.execute(delete(AuditEntry).where(AuditEntry.at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
