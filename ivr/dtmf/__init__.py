"""Keypad input: the digits the provider collected at one prompt, read as what the prompt asked for.

Pure: no I/O. Each prompt expects one kind of entry; ``read_keys`` turns the raw ``Digits``
into a typed value or says precisely what was wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum

from ivr.domain.fodselsnummer import Fodselsnummer, parse_fodselsnummer
from ivr.domain.personal_number import InvalidPersonalNumber, PersonalNumber, parse_personal_number

HELP_KEY = "#"
RESTART_KEY = "*"
WHOLE_DAY_KEY = "9"
_ASCII_DIGITS = frozenset("0123456789")


class Expect(StrEnum):
    """What a prompt asks for, and so how many keys the provider should collect."""

    PERSONAL_NUMBER = "personal_number"
    FODSELSNUMMER = "fodselsnummer"
    DATE_OR_NINE = "date_or_nine"
    TIME_OR_NINE = "time_or_nine"
    ONE_KEY = "one_key"

    @property
    def num_digits(self) -> int:
        return _NUM_DIGITS[self]

    @property
    def is_identity_number(self) -> bool:
        """A pupil's number: a Swedish personal number or a Norwegian fødselsnummer."""
        return self in (Expect.PERSONAL_NUMBER, Expect.FODSELSNUMMER)


class DateOrder(StrEnum):
    """How dates are keyed: ``YYMMDD`` in Sweden, ``DDMMYY`` in Norway."""

    YMD = "ymd"
    DMY = "dmy"

    def keys(self, day: date) -> str:
        """The six keys of ``day`` in this order."""
        return day.strftime("%y%m%d" if self is DateOrder.YMD else "%d%m%y")


_NUM_DIGITS = {
    Expect.PERSONAL_NUMBER: 10,
    Expect.FODSELSNUMMER: 11,
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
    number: PersonalNumber | Fodselsnummer


@dataclass(frozen=True, slots=True)
class OneKey:
    key: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """What was wrong. ``keys`` holds the digits of a personal number that is no valid
    one (wrong check digit, impossible date), so they can be read back: they are nobody's
    number."""

    problem: KeyProblem
    keys: str = ""


KeyInput = (
    Silence | Help | Restart | Nine | DateKeys | TimeKeys | PersonalNumberKeys | OneKey | Invalid
)


def read_keys(
    digits: str | None, expect: Expect, today: date, date_order: DateOrder = DateOrder.YMD
) -> KeyInput:
    """Read what the caller keyed at a prompt that asked for ``expect``.

    ``*`` anywhere means restart and ``#`` anywhere means help, whatever else was keyed:
    with ``finishOnKey`` off they arrive mixed with digits, and the caller meant the key.
    One key alone where a personal number is asked is ``OneKey`` (the first prompt may
    offer another language on a key); the flow treats any other as a wrong length.
    """
    if not digits:
        return Silence()
    if RESTART_KEY in digits:
        return Restart()
    if HELP_KEY in digits:
        return Help()
    if not _ASCII_DIGITS.issuperset(digits):
        return Invalid(KeyProblem.NOT_DIGITS)
    if expect is Expect.ONE_KEY or (expect.is_identity_number and len(digits) == 1):
        return OneKey(digits) if len(digits) == 1 else Invalid(KeyProblem.WRONG_LENGTH)
    if not expect.is_identity_number and digits == WHOLE_DAY_KEY:
        return Nine()
    if len(digits) != expect.num_digits:
        return Invalid(KeyProblem.WRONG_LENGTH)
    if expect.is_identity_number:
        return _read_personal_number(digits, expect, today)
    if expect is Expect.DATE_OR_NINE:
        return _read_date(digits, today, date_order)
    return _read_time(digits)


def _read_personal_number(digits: str, expect: Expect, today: date) -> PersonalNumberKeys | Invalid:
    parse = parse_fodselsnummer if expect is Expect.FODSELSNUMMER else parse_personal_number
    try:
        return PersonalNumberKeys(parse(digits, today))
    except InvalidPersonalNumber as error:
        return Invalid(KeyProblem(error.problem.value), keys=digits)


def _read_date(digits: str, today: date, order: DateOrder) -> DateKeys | Invalid:
    """Six digits in ``order``, the year in the century that puts it nearest to today."""
    if order is DateOrder.YMD:
        yy, month, day = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
    else:
        day, month, yy = int(digits[:2]), int(digits[2:4]), int(digits[4:6])
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
