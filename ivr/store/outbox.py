"""The outbox: messages written in the same transaction as what they confirm."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ivr.domain.statuses import MessageStatus
from ivr.store.driver import DriverStatement
from ivr.store.models import Absence, OutboxMessage, table_of

_QUEUE_COLUMNS = (
    "next_attempt_at",
    "created_at",
    "updated_at",
    "absence_id",
    "outreach_id",
    "kind",
    "recipient",
    "recipient_name",
    "channel",
    "address",
    "language",
    "subject",
    "body",
    "urgent",
)
# Run on every report during calls (see ``ivr.store.calls``).
_QUEUE = DriverStatement(
    "outbox.queue",
    insert(table_of(OutboxMessage)).values({name: bindparam(name) for name in _QUEUE_COLUMNS}),
)


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
    urgent: bool = False


def queue(
    connection: Connection,
    absence_id: int | None,
    drafts: Iterable[Draft],
    now: datetime,
    outreach_id: int | None = None,
) -> int:
    """Queue ``drafts``, due at once (``now``), for an absence or an outreach."""
    rows = [
        {
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            "absence_id": absence_id,
            "outreach_id": outreach_id,
            "kind": draft.kind,
            "recipient": draft.recipient,
            "recipient_name": draft.recipient_name,
            "channel": draft.channel,
            "address": draft.address,
            "language": draft.language,
            "subject": draft.subject,
            "body": draft.body,
            "urgent": draft.urgent,
        }
        for draft in drafts
    ]
    if rows:
        _QUEUE.run_many(connection, rows)
    return len(rows)


def list_messages(
    session: Session, status: str | None = None, limit: int | None = None
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
    rows = session.execute(query)
    return [(message, reference) for message, reference in rows]


# --- the dispatcher's side -----------------------------------------------------------------


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    dispatcher: str,
    channels: Collection[str] | None = None,
    leaving_out: Collection[str] = (),
    urgent: bool = False,
) -> list[OutboxMessage]:
    """Take up to ``limit`` messages that are due, or whose claim by a dispatcher that died
    has run out, and hold them for ``lease``. On PostgreSQL concurrent dispatchers skip
    each other's rows (``FOR UPDATE SKIP LOCKED``); on SQLite the write lock serialises them.
    Claiming counts as an attempt, so a message that keeps killing its dispatcher stops.
    ``channels`` takes only those channels, ``leaving_out`` all others; ``urgent`` takes
    only urgent messages, else only the others."""
    due = or_(
        and_(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_until < now),
    )
    query = select(OutboxMessage.id).where(due, OutboxMessage.urgent.is_(urgent))
    if channels is not None:
        query = query.where(OutboxMessage.channel.in_(list(channels)))
    if leaving_out:
        query = query.where(OutboxMessage.channel.not_in(list(leaving_out)))
    ids = list(
        session.scalars(
            query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            status=MessageStatus.SENDING,
            claimed_by=dispatcher,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
            updated_at=now,
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed, key=lambda message: (message.next_attempt_at, message.id))


def _finish(session: Session, message_id: int, dispatcher: str, **values: Any) -> bool:
    """End a claim with ``values``; only the dispatcher holding the claim may."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == MessageStatus.SENDING,
            OutboxMessage.claimed_by == dispatcher,
        )
        .values(claimed_by=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


_outbox = table_of(OutboxMessage)

# Every message a provider took is marked sent by this statement: one at a time
# (``mark_sent``), or the outcomes that arrive together in one ``executemany``
# (``mark_all_sent``, the dispatcher's).
_MARK_SENT = DriverStatement(
    "outbox.mark_sent",
    update(_outbox)
    .where(
        _outbox.c.id == bindparam("message_id"),
        _outbox.c.status == MessageStatus.SENDING,
        _outbox.c.claimed_by == bindparam("dispatcher"),
    )
    .values(
        status=MessageStatus.SENT,
        claimed_by=None,
        claimed_until=None,
        provider_id=bindparam("given_id"),
        provider_status=bindparam("given_status"),
        sent_at=bindparam("now"),
        last_error=None,
        updated_at=bindparam("now"),
    ),
)


@dataclass(frozen=True, slots=True)
class Handed:
    """A message the provider took: its id there, and when."""

    message_id: int
    at: datetime
    provider_id: str
    provider_status: str | None

    def values(self, dispatcher: str) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "dispatcher": dispatcher,
            "given_id": self.provider_id,
            "given_status": self.provider_status,
            "now": self.at,
        }


