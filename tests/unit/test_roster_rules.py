"""When the scheduled full sync is due, and what the safety valve says."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr.services.roster_schedule import full_due
from ivr.settings import Settings
from ivr.store.enrolment import Leaving

STOCKHOLM = "Europe/Stockholm"


def _settings(sync_at: time | None = time(5, 30)) -> Settings:
    return Settings(_env_file=None, sync_at=sync_at)


def _at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=ZoneInfo(STOCKHOLM))


@pytest.mark.parametrize(
    ("last_full", "now", "due"),
    [
        (None, _at(10, 3), True),  # never synced: at once
        (_at(10, 5, 31), _at(10, 23, 59), False),  # done today after 05:30
        (_at(10, 5, 31), _at(11, 5, 29), False),  # not yet 05:30 the next day
        (_at(10, 5, 31), _at(11, 5, 30), True),
        (_at(10, 5, 29), _at(10, 5, 45), True),  # the last one ran before today's 05:30
        (_at(9, 12), _at(10, 4), False),  # yesterday's ran after yesterday's 05:30
        (_at(8, 12), _at(10, 4), True),  # a day was missed
        # The night summer time starts (28 March 2027): 05:30 is 03:30 UTC, not 04:30.
        (_at(27, 5, 31), datetime(2027, 3, 28, 3, 29, tzinfo=UTC), False),
        (_at(27, 5, 31), datetime(2027, 3, 28, 3, 30, tzinfo=UTC), True),
    ],
)
def test_a_full_sync_is_due_once_a_day_after_the_time_set(
    last_full: datetime | None, now: datetime, due: bool
) -> None:
    assert full_due(last_full, now.astimezone(UTC), STOCKHOLM, _settings()) is due


def test_with_no_time_set_only_the_first_full_sync_runs_by_itself() -> None:
    settings = _settings(None)
    now = _at(10, 6).astimezone(UTC)
    assert full_due(None, now, STOCKHOLM, settings) is True
    assert full_due(now - timedelta(days=30), now, STOCKHOLM, settings) is False


def test_the_safety_valve_names_each_school_over_the_limit_and_only_those() -> None:
    leaving = Leaving(
        pupil_ids={"Solskolan": [1, 2], "Ekskolan": [3], "Tomskolan": [4, 5, 6]},
        active={"Solskolan": 20, "Ekskolan": 100, "Tomskolan": 3},
    )

    assert leaving.share("Solskolan") == 10.0
    assert leaving.share("Nowhere") == 0.0
    assert leaving.over(10) == [
        "Tomskolan: 3 of 3 pupils (100%) would be deactivated, more than 10%"
    ]
    assert leaving.over(9.5) == [
        "Solskolan: 2 of 20 pupils (10%) would be deactivated, more than 9.5%",
        "Tomskolan: 3 of 3 pupils (100%) would be deactivated, more than 9.5%",
    ]
    assert Leaving({}, {"Solskolan": 20}).over(0) == []
