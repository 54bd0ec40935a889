"""Schools and their own settings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.models import School


def find_school(session: Session, organisation_id: int, name: str) -> School | None:
    return session.scalar(
        select(School).where(School.organisation_id == organisation_id, School.name == name)
    )


def set_absence_retention(session: Session, school: School, days: int | None) -> None:
    """How many days ``school`` keeps an absence after it ends; None: the line's setting."""
    school.absence_retention_days = days
    session.flush()
