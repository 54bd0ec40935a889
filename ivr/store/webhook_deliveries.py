"""Absence webhooks on the dispatcher's side: deliveries claimed from the outbox like every
other message, and their outcomes, with the endpoint's figures (consecutive failures, last
error, last success, counts by outcome) written in the same transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ivr.domain.statuses import MessageStatus
from ivr.store.models import OutboxMessage, WebhookEndpoint
from ivr.store.outbox import Handed, mark_failed, mark_retry, mark_sent
from ivr.store.webhooks import CHANNEL, list_endpoints


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed delivery and where it goes."""

    message_id: int
    endpoint_id: int
    feed_event_id: int | None
    organisation_id: int
    url: str
    sealed_secret: str
    body: str
    attempts: int
    created_at: datetime

    @property
    def webhook_id(self) -> str:
        """The same for every attempt at this event to this endpoint (Standard Webhooks'
        ``webhook-id``: a receiver drops a repeat by it)."""
        if self.feed_event_id is None:
            return f"msg_{self.endpoint_id}_test_{self.message_id}"
        return f"msg_{self.endpoint_id}_{self.feed_event_id}"


def claim_deliveries(
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    holder: str,
    in_flight: Mapping[int, int],
    per_endpoint: int,
) -> list[Delivery]:
    """Take up to ``limit`` due deliveries to enabled endpoints and hold them for
    ``lease``, as ``ivr.store.outbox.claim_due`` does; no more of one endpoint than make
    ``per_endpoint`` with those ``in_flight`` already, so that one slow endpoint leaves
    room for the others. Rows looked at and not taken are only locked until the commit."""
    due = or_(
        and_(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == MessageStatus.SENDING, OutboxMessage.claimed_until < now),
    )
    room = {endpoint: per_endpoint - count for endpoint, count in in_flight.items()}
    query = (
        select(OutboxMessage.id, OutboxMessage.webhook_endpoint_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == OutboxMessage.webhook_endpoint_id)
        .where(due, OutboxMessage.channel == CHANNEL, WebhookEndpoint.disabled_at.is_(None))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit * 4)
        .with_for_update(skip_locked=True, of=OutboxMessage)
    )
    full = [endpoint for endpoint, free in room.items() if free <= 0]
    if full:
        query = query.where(OutboxMessage.webhook_endpoint_id.not_in(full))
    chosen: list[int] = []
    for message_id, endpoint_id in session.execute(query):
        free = room.get(endpoint_id, per_endpoint) if endpoint_id is not None else 0
        if endpoint_id is not None and free > 0:
            chosen.append(message_id)
            room[endpoint_id] = free - 1
            if len(chosen) == limit:
                break
    if not chosen:
        return []
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(chosen))
        .values(
            status=MessageStatus.SENDING,
            claimed_by=holder,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
            updated_at=now,
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.webhook_endpoint_id,
            OutboxMessage.feed_event_id,
            OutboxMessage.body,
            OutboxMessage.attempts,
            OutboxMessage.created_at,
            OutboxMessage.next_attempt_at,
        )
        .execution_options(synchronize_session=False)
    ).all()
    endpoints = {
        endpoint.id: endpoint
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({row.webhook_endpoint_id for row in claimed})
            )
        )
    }
    return [
        Delivery(
            message_id=row.id,
            endpoint_id=row.webhook_endpoint_id,
            feed_event_id=row.feed_event_id,
            organisation_id=endpoints[row.webhook_endpoint_id].organisation_id,
            url=endpoints[row.webhook_endpoint_id].url,
            sealed_secret=endpoints[row.webhook_endpoint_id].secret,
            body=row.body,
            attempts=row.attempts,
            created_at=row.created_at,
        )
        for row in sorted(claimed, key=lambda row: (row.next_attempt_at, row.id))
    ]


def _endpoint_update(session: Session, endpoint_id: int, **values: Any) -> None:
    session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class Sent:
    delivery: Delivery
    at: datetime
    status: str  # the HTTP status the receiver answered


def record_delivered(session: Session, sent: Sequence[Sent], holder: str) -> None:
    """Deliveries the receivers took (those this holder still has), and each endpoint's
    figures once."""
    taken: Counter[int] = Counter()
    latest: dict[int, datetime] = {}
    for item in sent:
        delivery = item.delivery
        if mark_sent(
            session, Handed(delivery.message_id, item.at, delivery.webhook_id, item.status), holder
        ):
            taken[delivery.endpoint_id] += 1
            latest[delivery.endpoint_id] = max(item.at, latest.get(delivery.endpoint_id, item.at))
    for endpoint_id, count in taken.items():
        _endpoint_update(
            session,
            endpoint_id,
            consecutive_failures=0,
            last_success_at=latest[endpoint_id],
            sent_count=WebhookEndpoint.sent_count + count,
        )


def _failure(session: Session, endpoint_id: int, now: datetime, error: str, **values: Any) -> None:
    _endpoint_update(
        session,
        endpoint_id,
        consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
        last_error=error,
        last_failure_at=now,
        **values,
    )


def record_retry(
    session: Session,
    delivery: Delivery,
    holder: str,
    now: datetime,
    retry_at: datetime,
    error: str,
) -> None:
    if mark_retry(session, delivery.message_id, holder, now, retry_at, error):
        _failure(
            session, delivery.endpoint_id, now, error, retry_count=WebhookEndpoint.retry_count + 1
        )


def record_failed(
    session: Session,
    delivery: Delivery,
    holder: str,
    now: datetime,
    error: str,
    disable: bool = False,
) -> None:
    """The delivery is given up; ``disable`` (the receiver said 410 Gone) also disables
    the endpoint and drops what was waiting for it, here or in no process."""
    if not mark_failed(session, delivery.message_id, holder, now, error):
        return
    _failure(
        session, delivery.endpoint_id, now, error, failed_count=WebhookEndpoint.failed_count + 1
    )
    if not disable:
        return
    _endpoint_update(session, delivery.endpoint_id, disabled_at=now, disabled_reason=error)
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.webhook_endpoint_id == delivery.endpoint_id,
            or_(
                OutboxMessage.status == MessageStatus.PENDING,
                and_(
                    OutboxMessage.status == MessageStatus.SENDING,
                    OutboxMessage.claimed_by == holder,
                ),
            ),
        )
        .values(
            status=MessageStatus.CANCELLED,
            claimed_by=None,
            claimed_until=None,
            last_error=error,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class EndpointFigures:
    endpoint_id: int
    sent: int
    retried: int
    failed: int
    pending: int


def endpoint_figures(session: Session) -> list[EndpointFigures]:
    """Each endpoint's deliveries by outcome, for the metrics."""
    return [
        EndpointFigures(
            state.endpoint.id,
            state.endpoint.sent_count,
            state.endpoint.retry_count,
            state.endpoint.failed_count,
            state.pending,
        )
        for state in list_endpoints(session)
    ]


def defer(
    session: Session, delivery: Delivery, holder: str, now: datetime, until: datetime
) -> None:
    """Hand back a claimed delivery that was not tried (its endpoint is resting after a
    failure, or it waited too long for its turn): due again at ``until``, the claim's
    attempt given back."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == delivery.message_id,
            OutboxMessage.status == MessageStatus.SENDING,
            OutboxMessage.claimed_by == holder,
        )
        .values(
            status=MessageStatus.PENDING,
            claimed_by=None,
            claimed_until=None,
            attempts=OutboxMessage.attempts - 1,
            next_attempt_at=until,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
