"""The dispatcher: claims due messages from the outbox, hands them to the gateways, and
records what happened.

Delivery is at least once, and exactly once as far as the protocols allow: a message is
claimed (with a lease) before it is sent and marked sent as soon as the provider has taken
it (outcomes that arrive together share one transaction). A dispatcher killed between those
two moments leaves a claimed message whose lease runs out; another dispatcher then sends it
again. That window, the provider's answer in flight plus one commit, is the only way a
guardian can get a message twice. A dispatcher told to stop finishes the sends it has
started and hands back the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy.orm import Session

from ivr.domain.phone import mask
from ivr.notify.outcomes import GroupCommit, Outcomes
from ivr.notify.sending import Gateway, Outgoing, PermanentFailure, SendFailure
from ivr.services.jobs import Job
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.leases import take_lease
from ivr.store.models import OutboxMessage
from ivr.store.outbox import Handed, claim_due, mark_all_sent, mark_failed, mark_retry, release

log = logging.getLogger(__name__)

CALLS_LEASE = "calls"
CALLS_LEASE_HOLD = timedelta(seconds=5)
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=15)
# Sent by loops of their own, not by the main one: outreach calls (paced), and absence
# webhooks (a lane, ``Lane``: a slow endpoint must hold up no confirmation).
OWN_LOOPS = ("call", "webhook")


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: 5 s, 10 s, 20 s... up to 15 minutes, each drawn
    between half and all of that, so that failed messages do not all come back at once."""
    ceiling = min(FIRST_RETRY * 2 ** max(0, attempts - 1), LONGEST_RETRY)
    spread = random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not a secret
    return timedelta(seconds=ceiling.total_seconds() * spread)


_NO_LIMIT = contextlib.nullcontext()


def dispatcher_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lane(Protocol):
    """Messages sent beside the others, in a loop of their own (absence webhooks)."""

    async def run(self, stop: asyncio.Event) -> None: ...

    def wake_up(self) -> None: ...


