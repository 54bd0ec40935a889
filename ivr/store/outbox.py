"""The outbox: messages written in the same transaction as what they confirm."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.store.models import Absence, OutboxMessage


@dataclass(frozen=True, slots=True)
class Draft:
    """A message ready to queue: to whom, how, and what it says."""

    kind: str
    recipient: str
    recipient_name: str
    channel: str
    address: str
    language: str
    subject: str | None
    body: str


async def queue(session: AsyncSession, absence_id: int | None, drafts: Iterable[Draft]) -> int:
    rows = [
        {
            "absence_id": absence_id,
            "kind": draft.kind,
            "recipient": draft.recipient,
            "recipient_name": draft.recipient_name,
            "channel": draft.channel,
            "address": draft.address,
            "language": draft.language,
            "subject": draft.subject,
            "body": draft.body,
        }
        for draft in drafts
    ]
    if rows:
        await session.execute(insert(OutboxMessage), rows)
    return len(rows)


async def list_messages(
    session: AsyncSession, status: str | None = None, limit: int | None = None
) -> list[tuple[OutboxMessage, str | None]]:
    """Messages, newest first, each with the reference of the absence it belongs to."""
    query = (
        select(OutboxMessage, Absence.reference)
        .outerjoin(Absence, OutboxMessage.absence_id == Absence.id)
        .order_by(OutboxMessage.id.desc())
    )
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if limit is not None:
        query = query.limit(limit)
    rows = await session.execute(query)
    return [(message, reference) for message, reference in rows]
