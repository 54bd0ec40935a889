"""Absence webhooks in a lane of the dispatcher's own: the relay (feed events into the
outbox), then the deliveries, claimed and settled like every other message.

An endpoint that hangs or refuses must never hold up a confirmation, an alert or a call:
the lane has its own loop, its own HTTP client and at most ``IVR_WEBHOOK_CONCURRENCY``
posts in flight, at most half of them to one endpoint, so one slow endpoint leaves room
for the others. Deliveries are claimed in batches (a few rounds of posts ahead) and wait
in the process for their endpoint's turn; one that has waited half its claim's lease is
handed back untried rather than risk a second process sending it too.

An endpoint that does not answer in time, or refuses the connection, rests until that
delivery's retry: what waits for it is handed back untried for then, so a dead endpoint
costs one post per round of backoff, not one per event. Failures are retried with the
outbox's backoff up to ``IVR_OUTBOX_MAX_ATTEMPTS`` and ``IVR_OUTBOX_MAX_AGE_HOURS``; 410
Gone disables the endpoint. Every outcome is written with the endpoint's figures in one
transaction, outcomes that arrive together in one (``ivr.notify.outcomes``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from ivr.notify.dispatcher import dispatcher_name, retry_delay
from ivr.notify.outcomes import GroupCommit, Outcomes
from ivr.notify.sending import Accepted, SendFailure, TemporaryFailure
from ivr.notify.webhook_gateway import (
    EndpointGone,
    EndpointUnreachable,
    WebhookGateway,
    WebhookPost,
)
from ivr.services.jobs import Job
from ivr.services.webhooks import EndpointSecrets
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.webhook_deliveries import (
    Delivery,
    Sent,
    claim_deliveries,
    defer,
    record_delivered,
    record_failed,
    record_retry,
)
from ivr.twilio.sealed import InvalidToken

log = logging.getLogger(__name__)

SEALED_KEY_CHANGED = (
    "the endpoint's secret cannot be opened (was IVR_SECRET_KEY changed?); "
    "remove the endpoint and add it again"
)
Outcome = Callable[[Session], object]
# Claimed ahead: this many rounds of posts wait in the process, per endpoint and in all.
AHEAD = 4


@dataclass
class _Endpoint:
    """One endpoint in this process: its share of the posts, what it has claimed, and
    until when it rests after failing to answer."""

    slots: asyncio.Semaphore
    claimed: int = 0
    resting_until: datetime | None = None
    gone: bool = False  # it answered 410: what waits for it is not sent


class WebhookLane:
    def __init__(
        self,
        database: Database,
        gateway: WebhookGateway,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        relay: Job | None = None,
        name: str | None = None,
    ) -> None:
        self.database = database
        self.gateway = gateway
        self.settings = settings
        self.clock = clock
        self.relay = relay
        self.name = name or dispatcher_name()
        self.secrets = EndpointSecrets(settings.personal_number_key)
        self.outcomes = Outcomes(database)
        # What was taken, the common outcome, in one write per batch.
        self.taken = GroupCommit[Sent](
            database, lambda session, sent: record_delivered(session, sent, self.name)
        )
        self.concurrency = settings.webhook_concurrency
        self.per_endpoint = max(1, self.concurrency // 2)
        # Claimed ahead, in all and per endpoint; refilled once down to half.
        self.ahead = self.concurrency * AHEAD
        self.ahead_per_endpoint = self.per_endpoint * AHEAD
        self.slots = asyncio.Semaphore(self.concurrency)
        self.endpoints: dict[int, _Endpoint] = {}
        self.in_flight: set[asyncio.Task[None]] = set()
        self.lease = timedelta(seconds=settings.outbox_lease_seconds)
        self.wake = asyncio.Event()
        self.freed = asyncio.Event()
        self.sent = self.retried = self.failed = self.deferred = 0

    def wake_up(self) -> None:
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay and deliver until ``stop``; then finish the deliveries claimed (a post
        ends within ``IVR_WEBHOOK_TIMEOUT_SECONDS``) and claim no more."""
        log.info("absence webhooks: %s", self.gateway.description)
        while not stop.is_set():
            self.wake.clear()
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("absence webhooks: a round failed; trying again")
                busy = False
            if not busy:
                await self._nap(stop)
        await self.drain()

    async def run_once(self) -> bool:
        """One round: relay new events, claim the deliveries due that there is room for.
        True if there was anything to do (look again at once)."""
        relayed = await self.relay.tick(self.clock()) if self.relay is not None else 0
        started = await self.deliver_once()
        return relayed > 0 or started > 0

    async def drain(self) -> None:
        """Wait for every delivery claimed and its outcome."""
        while self.in_flight:
            await asyncio.gather(*list(self.in_flight))

    async def _nap(self, stop: asyncio.Event) -> None:
        self.freed.clear()
        waiters = [asyncio.ensure_future(event.wait()) for event in (self.wake, stop, self.freed)]
        await asyncio.wait(
            waiters, timeout=self.settings.outbox_poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def deliver_once(self) -> int:
        """Claim due deliveries, for the lane and each endpoint once at most half of what
        they claimed ahead is left, and start each in a task of its own; how many were
        claimed."""
        if len(self.in_flight) > self.ahead // 2:
            return 0
        now = self.clock()
        full = self.ahead_per_endpoint
        claimed = {}
        for endpoint_id, endpoint in list(self.endpoints.items()):
            if endpoint.claimed <= 0 and not self._resting(endpoint, now):
                del self.endpoints[endpoint_id]
            elif self._resting(endpoint, now) or endpoint.claimed > full // 2:
                claimed[endpoint_id] = full
            else:
                claimed[endpoint_id] = endpoint.claimed
        room = self.ahead - len(self.in_flight)
        batch = await self.database.run(
            lambda session: claim_deliveries(
                session, now, room, self.lease, self.name, claimed, full
            )
        )
        for delivery in batch:
            endpoint = self.endpoints.setdefault(
                delivery.endpoint_id, _Endpoint(asyncio.Semaphore(self.per_endpoint))
            )
            endpoint.claimed += 1
            task = asyncio.create_task(self._take_turn(delivery, endpoint, time.monotonic()))
            self.in_flight.add(task)
            task.add_done_callback(self._done)
        return len(batch)

    @staticmethod
    def _resting(endpoint: _Endpoint, now: datetime) -> bool:
        return endpoint.resting_until is not None and endpoint.resting_until > now

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        if len(self.in_flight) == self.ahead // 2:
            self.freed.set()

    async def _take_turn(self, delivery: Delivery, endpoint: _Endpoint, claimed: float) -> None:
        """Post once the endpoint's share and the lane have room, unless the endpoint is
        resting or gone, or the claim has grown old meanwhile; then write the outcome (after
        the post's slot is free again, so that outcomes are written together)."""
        try:
            async with endpoint.slots, self.slots:
                now = self.clock()
                outcome: Outcome | Sent
                if endpoint.gone:
                    return  # handed back when the endpoint was disabled
                if self._resting(endpoint, now):
                    outcome = self._defer(delivery, now, endpoint.resting_until or now)
                elif time.monotonic() - claimed > self.lease.total_seconds() / 2:
                    outcome = self._defer(delivery, now, now)
                else:
                    outcome = await self._attempt(delivery, endpoint)
            if isinstance(outcome, Sent):
                await self.taken.record(outcome)
            else:
                await self.outcomes.record(outcome)
        finally:
            endpoint.claimed -= 1
            if endpoint.claimed <= self.ahead_per_endpoint // 2:
                self.freed.set()

    def _defer(self, delivery: Delivery, now: datetime, until: datetime) -> Outcome:
        self.deferred += 1
        return lambda session: defer(session, delivery, self.name, now, until)

    async def _attempt(self, delivery: Delivery, endpoint: _Endpoint) -> Outcome | Sent:
        try:
            accepted = await self._post(delivery)
        except SendFailure as failure:
            return self._failed(delivery, endpoint, failure)
        except Exception as error:
            log.exception("webhook gateway error", extra={"message_id": delivery.message_id})
            unexpected = TemporaryFailure(f"unexpected: {type(error).__name__}")
            return self._failed(delivery, endpoint, unexpected)
        endpoint.resting_until = None
        self.sent += 1
        log.debug(
            "webhook sent",
            extra={"message_id": delivery.message_id, "endpoint": delivery.endpoint_id},
        )
        return Sent(delivery, self.clock(), accepted.provider_status or "")

    async def _post(self, delivery: Delivery) -> Accepted:
        try:
            secret = self.secrets.open(
                delivery.sealed_secret, delivery.organisation_id, delivery.url
            )
        except InvalidToken:
            raise TemporaryFailure(SEALED_KEY_CHANGED) from None
        post = WebhookPost(delivery.url, secret, delivery.webhook_id, delivery.body)
        return await self.gateway.send(post)

    def _failed(self, delivery: Delivery, endpoint: _Endpoint, failure: SendFailure) -> Outcome:
        now = self.clock()
        out_of_time = now - delivery.created_at > timedelta(
            hours=self.settings.outbox_max_age_hours
        )
        out_of_attempts = delivery.attempts >= self.settings.outbox_max_attempts
        # A test event (``ivr webhook test``) is tried once: its command waits for it.
        once = delivery.feed_event_id is None
        extra = {
            "message_id": delivery.message_id,
            "endpoint": delivery.endpoint_id,
            "reason": failure.reason,
        }
        retry_at = now + retry_delay(delivery.attempts)
        if isinstance(failure, EndpointUnreachable):
            endpoint.resting_until = max(endpoint.resting_until or retry_at, retry_at)
        if isinstance(failure, EndpointGone):
            endpoint.gone = True
        if failure.permanent or out_of_time or out_of_attempts or once:
            reason = failure.reason
            if not (failure.permanent or once):
                reason = f"gave up after {delivery.attempts} attempt(s): {reason}"
            self.failed += 1
            log.warning(
                "webhook endpoint disabled" if endpoint.gone else "webhook failed", extra=extra
            )
            return lambda session: record_failed(
                session, delivery, self.name, now, reason, disable=endpoint.gone
            )
        self.retried += 1
        log.info("webhook will retry", extra={**extra, "at": retry_at.isoformat()})
        return lambda session: record_retry(
            session, delivery, self.name, now, retry_at, failure.reason
        )
