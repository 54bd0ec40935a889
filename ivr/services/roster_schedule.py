"""The roster sync on a schedule, in `ivr worker` (and the dispatcher `ivr serve` runs): a
full run every day at ``IVR_SYNC_AT`` in the organisation's time zone, a delta every
``IVR_SYNC_DELTA_MINUTES`` between. It syncs every source a person has synced once with
`ivr roster sync` (and ``IVR_SS12000_URL`` for the only organisation), one process at a
time across all workers (a lease), in a thread of its own so that the dispatcher it rides
on keeps sending."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.roster.ss12000_client import SchoolSystemError
from ivr.services.roster_sync import SyncRefused, sync_school_system
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.leases import take_lease
from ivr.store.models import Organisation, RosterSync

log = logging.getLogger(__name__)

LEASE = "roster-sync"
HOLD = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Due:
    organisation: str
    source: str
    full: bool


def full_due(last_full_at: datetime | None, now: datetime, zone: str, settings: Settings) -> bool:
    """A full run is due once the day's ``sync_at`` has passed and none ran since."""
    if settings.sync_at is None:
        return last_full_at is None
    local = now.astimezone(ZoneInfo(zone))
    moment = datetime.combine(local.date(), settings.sync_at, ZoneInfo(zone))
    if local < moment:
        moment -= timedelta(days=1)
    return last_full_at is None or last_full_at < moment


def runs_due(session: Session, settings: Settings, now: datetime) -> list[Due]:
    sources = list(
        session.execute(
            select(Organisation, RosterSync).join(
                RosterSync, RosterSync.organisation_id == Organisation.id
            )
        )
    )
    known = {(organisation.id, state.source) for organisation, state in sources}
    organisations = list(session.scalars(select(Organisation)))
    if settings.ss12000_url and len(organisations) == 1:
        only = organisations[0]
        if (only.id, settings.ss12000_url) not in known:
            return [Due(only.name, settings.ss12000_url, True)]
    due: list[Due] = []
    delta = timedelta(minutes=settings.sync_delta_minutes)
    for organisation, state in sources:
        if full_due(state.last_full_at, now, organisation.timezone, settings):
            due.append(Due(organisation.name, state.source, True))
        elif delta and (state.last_run_at is None or now - state.last_run_at >= delta):
            due.append(Due(organisation.name, state.source, False))
    return due


def roster_ticks(database: Database, settings: Settings) -> Callable[[datetime], Awaitable[int]]:
    """The work of one tick: the syncs due now, run if this process holds the lease."""
    holder = f"roster-{uuid.uuid4().hex[:12]}"
    syncing = Database(database.url)  # blocking, for the sync's own thread

    async def tick(now: datetime) -> int:
        def plan(session: Session) -> list[Due]:
            if not take_lease(session, LEASE, holder, now, HOLD):
                return []
            return runs_due(session, settings, now)

        done = 0
        for due in await database.run(plan):
            done += await asyncio.to_thread(_run, syncing, settings, due, now)
        return done

    return tick


def _run(database: Database, settings: Settings, due: Due, now: datetime) -> int:
    try:
        asyncio.run(
            sync_school_system(
                database,
                settings,
                due.source,
                organisation=due.organisation,
                full=due.full,
                now=lambda: now,
            )
        )
    except (SchoolSystemError, SyncRefused):
        return 0  # said in the log and kept as the source's last error
    return 1
