"""Forgetting on time: calls after a few weeks, absences when their school's time is up."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ivr.store.models import Absence, Call, School


def delete_old_calls(session: Session, before: datetime) -> int:
    """Calls started before ``before``; their absences keep the caller and the call id."""
    result = session.execute(
        delete(Call).where(Call.started_at < before).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_old_absences(session: Session, today: date, default_days: int) -> int:
    """Absences that ended longer ago than their school keeps them (its own setting, or
    ``default_days``), with their confirmations and feed events."""
    deleted = 0
    schools = session.execute(select(School.id, School.absence_retention_days)).all()
    for school_id, days in schools:
        cutoff = today - timedelta(days=days if days is not None else default_days)
        result = session.execute(
            delete(Absence)
            .where(Absence.school_id == school_id, Absence.end_date < cutoff)
            .execution_options(synchronize_session=False)
        )
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
    return deleted
