"""What an absence covers, and the rules a reported period must follow. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class ReportingRules:
    """The organisation's rules for what a guardian may report, as of ``today`` where it is."""

    today: date
    horizon_days: int

    @property
    def last_reportable_day(self) -> date:
        return self.today + timedelta(days=self.horizon_days)

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
