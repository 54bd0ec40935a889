"""The reporting horizon: days, weeks, or calendar months (seed 001 advises 14 days at
least, "most customers 3-6 months")."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.domain.absence import Horizon, HorizonUnit, PeriodProblem, ReportingRules


@pytest.mark.parametrize(
    ("written", "amount", "unit"),
    [
        ("90", 90, HorizonUnit.DAYS),
        ("90 days", 90, HorizonUnit.DAYS),
        ("1 day", 1, HorizonUnit.DAYS),
        ("12 weeks", 12, HorizonUnit.WEEKS),
        ("6 months", 6, HorizonUnit.MONTHS),
        (" 6  MONTHS ", 6, HorizonUnit.MONTHS),
        ("3m", 3, HorizonUnit.MONTHS),
    ],
)
def test_a_horizon_is_read_as_written(written: str, amount: int, unit: HorizonUnit) -> None:
    assert Horizon.parse(written) == Horizon(amount, unit)


@pytest.mark.parametrize("written", ["", "months", "6 moons", "six months", "6.5 months", "-3"])
def test_a_horizon_that_is_not_one_says_how_to_write_it(written: str) -> None:
    with pytest.raises(ValueError, match="6 months"):
        Horizon.parse(written)


@pytest.mark.parametrize(
    ("today", "horizon", "last_day"),
    [
        (date(2026, 8, 31), "6 months", date(2027, 2, 28)),
        (date(2027, 8, 31), "6 months", date(2028, 2, 29)),
        (date(2026, 11, 25), "3 months", date(2027, 2, 25)),
        (date(2026, 12, 31), "2 months", date(2027, 2, 28)),
        (date(2026, 11, 25), "90 days", date(2027, 2, 23)),
        (date(2026, 11, 25), "2 weeks", date(2026, 12, 9)),
        (date(2026, 11, 25), "0 days", date(2026, 11, 25)),
    ],
)
def test_months_are_calendar_months_not_blocks_of_thirty_days(
    today: date, horizon: str, last_day: date
) -> None:
    rules = ReportingRules(today, Horizon.parse(horizon))
    assert rules.last_reportable_day == last_day
    assert rules.check_start_date(last_day) is None
    assert rules.check_start_date(date.fromordinal(last_day.toordinal() + 1)) == (
        PeriodProblem.BEYOND_HORIZON
    )
