"""Work the dispatcher process does on the side, now and then: daily digests, retention."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from ivr.services.digest import DigestSchedule
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.retention import delete_old_absences, delete_old_calls

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
    """Deletes call records after ``IVR_CALL_RETENTION_DAYS`` and absences when their
    school's retention (``IVR_ABSENCE_RETENTION_DAYS`` unless the school has its own) is
    over; once an hour."""

    async def forget(now: datetime) -> int:
        calls_before = now - timedelta(days=settings.call_retention_days)
        today = now.astimezone(ZoneInfo(settings.timezone)).date()
        calls = await database.run(lambda session: delete_old_calls(session, calls_before))
        absences = await database.run(
            lambda session: delete_old_absences(session, today, settings.absence_retention_days)
        )
        if calls or absences:
            log.info("retention", extra={"calls_deleted": calls, "absences_deleted": absences})
        return calls + absences

    return Every("retention", 3600.0, forget)


def side_jobs(database: Database, settings: Settings) -> list[Job]:
    return [DigestSchedule(database, settings), retention(database, settings)]