def mark_sent(session: Session, handed: Handed, dispatcher: str) -> bool:
    """End the claim of a message the provider took; False if ``dispatcher`` no longer
    holds it."""
    return bool(_MARK_SENT.run(session.connection(), handed.values(dispatcher)).rowcount)


def mark_all_sent(connection: Connection, handed: Sequence[Handed], dispatcher: str) -> None:
    """``mark_sent`` for many messages at once (those the dispatcher still holds)."""
    if handed:
        _MARK_SENT.run_many(connection, [item.values(dispatcher) for item in handed])


def mark_retry(
    session: Session,
    message_id: int,
    dispatcher: str,
    now: datetime,
    next_attempt_at: datetime,
    error: str,
) -> bool:
    return _finish(
        session,
        message_id,
        dispatcher,
        status=MessageStatus.PENDING,
        next_attempt_at=next_attempt_at,
        last_error=error,
        updated_at=now,
    )


def mark_failed(
    session: Session, message_id: int, dispatcher: str, now: datetime, error: str
) -> bool:
    return _finish(
        session,
        message_id,
        dispatcher,
        status=MessageStatus.FAILED,
        last_error=error,
        updated_at=now,
    )


def release(session: Session, message_ids: Sequence[int], dispatcher: str, now: datetime) -> int:
    """Hand back claimed messages that were never handed to a provider (a clean shutdown).
    The claim's attempt is given back too."""
    if not message_ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(message_ids),
            OutboxMessage.status == MessageStatus.SENDING,
            OutboxMessage.claimed_by == dispatcher,
        )
        .values(
            status=MessageStatus.PENDING,
            claimed_by=None,
            claimed_until=None,
            attempts=OutboxMessage.attempts - 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# Provider statuses in the order a message goes through them; a late callback never moves
# a message back (Twilio does not promise to call in order).
_PROVIDER_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
}


def record_provider_status(
    session: Session,
    provider_id: str,
    provider_status: str,
    error_code: str | None,
    now: datetime,
    message_id: int | None = None,
) -> bool:
    """A delivery report from the provider: ``delivered``, ``undelivered``, ``failed``...
    The report names the message (``message_id``, from its callback URL): it can come
    before the dispatcher has recorded the provider's id, and it is kept then too."""
    found = (
        OutboxMessage.id == message_id
        if message_id is not None
        else OutboxMessage.provider_id == provider_id
    )
    message = session.scalar(select(OutboxMessage).where(found).with_for_update())
    if message is None or message.provider_id not in (None, provider_id):
        return False
    if message.status == MessageStatus.SENDING:
        # The provider has it: the send is done, whatever the dispatcher records later.
        message.status = MessageStatus.SENT
        message.provider_id = provider_id
        message.sent_at = message.sent_at or now
        message.claimed_by = message.claimed_until = None
    rank = _PROVIDER_ORDER.get(provider_status, -1)
    if rank < _PROVIDER_ORDER.get(message.provider_status or "", -1):
        return True
    message.provider_status = provider_status
    message.updated_at = now
    if provider_status in ("delivered", "read"):
        message.status = MessageStatus.DELIVERED
        message.delivered_at = message.delivered_at or now
    elif provider_status in ("undelivered", "failed", "canceled"):
        message.status = MessageStatus.FAILED
        message.last_error = f"provider: {provider_status}" + (
            f" (error {error_code})" if error_code else ""
        )
    return True


def requeue(session: Session, absence_reference: str, now: datetime) -> int:
    """Send the failed messages of an absence again, with a fresh count of attempts."""
    absence_id = select(Absence.id).where(Absence.reference == absence_reference)
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.absence_id.in_(absence_id.scalar_subquery()),
            OutboxMessage.status == MessageStatus.FAILED,
        )
        .values(status=MessageStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return dict(rows.all())
