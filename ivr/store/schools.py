"""Schools and their own settings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.models import Organisation, School


def find_school(session: Session, organisation_id: int, name: str) -> School | None:
    return session.scalar(
        select(School).where(School.organisation_id == organisation_id, School.name == name)
    )


def set_absence_retention(session: Session, school: School, days: int | None) -> None:
    """How many days ``school`` keeps an absence after it ends; None: the line's setting."""
    school.absence_retention_days = days
    session.flush()


def organisations_with_school(session: Session, name: str) -> list[Organisation]:
    """The organisations that have a school called ``name``."""
    return list(
        session.scalars(
            select(Organisation)
            .join(School, School.organisation_id == Organisation.id)
            .where(School.name == name)
            .order_by(Organisation.name)
        )
    )
