"""Organisations and the phone numbers guardians call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr.store.models import InboundNumber, Organisation, table_of


@dataclass(frozen=True, slots=True)
class Line:
    """What a dialled number means: whose line it is and the language it speaks."""

    organisation_id: int
    organisation_name: str
    timezone: str
    language: str


_organisations = table_of(Organisation)
_numbers = table_of(InboundNumber)
_FIND_LINE = (
    select(
        _organisations.c.id,
        _organisations.c.name,
        _organisations.c.timezone,
        func.coalesce(_numbers.c.language, _organisations.c.language),
    )
    .join(_numbers, _numbers.c.organisation_id == _organisations.c.id)
    .where(_numbers.c.number == bindparam("number"))
)


def find_line(connection: Connection, number: str) -> Line | None:
    row = connection.execute(_FIND_LINE, {"number": number}).first()
    return None if row is None else Line(*row)


_TIMEZONE = select(_organisations.c.timezone).where(
    _organisations.c.id == bindparam("organisation_id")
)


def organisation_timezone(connection: Connection, organisation_id: int) -> str:
    zone: str | None = connection.execute(_TIMEZONE, {"organisation_id": organisation_id}).scalar()
    if zone is None:
        raise LookupError(f"no organisation {organisation_id}")
    return zone


def find_organisation(session: Session, name: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.name == name))


def list_organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


def ensure_organisation(session: Session, name: str, timezone: str, language: str) -> Organisation:
    organisation = find_organisation(session, name)
    if organisation is None:
        organisation = Organisation(name=name, timezone=timezone, language=language)
        session.add(organisation)
        session.flush()
    return organisation


def set_number(
    session: Session, organisation: Organisation, number: str, language: str | None
) -> InboundNumber:
    """Tie ``number`` (E.164) to ``organisation``, moving it if another organisation had it."""
    inbound = session.scalar(select(InboundNumber).where(InboundNumber.number == number))
    if inbound is None:
        inbound = InboundNumber(number=number, organisation_id=organisation.id, language=language)
        session.add(inbound)
    else:
        inbound.organisation_id = organisation.id
        inbound.language = language
    session.flush()
    return inbound


def list_numbers(session: Session) -> list[tuple[InboundNumber, Organisation]]:
    rows = session.execute(
        select(InboundNumber, Organisation)
        .join(Organisation, InboundNumber.organisation_id == Organisation.id)
        .order_by(InboundNumber.number)
    )
    return [(number, organisation) for number, organisation in rows]
