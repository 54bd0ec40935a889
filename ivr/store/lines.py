"""Organisations and the phone numbers guardians call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.store.models import InboundNumber, Organisation


@dataclass(frozen=True, slots=True)
class Line:
    """What a dialled number means: whose line it is and the language it speaks."""

    organisation_id: int
    organisation_name: str
    timezone: str
    language: str


async def find_line(session: AsyncSession, number: str) -> Line | None:
    row = (
        await session.execute(
            select(Organisation, InboundNumber.language)
            .join(InboundNumber, InboundNumber.organisation_id == Organisation.id)
            .where(InboundNumber.number == number)
        )
    ).first()
    if row is None:
        return None
    organisation, number_language = row
    return Line(
        organisation_id=organisation.id,
        organisation_name=organisation.name,
        timezone=organisation.timezone,
        language=number_language or organisation.language,
    )


async def find_organisation(session: AsyncSession, name: str) -> Organisation | None:
    return await session.scalar(select(Organisation).where(Organisation.name == name))


async def list_organisations(session: AsyncSession) -> list[Organisation]:
    return list(await session.scalars(select(Organisation).order_by(Organisation.name)))


async def ensure_organisation(
    session: AsyncSession, name: str, timezone: str, language: str
) -> Organisation:
    organisation = await find_organisation(session, name)
    if organisation is None:
        organisation = Organisation(name=name, timezone=timezone, language=language)
        session.add(organisation)
        await session.flush()
    return organisation


async def set_number(
    session: AsyncSession, organisation: Organisation, number: str, language: str | None
) -> InboundNumber:
    """Tie ``number`` (E.164) to ``organisation``, moving it if another organisation had it."""
    inbound = await session.scalar(select(InboundNumber).where(InboundNumber.number == number))
    if inbound is None:
        inbound = InboundNumber(number=number, organisation_id=organisation.id, language=language)
        session.add(inbound)
    else:
        inbound.organisation_id = organisation.id
        inbound.language = language
    await session.flush()
    return inbound


async def list_numbers(session: AsyncSession) -> list[tuple[InboundNumber, Organisation]]:
    rows = await session.execute(
        select(InboundNumber, Organisation)
        .join(Organisation, InboundNumber.organisation_id == Organisation.id)
        .order_by(InboundNumber.number)
    )
    return [(number, organisation) for number, organisation in rows]
