"""Absence webhooks in a lane of the dispatcher's own: the relay (feed events into the
outbox), then the deliveries, claimed and settled like every other message.

An endpoint that hangs or refuses must never hold up a confirmation, an alert or a call:
the lane has its own loop, its own HTTP client and at most ``IVR_WEBHOOK_CONCURRENCY``
posts in flight (and at most half of them to one endpoint, so one slow endpoint leaves
room for the others). Failures are retried with the outbox's backoff up to
``IVR_OUTBOX_MAX_ATTEMPTS`` and ``IVR_OUTBOX_MAX_AGE_HOURS``; 410 Gone disables the
endpoint. Every outcome is written with the endpoint's figures in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from ivr.notify.dispatcher import dispatcher_name, retry_delay
from ivr.notify.outcomes import Outcomes
from ivr.notify.sending import Accepted, SendFailure, TemporaryFailure
from ivr.notify.webhook_gateway import EndpointGone, WebhookGateway, WebhookPost
from ivr.services.jobs import Job
from ivr.services.webhooks import EndpointSecrets
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.webhook_deliveries import (
    Delivery,
    claim_deliveries,
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
        self.concurrency = settings.webhook_concurrency
        self.per_endpoint = max(1, self.concurrency // 2)
        self.in_flight: set[asyncio.Task[None]] = set()
        self.by_endpoint: Counter[int] = Counter()
        self.wake = asyncio.Event()
        self.freed = asyncio.Event()
        self.sent = self.retried = self.failed = 0

    def wake_up(self) -> None:
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay and deliver until ``stop``; then wait for the posts in flight (each ends
        within ``IVR_WEBHOOK_TIMEOUT_SECONDS``) and claim no more."""
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
        """One round: relay new events, start the deliveries due that there is room for.
        True if there was anything to do (look again at once)."""
        relayed = await self.relay.tick(self.clock()) if self.relay is not None else 0
        started = await self.deliver_once()
        return relayed > 0 or started > 0

    async def drain(self) -> None:
        """Wait for every post in flight and its outcome."""
        while self.in_flight:
            await asyncio.gather(*list(self.in_flight))

    async def _nap(self, stop: asyncio.Event) -> None:
        self.freed.clear()
        waiters = [asyncio.ensure_future(event.wait()) for event in (self.wake, stop, self.freed)]
        # A freed slot is only worth waking for when the lane was full.
        if len(self.in_flight) < self.concurrency:
            waiters.pop().cancel()
        await asyncio.wait(
            waiters, timeout=self.settings.outbox_poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def deliver_once(self) -> int:
        """Claim as many due deliveries as there is room for and start each in a task of
        its own; how many were started."""
        room = self.concurrency - len(self.in_flight)
        if room <= 0:
            return 0
        now = self.clock()
        lease = timedelta(seconds=self.settings.outbox_lease_seconds)
        in_flight = dict(self.by_endpoint)
        batch = await self.database.run(
            lambda session: claim_deliveries(
                session, now, room, lease, self.name, in_flight, self.per_endpoint
            )
        )
        for delivery in batch:
            self.by_endpoint[delivery.endpoint_id] += 1
            task = asyncio.create_task(self._deliver(delivery))
            self.in_flight.add(task)
            task.add_done_callback(self._done)
        return len(batch)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.freed.set()

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            accepted = await self._post(delivery)
        except SendFailure as failure:
            await self._failed(delivery, failure)
        except Exception as error:
            log.exception("webhook gateway error", extra={"message_id": delivery.message_id})
            await self._failed(delivery, TemporaryFailure(f"unexpected: {type(error).__name__}"))
        else:
            await self._sent(delivery, accepted)
        finally:
            self.by_endpoint[delivery.endpoint_id] -= 1
            if self.by_endpoint[delivery.endpoint_id] <= 0:
                del self.by_endpoint[delivery.endpoint_id]

    async def _post(self, delivery: Delivery) -> Accepted:
        try:
            secret = self.secrets.open(
                delivery.sealed_secret, delivery.organisation_id, delivery.url
            )
        except InvalidToken:
            raise TemporaryFailure(SEALED_KEY_CHANGED) from None
        post = WebhookPost(delivery.url, secret, delivery.webhook_id, delivery.body)
        return await self.gateway.send(post)

    async def _sent(self, delivery: Delivery, accepted: Accepted) -> None:
        now = self.clock()
        status = accepted.provider_status or ""
        await self.outcomes.record(
            lambda session: record_delivered(session, delivery, self.name, now, status)
        )
        self.sent += 1
        log.debug(
            "webhook sent",
            extra={"message_id": delivery.message_id, "endpoint": delivery.endpoint_id},
        )

    async def _failed(self, delivery: Delivery, failure: SendFailure) -> None:
        now = self.clock()
        out_of_time = now - delivery.created_at > timedelta(
            hours=self.settings.outbox_max_age_hours
        )
        out_of_attempts = delivery.attempts >= self.settings.outbox_max_attempts
        gone = isinstance(failure, EndpointGone)
        # A test event (``ivr webhook test``) is tried once: its command waits for it.
        once = delivery.feed_event_id is None
        extra = {
            "message_id": delivery.message_id,
            "endpoint": delivery.endpoint_id,
            "reason": failure.reason,
        }
        if failure.permanent or out_of_time or out_of_attempts or once:
            reason = failure.reason
            if not (failure.permanent or once):
                reason = f"gave up after {delivery.attempts} attempt(s): {reason}"

            def give_up(session: Session) -> None:
                record_failed(session, delivery, self.name, now, reason, disable=gone)

            await self.outcomes.record(give_up)
            self.failed += 1
            log.warning("webhook endpoint disabled" if gone else "webhook failed", extra=extra)
            return
        retry_at = now + retry_delay(delivery.attempts)
        await self.outcomes.record(
            lambda session: record_retry(
                session, delivery, self.name, now, retry_at, failure.reason
            )
        )
        self.retried += 1
        log.info("webhook will retry", extra={**extra, "at": retry_at.isoformat()})
