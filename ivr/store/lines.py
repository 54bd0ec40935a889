"""Organisations and the phone numbers guardians call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr.store.calls import UNKNOWN_FROM_CALLER
from ivr.store.driver import DriverStatement
from ivr.store.models import Guardian, InboundNumber, Organisation, table_of


@dataclass(frozen=True, slots=True)
class Line:
    """What a dialled number means: whose line it is, the language it speaks and the one
    it may offer, and the language the caller prefers if the caller is a guardian."""

    organisation_id: int
    organisation_name: str
    timezone: str
    country: str
    language: str
    offer_language: str | None = None
    caller_language: str | None = None
    caller_tried: int = 0  # unknown personal numbers from the caller's number lately


_organisations = table_of(Organisation)
_numbers = table_of(InboundNumber)
_guardians = table_of(Guardian)

# The preferred language of a guardian of the organisation whose phone is the caller's
# (``ix_guardians_phone``). A phone is one guardian's within an organisation (it is their
# ``contact_key``), so there is at most one; should rows ever disagree, the guardian
# registered first decides.
_CALLER_LANGUAGE = (
    select(_guardians.c.language)
    .where(
        _guardians.c.phone == bindparam("caller"),
        _guardians.c.organisation_id == _organisations.c.id,
        _guardians.c.language.is_not(None),
    )
    .order_by(_guardians.c.id)
    .limit(1)
    .correlate(_organisations)
    .scalar_subquery()
)
_FIND_LINE = DriverStatement(
    "lines.find",
    select(
        _organisations.c.id,
        _organisations.c.name,
        _organisations.c.timezone,
        _organisations.c.country,
        func.coalesce(_numbers.c.language, _organisations.c.language),
        _numbers.c.offer_language,
        _CALLER_LANGUAGE,
        UNKNOWN_FROM_CALLER,
    )
    .join(_numbers, _numbers.c.organisation_id == _organisations.c.id)
    .where(_numbers.c.number == bindparam("number")),
)


def find_line(connection: Connection, number: str, caller: str, since: datetime) -> Line | None:
    """The line of the dialled ``number``, with the preferred language of the guardian
    calling from ``caller`` (E.164) if there is one, and the unknown personal numbers
    keyed from ``caller`` since ``since`` (the per-caller limit): one query on every
    incoming call."""
    row = _FIND_LINE.first(connection, {"number": number, "caller": caller, "since": since})
    if row is None:
        return None
    organisation_id, name, timezone, country, language, offer, caller_language, tried = row
    return Line(
        organisation_id, name, timezone, country, language, offer, caller_language, int(tried)
    )


@dataclass(frozen=True, slots=True)
class OrganisationRules:
    """What a webhook needs of the organisation to build the flow's context."""

    timezone: str
    country: str


_RULES = DriverStatement(
    "lines.organisation_rules",
    select(_organisations.c.timezone, _organisations.c.country).where(
        _organisations.c.id == bindparam("organisation_id")
    ),
)


def organisation_rules(connection: Connection, organisation_id: int) -> OrganisationRules:
    row = _RULES.first(connection, {"organisation_id": organisation_id})
    if row is None:
        raise LookupError(f"no organisation {organisation_id}")
    return OrganisationRules(*row)


def find_organisation(session: Session, name: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.name == name))


def list_organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


def ensure_organisation(
    session: Session, name: str, timezone: str, language: str, country: str = "SE"
) -> Organisation:
    organisation = find_organisation(session, name)
    if organisation is None:
        organisation = Organisation(
            name=name, timezone=timezone, language=language, country=country
        )
        session.add(organisation)
        session.flush()
    return organisation


def set_number(
    session: Session,
    organisation: Organisation,
    number: str,
    language: str | None,
    offer_language: str | None = None,
) -> InboundNumber:
    """Tie ``number`` (E.164) to ``organisation``, moving it if another organisation had it."""
    inbound = session.scalar(select(InboundNumber).where(InboundNumber.number == number))
    if inbound is None:
        inbound = InboundNumber(
            number=number,
            organisation_id=organisation.id,
            language=language,
            offer_language=offer_language,
        )
        session.add(inbound)
    else:
        inbound.organisation_id = organisation.id
        inbound.language = language
        inbound.offer_language = offer_language
    session.flush()
    return inbound


def list_numbers(session: Session) -> list[tuple[InboundNumber, Organisation]]:
    rows = session.execute(
        select(InboundNumber, Organisation)
        .join(Organisation, InboundNumber.organisation_id == Organisation.id)
        .order_by(InboundNumber.number)
    )
    return [(number, organisation) for number, organisation in rows]
