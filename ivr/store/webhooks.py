"""Absence webhooks: the endpoints, and the relay's reading of the feed into the outbox
(``ivr.store.webhook_deliveries`` has the dispatcher's side)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, literal, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.domain.statuses import MessageStatus
from ivr.store.feed import START, Position
from ivr.store.feed import _settled as settled_events
from ivr.store.models import Absence, FeedEvent, Organisation, OutboxMessage, WebhookEndpoint

CHANNEL = "webhook"
_DIALECTS: dict[str, Any] = {"sqlite": sqlite, "postgresql": postgresql}
_WAITING = (MessageStatus.PENDING, MessageStatus.SENDING)


def position_of(endpoint: WebhookEndpoint) -> Position:
    return Position(endpoint.cursor_transaction_id, endpoint.cursor_event_id)


# --- endpoints -----------------------------------------------------------------------------


def feed_end(session: Session) -> Position:
    """The last event of the feed: a new endpoint starts after it, so it is sent nothing
    that had happened. (A change being written at that very moment, in a transaction that
    commits after it, may fall on either side.)"""
    last = session.execute(
        select(FeedEvent.transaction_id, FeedEvent.id)
        .order_by(FeedEvent.transaction_id.desc(), FeedEvent.id.desc())
        .limit(1)
    ).first()
    return START if last is None else Position(last[0], last[1])


def add_endpoint(
    session: Session,
    organisation_id: int,
    url: str,
    events: Sequence[str],
    sealed_secret: str,
    now: datetime,
) -> WebhookEndpoint:
    """A new endpoint, at the current end of the feed (it is sent no history)."""
    end = feed_end(session)
    endpoint = WebhookEndpoint(
        organisation_id=organisation_id,
        url=url,
        events=",".join(events),
        secret=sealed_secret,
        created_at=now,
        cursor_transaction_id=end.transaction_id,
        cursor_event_id=end.event_id,
        consecutive_failures=0,
        sent_count=0,
        retry_count=0,
        failed_count=0,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


@dataclass(frozen=True, slots=True)
class EndpointState:
    endpoint: WebhookEndpoint
    organisation: str
    pending: int


def list_endpoints(session: Session, organisation_id: int | None = None) -> list[EndpointState]:
    """Every endpoint (of one organisation), with how many deliveries wait."""
    pending = (
        select(OutboxMessage.webhook_endpoint_id, func.count().label("waiting"))
        .where(OutboxMessage.channel == CHANNEL, OutboxMessage.status.in_(_WAITING))
        .group_by(OutboxMessage.webhook_endpoint_id)
        .subquery()
    )
    query = (
        select(WebhookEndpoint, Organisation.name, func.coalesce(pending.c.waiting, 0))
        .join(Organisation, Organisation.id == WebhookEndpoint.organisation_id)
        .outerjoin(pending, pending.c.webhook_endpoint_id == WebhookEndpoint.id)
        .order_by(WebhookEndpoint.id)
    )
    if organisation_id is not None:
        query = query.where(WebhookEndpoint.organisation_id == organisation_id)
    return [EndpointState(*row) for row in session.execute(query)]


def find_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint | None:
    return session.get(WebhookEndpoint, endpoint_id)


def remove_endpoint(session: Session, endpoint_id: int) -> int | None:
    """Delete the endpoint and the deliveries it had not taken yet; how many those were
    (None: no such endpoint)."""
    if session.get(WebhookEndpoint, endpoint_id) is None:
        return None
    dropped = session.scalar(
        select(func.count()).where(
            OutboxMessage.webhook_endpoint_id == endpoint_id, OutboxMessage.status.in_(_WAITING)
        )
    )
    session.execute(delete(OutboxMessage).where(OutboxMessage.webhook_endpoint_id == endpoint_id))
    session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    return int(dropped or 0)


# --- the relay -----------------------------------------------------------------------------


def active_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.disabled_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
    )


@dataclass(frozen=True, slots=True)
class RelayedEvent:
    position: Position
    absence_id: int
    organisation_id: int
    kind: str
    happened_at: datetime


def events_after(session: Session, after: Position, limit: int) -> list[RelayedEvent]:
    """Up to ``limit`` settled events after ``after``, each one (none merged), in order."""
    query = (
        select(
            FeedEvent.transaction_id,
            FeedEvent.id,
            FeedEvent.absence_id,
            Absence.organisation_id,
            FeedEvent.kind,
            FeedEvent.happened_at,
        )
        .join(Absence, Absence.id == FeedEvent.absence_id)
        .where(
            tuple_(FeedEvent.transaction_id, FeedEvent.id)
            > tuple_(literal(after.transaction_id), literal(after.event_id))
        )
        .order_by(FeedEvent.transaction_id, FeedEvent.id)
        .limit(limit)
    )
    settled = settled_events(session)
    if settled is not None:
        query = query.where(settled)
    return [
        RelayedEvent(Position(transaction_id, event_id), absence_id, organisation, kind, at)
        for transaction_id, event_id, absence_id, organisation, kind, at in session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class Drafted:
    """One event for one endpoint, ready to queue."""

    endpoint_id: int
    feed_event_id: int | None
    address: str
    event_type: str
    body: str


def queue_deliveries(session: Session, drafts: Sequence[Drafted], now: datetime) -> None:
    """Into the outbox, due at once; an event already queued for an endpoint is skipped."""
    if not drafts:
        return
    rows = [
        {
            "kind": CHANNEL,
            "channel": CHANNEL,
            "webhook_endpoint_id": draft.endpoint_id,
            "feed_event_id": draft.feed_event_id,
            "recipient": f"endpoint:{draft.endpoint_id}",
            "recipient_name": f"webhook endpoint {draft.endpoint_id}",
            "address": draft.address,
            "language": "",
            "subject": draft.event_type,
            "body": draft.body,
            "status": MessageStatus.PENDING,
            "urgent": False,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for draft in drafts
    ]
    dialect = _DIALECTS[session.get_bind().dialect.name]
    statement = dialect.insert(OutboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["webhook_endpoint_id", "feed_event_id"]
    )
    session.execute(statement, rows)


def advance(session: Session, endpoint_ids: Collection[int], to: Position) -> None:
    if endpoint_ids:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(list(endpoint_ids)))
            .values(cursor_transaction_id=to.transaction_id, cursor_event_id=to.event_id)
            .execution_options(synchronize_session=False)
        )


def queue_ping(
    session: Session, endpoint: WebhookEndpoint, address: str, body: str, now: datetime
) -> int:
    """A test event for ``endpoint`` (``ivr webhook test``), due at once; its message id."""
    message = OutboxMessage(
        kind=CHANNEL,
        channel=CHANNEL,
        webhook_endpoint_id=endpoint.id,
        recipient=f"endpoint:{endpoint.id}",
        recipient_name=f"webhook endpoint {endpoint.id}",
        address=address,
        language="",
        subject="webhook.test",
        body=body,
        status=MessageStatus.PENDING,
        urgent=False,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()
    return message.id


def message_state(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id)
