"""What an absence covers, and the rules a reported period must follow. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta


class PeriodProblem(StrEnum):
    DATE_IN_PAST = "date_in_past"
    BEYOND_HORIZON = "beyond_horizon"
    END_BEFORE_START = "end_before_start"


@dataclass(frozen=True, slots=True)
class AbsencePeriod:
    """From ``start_date`` at ``start_time`` (None: from the start of the day) to ``end_date``
    at ``end_time`` (None: to the end of the day)."""

    start_date: date
    start_time: time | None
    end_date: date
    end_time: time | None

    @classmethod
    def whole_day(cls, day: date) -> AbsencePeriod:
        return cls(day, None, day, None)

    @property
    def is_whole_days(self) -> bool:
        return self.start_time is None and self.end_time is None

    @property
    def is_single_day(self) -> bool:
        return self.start_date == self.end_date

    def days(self) -> list[date]:
        count = (self.end_date - self.start_date).days + 1
        return [self.start_date + timedelta(days=n) for n in range(count)]

    def covers(self, other: AbsencePeriod) -> bool:
        """Whether this period holds all of ``other``: from its start (or before) to its end
        (or after). No time means the start or the end of the day."""
        return self._start <= other._start and self._end >= other._end

    def covers_moment(self, day: date, moment: time) -> bool:
        """Whether the pupil is away at ``moment`` of ``day`` (the end is not included)."""
        return self._start <= (day, _minutes(moment, if_none=0)) < self._end

    @property
    def _start(self) -> tuple[date, int]:
        return self.start_date, _minutes(self.start_time, if_none=0)

    @property
    def _end(self) -> tuple[date, int]:
        return self.end_date, _minutes(self.end_time, if_none=_WHOLE_DAY)


_WHOLE_DAY = 24 * 60


def _minutes(moment: time | None, if_none: int) -> int:
    return if_none if moment is None else moment.hour * 60 + moment.minute


class HorizonUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


_HORIZON = re.compile(r"^\s*(\d{1,4})\s*([a-z]*)\s*$")
_UNITS = {
    "": HorizonUnit.DAYS,
    "d": HorizonUnit.DAYS,
    "day": HorizonUnit.DAYS,
    "days": HorizonUnit.DAYS,
    "w": HorizonUnit.WEEKS,
    "week": HorizonUnit.WEEKS,
    "weeks": HorizonUnit.WEEKS,
    "m": HorizonUnit.MONTHS,
    "month": HorizonUnit.MONTHS,
    "months": HorizonUnit.MONTHS,
}


@dataclass(frozen=True, slots=True)
class Horizon:
    """How far ahead a guardian may report: days, weeks or calendar months. Months are
    calendar months, so "6 months" from 31 August ends on 28 (or 29) February, not on
    the 180th day."""

    amount: int
    unit: HorizonUnit = HorizonUnit.DAYS

    @classmethod
    def parse(cls, text: str | int) -> Horizon:
        """``90``, ``"90 days"``, ``"12 weeks"``, ``"6 months"`` (a bare number is days)."""
        match = _HORIZON.match(str(text).lower())
        unit = _UNITS.get(match.group(2)) if match else None
        if match is None or unit is None:
            raise ValueError(
                f"{text!r} is not a horizon: write a number of days, weeks or months, "
                'such as "90 days", "12 weeks" or "6 months"'
            )
        return cls(int(match.group(1)), unit)

    def last_day(self, today: date) -> date:
        if self.unit is HorizonUnit.MONTHS:
            return today + relativedelta(months=self.amount)
        if self.unit is HorizonUnit.WEEKS:
            return today + timedelta(weeks=self.amount)
        return today + timedelta(days=self.amount)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"


@dataclass(frozen=True, slots=True)
class ReportingRules:
    """The organisation's rules for what a guardian may report, as of ``today`` where it is."""

    today: date
    horizon: Horizon = field(default=Horizon(90))
    last_reportable_day: date = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "last_reportable_day", self.horizon.last_day(self.today))

    def check_start_date(self, day: date) -> PeriodProblem | None:
        if day < self.today:
            return PeriodProblem.DATE_IN_PAST
        if day > self.last_reportable_day:
            return PeriodProblem.BEYOND_HORIZON
        return None

    def check_end_date(self, start: date, end: date) -> PeriodProblem | None:
        if end < start:
            return PeriodProblem.END_BEFORE_START
        if end > self.last_reportable_day:
            return PeriodProblem.BEYOND_HORIZON
        return None

    @staticmethod
    def check_end_time(
        start_date: date, start_time: time | None, end_date: date, end_time: time
    ) -> PeriodProblem | None:
        if start_date == end_date and end_time <= (start_time or time(0, 0)):
            return PeriodProblem.END_BEFORE_START
        return None

    def check(self, period: AbsencePeriod) -> PeriodProblem | None:
        """Every rule at once (the keypad flow checks them step by step instead)."""
        problem = self.check_start_date(period.start_date) or self.check_end_date(
            period.start_date, period.end_date
        )
        if problem is None and period.end_time is not None:
            problem = self.check_end_time(
                period.start_date, period.start_time, period.end_date, period.end_time
            )
        return problem