class Dispatcher:
    def __init__(
        self,
        database: Database,
        gateways: Mapping[str, Gateway],
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        name: str | None = None,
        jobs: Sequence[Job] = (),
        lanes: Sequence[Lane] = (),
    ) -> None:
        self.database = database
        self.jobs = jobs
        self.lanes = lanes
        self.gateways = gateways
        self.settings = settings
        self.clock = clock
        self.name = name or dispatcher_name()
        self.wake = asyncio.Event()
        self.urgent_wake = asyncio.Event()
        self.placing: set[asyncio.Task[None]] = set()
        self.outcomes = Outcomes(database)
        # What the providers took, the common outcome, in one write per batch.
        self.handed = GroupCommit[Handed](
            database, lambda session, handed: mark_all_sent(session.connection(), handed, self.name)
        )
        rates = {"sms": settings.sms_per_second, "email": settings.email_per_second}
        self.limiters = {
            channel: AsyncLimiter(rate, 1.0) for channel, rate in rates.items() if rate > 0
        }
        # Calls evenly spaced (no burst), and placed by one process at a time (a lease):
        # IVR_CALLS_PER_SECOND holds across all workers together.
        self.limiters["call"] = AsyncLimiter(1, 1.0 / settings.calls_per_second)
        self.slots = {
            "sms": asyncio.Semaphore(settings.sms_concurrency),
            "email": asyncio.Semaphore(settings.smtp_connections),
        }
        self.sent = 0
        self.failed = 0
        self.retried = 0

    def wake_up(self) -> None:
        """New messages wait in the outbox: look now instead of at the next poll."""
        self.wake.set()
        self.urgent_wake.set()
        for lane in self.lanes:
            lane.wake_up()

    def confirmations_queued(self) -> None:
        """A call's report queued its confirmations, which are never urgent: only the main
        loop looks now. The urgent lane and the absence webhooks' lane would find nothing
        (webhooks wait for the relay, at most once a poll), yet each look is a query."""
        self.wake.set()

    def describe(self) -> list[str]:
        return [gateway.description for gateway in self.gateways.values()]

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; then finish what is started and hand back the rest."""
        for line in self.describe():
            log.info("confirmations: %s", line)
        await self.check_gateways()
        calls = asyncio.create_task(self._place_calls(stop)) if "call" in self.gateways else None
        urgent = asyncio.create_task(self._send_urgent(stop))
        lanes = [asyncio.create_task(lane.run(stop)) for lane in self.lanes]
        while not stop.is_set():
            for job in self.jobs:
                await job.tick(self.clock())
            handled = await self.dispatch_once(stop)
            if handled == 0:
                await self._nap(stop)
        if calls is not None:
            await calls
        await urgent
        await asyncio.gather(*lanes)

    async def _place_calls(self, stop: asyncio.Event) -> None:
        """Outreach calls, beside the other messages so that their pace holds up nothing."""
        while not stop.is_set():
            try:
                placed = await self.place_calls_once(stop)
            except Exception:
                log.exception("placing calls failed; trying again")
                placed = 0
            if placed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.outbox_poll_seconds)
        await asyncio.gather(*self.placing)

    async def _send_urgent(self, stop: asyncio.Event) -> None:
        """Urgent messages in a lane of their own: a batch of ordinary ones waiting on the
        rate limit holds them up for nothing."""
        while not stop.is_set():
            try:
                sent = await self.send_urgent_once()
            except Exception:
                log.exception("sending urgent messages failed; trying again")
                sent = 0
            if sent == 0:
                await self._nap(stop, self.urgent_wake)

    async def check_gateways(self) -> dict[str, str]:
        """Say once, at start, what keeps a gateway from sending (a setting no retry can
        fix, such as STARTTLS to a relay without it); messages wait for the fix meanwhile."""
        problems: dict[str, str] = {}
        for channel, gateway in self.gateways.items():
            try:
                async with asyncio.timeout(self.settings.send_timeout_seconds):
                    problem = await gateway.check()
            except TimeoutError:
                problem = f"{gateway.description}: no answer within the send timeout"
            if problem is not None:
                problems[channel] = problem
                log.error("%s cannot be sent: %s", channel, problem, extra={"channel": channel})
        return problems

    async def _nap(self, stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
        wake = wake or self.wake
        wake.clear()
        waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(
            waiters, timeout=self.settings.outbox_poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def dispatch_once(self, stop: asyncio.Event | None = None) -> int:
        """Claim one batch of due messages (calls aside) and send them; how many were
        claimed."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.outbox_lease_seconds)
        batch = await self.database.run(
            lambda session: claim_due(
                session, now, self.settings.outbox_batch, lease, self.name, leaving_out=OWN_LOOPS
            )
        )
        if batch:
            await asyncio.gather(*(self._deliver(message, stop) for message in batch))
        return len(batch)

    async def send_urgent_once(self) -> int:
        """Claim the urgent messages due and send them at once, past the rate limit (a few
        alerts beyond it are queued by the provider); how many were claimed."""
        now = self.clock()
        lease = timedelta(seconds=self.settings.outbox_lease_seconds)
        batch = await self.database.run(
            lambda session: claim_due(
                session,
                now,
                self.settings.outbox_batch,
                lease,
                self.name,
                leaving_out=OWN_LOOPS,
                urgent=True,
            )
        )
        await asyncio.gather(*(self._deliver(message, None, limited=False) for message in batch))
        return len(batch)

    async def place_calls_once(self, stop: asyncio.Event | None = None) -> int:
        """If this process holds the calls' lease, claim the calls due within the next
        second at ``IVR_CALLS_PER_SECOND`` and place them, paced; how many were claimed."""
        now = self.clock()
        rate = self.settings.calls_per_second
        count = max(1, math.ceil(rate))
        claim = timedelta(seconds=self.settings.outbox_lease_seconds)

        def take(session: Session) -> list[OutboxMessage]:
            if not take_lease(session, CALLS_LEASE, self.name, now, CALLS_LEASE_HOLD):
                return []
            return claim_due(session, now, count, claim, self.name, channels=["call"])

        batch = await self.database.run(take)
        # The limiter spaces the starts. Each call is placed in a task of its own, and the
        # next round is claimed once the last of this one has started: a slow answer from
        # the provider, or the claim itself, does not slow the pace.
        starts = []
        for message in batch:
            started = asyncio.Event()
            starts.append(started)
            task = asyncio.create_task(self._deliver(message, stop, started=started))
            self.placing.add(task)
            task.add_done_callback(self.placing.discard)
        for started in starts:
            await started.wait()
        return len(batch)

    async def _deliver(
        self,
        message: OutboxMessage,
        stop: asyncio.Event | None,
        *,
        limited: bool = True,
        started: asyncio.Event | None = None,
    ) -> None:
        """Send one message once the rate limit lets it go (``started`` is set then, or
        when it will not go)."""
        try:
            await self._deliver_limited(message, stop, limited, started or asyncio.Event())
        finally:
            if started is not None:
                started.set()

    async def _deliver_limited(
        self,
        message: OutboxMessage,
        stop: asyncio.Event | None,
        limited: bool,
        started: asyncio.Event,
    ) -> None:
        gateway = self.gateways.get(message.channel)
        if gateway is None:
            await self._record_failure(
                message, PermanentFailure(f"no gateway for {message.channel}")
            )
            return
        async with self.slots.get(message.channel, _NO_LIMIT) if limited else _NO_LIMIT:
            limiter = self.limiters.get(message.channel) if limited else None
            if limiter is not None:
                await limiter.acquire()
            started.set()
            if stop is not None and stop.is_set():
                now = self.clock()
                await self.outcomes.record(
                    lambda session: release(session, [message.id], self.name, now)
                )
                return
            await self._send(gateway, message)

    async def _send(self, gateway: Gateway, message: OutboxMessage) -> None:
        outgoing = Outgoing(
            message_id=message.id,
            channel=message.channel,
            address=message.address,
            recipient_name=message.recipient_name,
            subject=message.subject,
            body=message.body,
        )
        try:
            accepted = await gateway.send(outgoing)
        except SendFailure as failure:
            await self._record_failure(message, failure)
            return
        except Exception as error:
            log.exception("gateway error", extra={"message_id": message.id})
            await self._record_failure(message, SendFailure(f"unexpected: {type(error).__name__}"))
            return
        await self.handed.record(
            Handed(message.id, self.clock(), accepted.provider_id, accepted.provider_status)
        )
        self.sent += 1
        # Each send is on record in the outbox (provider id, time): the log keeps to what
        # goes wrong, so a morning's thousands of sends do not bury it.
        log.debug(
            "sent",
            extra={
                "message_id": message.id,
                "channel": message.channel,
                "to": mask(message.address),
            },
        )

    async def _record_failure(self, message: OutboxMessage, failure: SendFailure) -> None:
        now = self.clock()
        age = now - message.created_at
        out_of_time = age > timedelta(hours=self.settings.outbox_max_age_hours)
        out_of_attempts = message.attempts >= self.settings.outbox_max_attempts
        if failure.permanent or out_of_time or out_of_attempts:
            reason = failure.reason
            if not failure.permanent:
                reason = f"gave up after {message.attempts} attempt(s): {reason}"
            await self.outcomes.record(
                lambda session: mark_failed(session, message.id, self.name, now, reason)
            )
            self.failed += 1
            log.warning(
                "failed",
                extra={"message_id": message.id, "channel": message.channel, "reason": reason},
            )
            return
        retry_at = now + retry_delay(message.attempts)
        await self.outcomes.record(
            lambda session: mark_retry(
                session, message.id, self.name, now, retry_at, failure.reason
            )
        )
        self.retried += 1
        log.info(
            "will retry",
            extra={
                "message_id": message.id,
                "channel": message.channel,
                "reason": failure.reason,
                "at": retry_at.isoformat(),
            },
        )
