"""Keypad input: the digits the provider collected at one prompt, read as what the prompt asked for.

Pure: no I/O. Each prompt expects one kind of entry; ``read_keys`` turns the raw ``Digits``
into a typed value or says precisely what was wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum

from ivr.personal_number import InvalidPersonalNumber, PersonalNumber, parse_personal_number

HELP_KEY = "#"
RESTART_KEY = "*"
WHOLE_DAY_KEY = "9"
_ASCII_DIGITS = frozenset("0123456789")


class Expect(StrEnum):
    """What a prompt asks for, and so how many keys the provider should collect."""

    PERSONAL_NUMBER = "personal_number"
    DATE_OR_NINE = "date_or_nine"
    TIME_OR_NINE = "time_or_nine"
    ONE_KEY = "one_key"

    @property
    def num_digits(self) -> int:
        return _NUM_DIGITS[self]


_NUM_DIGITS = {
    Expect.PERSONAL_NUMBER: 10,
    Expect.DATE_OR_NINE: 6,
    Expect.TIME_OR_NINE: 4,
    Expect.ONE_KEY: 1,
}


class KeyProblem(StrEnum):
    WRONG_LENGTH = "wrong_length"
    NOT_DIGITS = "not_digits"
    NO_SUCH_DATE = "no_such_date"
    NO_SUCH_TIME = "no_such_time"
    CHECK_DIGIT = "check_digit"


@dataclass(frozen=True, slots=True)
class Silence:
    """The prompt timed out with no key pressed."""


@dataclass(frozen=True, slots=True)
class Help:
    """``#``: explain this step."""


@dataclass(frozen=True, slots=True)
class Restart:
    """``*``: back to the beginning of this report."""


@dataclass(frozen=True, slots=True)
class Nine:
    """``9`` alone where a date or time is asked: today, the whole day, or the same day."""


@dataclass(frozen=True, slots=True)
class DateKeys:
    value: date


@dataclass(frozen=True, slots=True)
class TimeKeys:
    value: time


@dataclass(frozen=True, slots=True)
class PersonalNumberKeys:
    number: PersonalNumber


@dataclass(frozen=True, slots=True)
class OneKey:
    key: str


@dataclass(frozen=True, slots=True)
class Invalid:
    problem: KeyProblem


KeyInput = (
    Silence | Help | Restart | Nine | DateKeys | TimeKeys | PersonalNumberKeys | OneKey | Invalid
)


def read_keys(digits: str | None, expect: Expect, today: date) -> KeyInput:
    """Read what the caller keyed at a prompt that asked for ``expect``.

    ``*`` anywhere means restart and ``#`` anywhere means help, whatever else was keyed:
    with ``finishOnKey`` off they arrive mixed with digits, and the caller meant the key.
    """
    if not digits:
        return Silence()
    if RESTART_KEY in digits:
        return Restart()
    if HELP_KEY in digits:
        return Help()
    if not _ASCII_DIGITS.issuperset(digits):
        return Invalid(KeyProblem.NOT_DIGITS)
    if expect is Expect.ONE_KEY:
        return OneKey(digits) if len(digits) == 1 else Invalid(KeyProblem.WRONG_LENGTH)
    if expect is not Expect.PERSONAL_NUMBER and digits == WHOLE_DAY_KEY:
        return Nine()
    if len(digits) != expect.num_digits:
        return Invalid(KeyProblem.WRONG_LENGTH)
    if expect is Expect.PERSONAL_NUMBER:
        return _read_personal_number(digits, today)
    if expect is Expect.DATE_OR_NINE:
        return _read_date(digits, today)
    return _read_time(digits)


def _read_personal_number(digits: str, today: date) -> PersonalNumberKeys | Invalid:
    try:
        return PersonalNumberKeys(parse_personal_number(digits, today))
    except InvalidPersonalNumber as error:
        return Invalid(KeyProblem(error.problem.value))


def _read_date(digits: str, today: date) -> DateKeys | Invalid:
    """``YYMMDD`` in the century that puts it nearest to today."""
    yy, month, day = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    year = today.year - today.year % 100 + yy
    if year < today.year - 50:
        year += 100
    elif year > today.year + 50:
        year -= 100
    try:
        return DateKeys(date(year, month, day))
    except ValueError:
        return Invalid(KeyProblem.NO_SUCH_DATE)


def _read_time(digits: str) -> TimeKeys | Invalid:
    hour, minute = int(digits[:2]), int(digits[2:4])
    if hour > 23 or minute > 59:
        return Invalid(KeyProblem.NO_SUCH_TIME)
    return TimeKeys(time(hour, minute))
