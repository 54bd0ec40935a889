"""The line on any day of the year: each test here is ``dated`` and runs at every moment of
``tests/clock.py``'s matrix (a Monday morning, a Friday afternoon, a weekend, New Year's Eve
at 23:59:30, a leap day, both changes of summer time, midsummer eve, Norway's 17 May, the
end of August, and today), on both databases. Every expected date is worked out here from
the clock, with its own small calendar, never taken from the line."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import httpx
import pytest
import sqlalchemy as sa

from ivr.cli.simulator import CallResult, CallSimulator
from tests.calls import heard, place_call, speech_rates
from tests.cli import ivr
from tests.clock import OSLO, STOCKHOLM, Clock
from tests.conftest import AUTH_TOKEN, LiveServer
from tests.records import absences
from tests.roster_data import ALVA, ANNA, KARI, LINE, NORA, NORWAY_LINE

pytestmark = pytest.mark.dated

WEEKDAYS = {
    "sv": ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"),
    "nb": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
}
MONTHS = {
    "sv": "januari februari mars april maj juni juli augusti september oktober november december",
    "nb": "januar februar mars april mai juni juli august september oktober november desember",
}
HORIZON_MONTHS = 6


@pytest.fixture
def server_settings() -> dict[str, object]:
    return {"horizon": f"{HORIZON_MONTHS} months"}


def _said(day: date, language: str = "sv") -> str:
    """How the line names a day: "fredag den 27 november", "fredag 27 november"."""
    weekday = WEEKDAYS[language][day.weekday()]
    month = MONTHS[language].split()[day.month - 1]
    if language == "sv":
        return f"{weekday} den {day.day} {month}"
    return f"{weekday} {day.day} {month}"


def _day_off(day: date, country: str = "SE") -> bool:
    return day.weekday() >= 5 or day in holidays.country_holidays(country, years=day.year)


def _keep_if_day_off(day: date, country: str = "SE") -> tuple[str, ...]:
    """On a weekend or public holiday the line asks first (step 5a); 9 keeps the report."""
    return ("9",) if _day_off(day, country) else ()


def _months_later(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _today(clock: Clock, zone: ZoneInfo = STOCKHOLM) -> date:
    return clock.now.astimezone(zone).date()


def _recorded(db: sa.Engine) -> tuple[date, date]:
    [absence] = absences(db)
    start, end = absence["start_date"], absence["end_date"]
    as_date = date.fromisoformat
    return (
        as_date(start) if isinstance(start, str) else start,
        as_date(end) if isinstance(end, str) else end,
    )


def test_whole_day_today_is_today_where_the_school_is(
    live_server: LiveServer, clock: Clock, db: sa.Engine
) -> None:
    today = _today(clock)
    result = place_call(live_server, ALVA, "9", *_keep_if_day_off(today))

    assert result.recorded, heard(result)
    assert f"Frånvaron är registrerad hela dagen {_said(today)}." in heard(result)
    assert ("är ingen skoldag" in heard(result)) == _day_off(today)
    assert _recorded(db) == (today, today)


def test_another_day_keyed_as_a_date(live_server: LiveServer, clock: Clock, db: sa.Engine) -> None:
    tomorrow = _today(clock) + timedelta(days=1)
    keys = (ALVA, tomorrow.strftime("%y%m%d"), "9", "9", "9", *_keep_if_day_off(tomorrow))
    result = place_call(live_server, *keys)

    assert result.recorded, heard(result)
    assert f"hela dagen {_said(tomorrow)}." in heard(result)
    assert _recorded(db) == (tomorrow, tomorrow)


def test_the_last_day_of_the_horizon_is_taken_and_the_next_one_refused(
    live_server: LiveServer, clock: Clock, db: sa.Engine
) -> None:
    last = _months_later(_today(clock), HORIZON_MONTHS)
    past_it = last + timedelta(days=1)
    keys = (
        ALVA,
        past_it.strftime("%y%m%d"),
        last.strftime("%y%m%d"),
        "9",
        "9",
        "9",
        *_keep_if_day_off(last),
    )
    result = place_call(live_server, *keys)

    assert f"Frånvaro kan anmälas till och med {_said(last)}." in heard(result)
    assert result.recorded, heard(result)
    assert _recorded(db) == (last, last)


def test_a_call_that_crosses_midnight_reports_the_day_it_is_when_9_is_pressed(
    live_server: LiveServer, clock: Clock, db: sa.Engine
) -> None:
    """Pressed 45 seconds after the call began: on New Year's Eve at 23:59:30, that is the
    first of January of the next year."""
    pressed_at = clock.now + timedelta(seconds=45)
    keys = iter([ALVA, "9", *_keep_if_day_off(pressed_at.astimezone(STOCKHOLM).date())])

    def next_keys() -> str | None:
        key = next(keys, None)
        if key == "9" and clock.now < pressed_at:
            clock.now = pressed_at
        return key

    with httpx.Client(timeout=10) as client:
        simulator = CallSimulator(
            live_server.url, AUTH_TOKEN, ANNA, LINE, client=client, speech_rates=speech_rates()
        )
        result: CallResult = simulator.place(next_keys)

    day = pressed_at.astimezone(STOCKHOLM).date()
    assert result.recorded, heard(result)
    assert f"hela dagen {_said(day)}." in heard(result)
    assert _recorded(db) == (day, day)


def test_a_norwegian_school_reports_today_in_oslo_with_norways_holidays(
    live_server: LiveServer, clock: Clock, db: sa.Engine
) -> None:
    today = _today(clock, OSLO)
    keys = (NORA, "9", *_keep_if_day_off(today, "NO"))
    result = place_call(live_server, *keys, caller=KARI, called=NORWAY_LINE)

    assert result.recorded, heard(result)
    assert f"hele dagen {_said(today, 'nb')}." in heard(result)
    assert ("er ikke en skoledag" in heard(result)) == _day_off(today, "NO")
    assert _recorded(db) == (today, today)


def test_the_report_is_listed_for_its_day_with_the_moment_it_was_made(
    live_server: LiveServer, clock: Clock, cli_env: str
) -> None:
    """``ivr absences list`` runs on the same clock as the server: "today" is the same day
    for both, and the moment keeps the organisation's offset of that moment (summer or
    winter time)."""
    today = _today(clock)
    assert place_call(live_server, ALVA, "9", *_keep_if_day_off(today)).recorded

    status, output = ivr("absences", "list", "--date", today.isoformat(), "--json")
    assert status == 0, output
    [listed] = json.loads(output)
    assert listed["start_date"] == listed["end_date"] == today.isoformat()
    reported_at = datetime.fromisoformat(listed["reported_at"])
    assert reported_at.astimezone(UTC) == clock()
    assert reported_at.utcoffset() == clock.now.astimezone(STOCKHOLM).utcoffset()

    status, output = ivr("absences", "list", "--date", (today + timedelta(days=1)).isoformat())
    assert status == 0
    assert "Alva" not in output
