"""What the staff page shows, worked out from the records. Pure.

School days are Monday to Friday less the public holidays of the organisation's country. A
pupil is flagged with more than three reported days in the last 30 (the Norwegian
guidance in the seeds calls more than three days a month worrying absence): days on which
an active report covers some or all of a school day, counted once however many reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import holidays

from ivr.domain.names import PupilName
from ivr.domain.statuses import MessageStatus
from ivr.store.feed import StaffAbsence
from ivr.store.models import OutboxMessage

WINDOW_DAYS = 30
WORRYING_DAYS = 3


@cache
def _public_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year))


def school_days(last: date, country: str, window: int = WINDOW_DAYS) -> list[date]:
    """The school days among the ``window`` calendar days that end with ``last``."""
    days = (last - timedelta(days=offset) for offset in reversed(range(window)))
    return [
        day for day in days if day.weekday() < 5 and day not in _public_holidays(country, day.year)
    ]


Span = tuple[int, date, date]
"""A pupil's report: ``(pupil_id, start_date, end_date)``."""


def absent_pupils_per_day(days: Sequence[date], spans: Iterable[Span]) -> dict[date, int]:
    """How many pupils have a report covering each of ``days``."""
    pupils: dict[date, set[int]] = {day: set() for day in days}
    for pupil_id, start, end in spans:
        for day in days:
            if start <= day <= end:
                pupils[day].add(pupil_id)
    return {day: len(absent) for day, absent in pupils.items()}


def reported_days_per_pupil(days: Sequence[date], spans: Iterable[Span]) -> dict[int, int]:
    covered: dict[int, set[date]] = defaultdict(set)
    for pupil_id, start, end in spans:
        covered[pupil_id].update(day for day in days if start <= day <= end)
    return {pupil_id: len(found) for pupil_id, found in covered.items() if found}


def worrying(days: Sequence[date], spans: Iterable[Span]) -> dict[int, int]:
    """Pupils with more than three reported school days, and how many."""
    return {
        pupil_id: count
        for pupil_id, count in reported_days_per_pupil(days, spans).items()
        if count > WORRYING_DAYS
    }


@dataclass(frozen=True, slots=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar per school day, in the coordinates of an SVG ``viewBox`` of width × height."""

    bars: list[Bar]
    width: int
    height: int
    most: int
    baseline: float


def bar_chart(counts: dict[date, int], width: int = 600, height: int = 140) -> Chart:
    top, bottom = 10.0, 20.0
    most = max(counts.values(), default=0)
    scale = (height - top - bottom) / most if most else 0.0
    slot = width / max(len(counts), 1)
    baseline = height - bottom
    bars = [
        Bar(
            day=day,
            count=count,
            x=round(index * slot + slot * 0.15, 2),
            y=round(baseline - count * scale, 2),
            width=round(slot * 0.7, 2),
            height=round(count * scale, 2),
        )
        for index, (day, count) in enumerate(sorted(counts.items()))
    ]
    return Chart(bars, width, height, most, baseline)


@dataclass(frozen=True, slots=True)
class ConfirmationState:
    """Whether every confirmation of a report reached its guardian."""

    total: int
    delivered: int
    failed: list[OutboxMessage]

    @property
    def all_delivered(self) -> bool:
        return self.total > 0 and self.delivered == self.total


def confirmation_state(item: StaffAbsence) -> ConfirmationState:
    """SMS count when the phone has them (``delivered``); email when the mail server took
    them (``sent``: SMTP says nothing after that)."""
    confirmations = item.messages_of("confirmation")
    delivered = sum(
        message.status == MessageStatus.DELIVERED
        or (message.channel == "email" and message.status == MessageStatus.SENT)
        for message in confirmations
    )
    failed = [message for message in confirmations if message.status == MessageStatus.FAILED]
    return ConfirmationState(len(confirmations), delivered, failed)


def by_group(items: Iterable[StaffAbsence]) -> list[tuple[str, str, list[StaffAbsence]]]:
    """``(school, group, absences)``, by school and group, pupils by name."""
    groups: dict[tuple[str, str], list[StaffAbsence]] = defaultdict(list)
    for item in items:
        groups[(item.school.name, item.pupil.group_name)].append(item)
    return [
        (
            school,
            group,
            sorted(found, key=lambda i: (*PupilName.of(i.pupil).order(), i.absence.id)),
        )
        for (school, group), found in sorted(groups.items())
    ]
