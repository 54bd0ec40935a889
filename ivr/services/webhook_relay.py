"""The relay: feed events into the outbox, once for each endpoint that wants them.

The feed events are written in the same transaction as each change of a report, on the
phone line's hot path too; the relay adds nothing there. It reads the settled events after
the endpoints' cursors (in the feed's own order, which never skips an event committed late
on PostgreSQL, ``ivr.store.feed``), queues one delivery per endpoint and event (unique in
the outbox), and moves each endpoint's cursor past them, all in one transaction: an event
is queued for an endpoint exactly once, whatever fails or runs twice.

It runs from the dispatcher's webhook lane, in one process at a time (a lease in the
database, taken in the same transaction): several workers do not queue an event twice, and
when the one relaying dies another takes over within the lease's hold.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ivr.services.absence_json import absence_out
from ivr.services.webhooks import TYPES, event_body, shown_url, wanted_kinds
from ivr.store.db import Database
from ivr.store.feed import load_absences
from ivr.store.leases import take_lease
from ivr.store.models import WebhookEndpoint
from ivr.store.webhooks import (
    Drafted,
    RelayedEvent,
    active_endpoints,
    advance,
    events_after,
    position_of,
    queue_deliveries,
)

log = logging.getLogger(__name__)

LEASE = "webhook-relay"
LEASE_HOLD = timedelta(seconds=10)
BATCH = 500


@dataclass(frozen=True, slots=True)
class Relayed:
    events: int  # read from the feed
    queued: int  # deliveries queued for them


def relay(session: Session, holder: str, now: datetime, batch: int = BATCH) -> Relayed:
    """Queue the deliveries of up to ``batch`` new events. Nothing while another process
    holds the relay's lease."""
    endpoints = active_endpoints(session)
    if not endpoints or not take_lease(session, LEASE, holder, now, LEASE_HOLD):
        return Relayed(0, 0)
    events = events_after(session, min(position_of(e) for e in endpoints), batch)
    if not events:
        return Relayed(0, 0)
    wanted: dict[int, list[tuple[WebhookEndpoint, RelayedEvent]]] = defaultdict(list)
    for endpoint in endpoints:
        kinds = wanted_kinds(endpoint.events)
        for event in events:
            if (
                event.position > position_of(endpoint)
                and event.organisation_id == endpoint.organisation_id
                and event.kind in kinds
            ):
                wanted[event.absence_id].append((endpoint, event))
    drafts = []
    for item in load_absences(session, list(wanted)):
        data = absence_out(item)
        zone = ZoneInfo(item.organisation.timezone)
        for endpoint, event in wanted[item.absence.id]:
            drafts.append(
                Drafted(
                    endpoint_id=endpoint.id,
                    feed_event_id=event.position.event_id,
                    address=shown_url(endpoint.url),
                    event_type=TYPES[event.kind],
                    body=event_body(event.kind, event.happened_at, zone, data),
                )
            )
    queue_deliveries(session, drafts, now)
    last = events[-1].position
    advance(session, [e.id for e in endpoints if position_of(e) < last], last)
    return Relayed(len(events), len(drafts))


class WebhookRelay:
    """Runs the relay from a dispatcher's loop, at most once per ``interval_seconds``
    (``IVR_OUTBOX_POLL_SECONDS``) and at once again while a backlog remains. A failure is
    logged and tried again; it never stops the loop."""

    def __init__(
        self,
        database: Database,
        holder: str,
        interval_seconds: float,
        batch: int = BATCH,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.holder = holder
        self.interval_seconds = interval_seconds
        self.batch = batch
        self.monotonic = monotonic
        self.last_run: float | None = None
        self.backlog = False

    async def tick(self, now: datetime) -> int:
        moment = self.monotonic()
        recent = self.last_run is not None and moment - self.last_run < self.interval_seconds
        if recent and not self.backlog:
            return 0
        self.last_run = moment
        try:
            done = await self.database.run(
                lambda session: relay(session, self.holder, now, self.batch)
            )
        except Exception:
            log.exception("relaying absence events to webhooks failed; trying again")
            self.backlog = False
            return 0
        self.backlog = done.events >= self.batch
        return done.queued
