"""The time a test runs at, the same for everything the test runs.

One instant serves as the clock injected into the server under test, as ``datetime.now()``
in the test process (through time-machine: the ``ivr`` command run in-process, the
models' defaults, anything else that asks), and as the starting point of the server and
worker processes a test starts (``tests/clocked.py``, where it ticks on from there). The
tests then pass on every day of the year: none reads the real date.

Tests marked ``dated`` depend on the day itself; they derive every date from the clock
and run once at each moment of ``MATRIX`` (and on both databases): weekdays and
weekends, the turn of a year and a leap day, both changes of summer time, holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import time_machine

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")

# A Wednesday in term, at the morning peak: the tests that are not ``dated`` run here.
DEFAULT = datetime(2026, 11, 25, 7, 30, tzinfo=STOCKHOLM)


@dataclass(frozen=True)
class Moment:
    name: str
    at: datetime


def _autumn_second_half_hour() -> datetime:
    """02:30 on the last Sunday of October the second time round (winter time, CET)."""
    return datetime(2027, 10, 31, 2, 30, fold=1, tzinfo=STOCKHOLM)


MATRIX = (
    Moment("monday-0755", datetime(2026, 11, 30, 7, 55, tzinfo=STOCKHOLM)),
    Moment("friday-1600", datetime(2026, 11, 27, 16, 0, tzinfo=STOCKHOLM)),
    Moment("saturday", datetime(2026, 11, 28, 9, 0, tzinfo=STOCKHOLM)),
    Moment("sunday-evening", datetime(2026, 11, 29, 21, 30, tzinfo=STOCKHOLM)),
    Moment("new-years-eve-235930", datetime(2026, 12, 31, 23, 59, 30, tzinfo=STOCKHOLM)),
    Moment("leap-day-2028", datetime(2028, 2, 29, 7, 45, tzinfo=STOCKHOLM)),
    # 02:30 does not exist on the spring day (02:00 becomes 03:00): zoneinfo reads it as
    # 03:30 summer time; on the autumn day it comes twice.
    Moment("summer-time-starts-0230", datetime(2027, 3, 28, 2, 30, tzinfo=STOCKHOLM)),
    Moment("summer-time-ends-0230-first", datetime(2027, 10, 31, 2, 30, tzinfo=STOCKHOLM)),
    Moment("summer-time-ends-0230-second", _autumn_second_half_hour()),
    Moment("midsummer-eve", datetime(2027, 6, 25, 7, 45, tzinfo=STOCKHOLM)),
    Moment("norway-17-may", datetime(2027, 5, 17, 7, 45, tzinfo=OSLO)),
    # With a horizon of calendar months, the last day falls at the end of a short month.
    Moment("31-august", datetime(2027, 8, 31, 7, 45, tzinfo=STOCKHOLM)),
    Moment("today", datetime.now(STOCKHOLM)),
)


def _real(moment: datetime) -> datetime:
    """The moment as its zone tells it: a time that does not exist (02:30 on the morning
    summer time starts) becomes the one it means (03:30)."""
    return moment.astimezone(UTC).astimezone(moment.tzinfo)


class Clock:
    """The time the line believes it is; tests move it (``clock.now = ...``,
    ``clock.now += timedelta(...)``), and ``datetime.now()`` in this process moves with
    it. Call ``stop`` to give the process its real clock back."""

    def __init__(self, now: datetime) -> None:
        self._now = _real(now)
        self._travel = time_machine.travel(now, tick=False)
        self._traveller = self._travel.start()

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, moment: datetime) -> None:
        self._now = _real(moment)
        self._traveller.move_to(moment, tick=False)

    def __call__(self) -> datetime:
        return self._now.astimezone(UTC)

    def stop(self) -> None:
        self._travel.stop()
