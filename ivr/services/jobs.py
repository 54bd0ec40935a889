"""Work the dispatcher process does on the side, now and then: daily digests, missing
pupils' timers (the alert when nobody answers, the second call), retention."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from ivr.services.digest import DigestSchedule
from ivr.services.missing.marking import escalate_due, recall_due
from ivr.services.missing.rules import missing_rules
from ivr.services.roster_schedule import roster_ticks
from ivr.settings import Settings
from ivr.store import audit
from ivr.store.db import Database
from ivr.store.outreach import delete_outreaches_before
from ivr.store.retention import delete_old_absences, delete_old_calls
from ivr.store.sign_in import delete_idle_sessions

log = logging.getLogger(__name__)


class Job(Protocol):
    """Side work a dispatcher's loop ticks now and then (daily digests, retention)."""

    async def tick(self, now: datetime) -> int: ...


class Every:
    """Runs ``work`` at most once per ``interval_seconds``. A failure is logged and tried
    again at the next interval; it never stops the loop that ticks it."""

    def __init__(
        self,
        name: str,
        interval_seconds: float,
        work: Callable[[datetime], Awaitable[int]],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.interval_seconds = interval_seconds
        self.work = work
        self.monotonic = monotonic
        self.last_run: float | None = None

    async def tick(self, now: datetime) -> int:
        moment = self.monotonic()
        if self.last_run is not None and moment - self.last_run < self.interval_seconds:
            return 0
        self.last_run = moment
        try:
            return await self.work(now)
        except Exception:
            log.exception("periodic job failed", extra={"job": self.name})
            return 0


def retention(database: Database, settings: Settings) -> Every:
    """Deletes call records and missing pupils' outreaches after
    ``IVR_CALL_RETENTION_DAYS``, and absences when their
    school's retention (``IVR_ABSENCE_RETENTION_DAYS`` unless the school has its own) is
    over; the audit of staff actions after ``IVR_ABSENCE_RETENTION_DAYS``, and staff
    sessions once they are idle too long; once an hour."""

    async def forget(now: datetime) -> int:
        calls_before = now - timedelta(days=settings.call_retention_days)
        today = now.astimezone(ZoneInfo(settings.timezone)).date()
        calls = await database.run(lambda session: delete_old_calls(session, calls_before))
        outreaches = await database.run(
            lambda session: delete_outreaches_before(session, calls_before.date())
        )
        absences = await database.run(
            lambda session: delete_old_absences(session, today, settings.absence_retention_days)
        )
        audit_before = now - timedelta(days=settings.absence_retention_days)
        idle_before = now - timedelta(minutes=settings.staff_session_minutes)
        await database.run(lambda session: audit.delete_before(session, audit_before))
        await database.run(lambda session: delete_idle_sessions(session, idle_before))
        if calls or absences or outreaches:
            log.info(
                "retention",
                extra={
                    "calls_deleted": calls,
                    "outreaches_deleted": outreaches,
                    "absences_deleted": absences,
                },
            )
        return calls + absences + outreaches

    return Every("retention", 3600.0, forget)


def outreach_timers(database: Database, settings: Settings) -> Every:
    """Missing pupils: the alert for outreaches nobody answered in time, and the second
    call to each guardian whose first went unanswered; every two seconds, on the line's own
    clock whatever the provider does. Once across processes: each moves an outreach or a
    contact only from where it was."""
    rules = missing_rules(settings)

    async def tick(now: datetime) -> int:
        return await database.run(
            lambda session: escalate_due(session, rules, now) + recall_due(session, rules, now)
        )

    return Every("outreach", 2.0, tick)


def side_jobs(database: Database, settings: Settings) -> list[Job]:
    return [
        Every("roster sync", 60.0, roster_ticks(database, settings)),
        DigestSchedule(database, settings),
        outreach_timers(database, settings),
        retention(database, settings),
    ]
