"""Which days are not school days: weekends and the country's public holidays.

Computed with the ``holidays`` package outside the pure call flow, which gets the result as
a set of dates in its context. School breaks are not known here: a report in a break is
taken without a question.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

SATURDAY = 5


@lru_cache(maxsize=256)
def days_off(country: str, first: date, last: date) -> frozenset[date]:
    """Saturdays, Sundays and public holidays of ``country`` from ``first`` to ``last``.

    Called on every webhook with the same few arguments all day: worked out once each."""
    public = holidays.country_holidays(country, years=range(first.year, last.year + 1))
    count = (last - first).days + 1
    days = (first + timedelta(days=offset) for offset in range(count))
    return frozenset(day for day in days if day.weekday() >= SATURDAY or day in public)
