"""Swedish personal identity numbers (personnummer) and coordination numbers (samordningsnummer).

Pure: no I/O. Written here rather than taken from a library because the two common ones
disagree with Skatteverket's own test lists: ``python-stdnum`` rejects every coordination
number, and ``personnummer`` rejects coordination numbers whose birth month or day is
unknown (month ``00``, day ``60``), which Skatteverket issues. Both lists are checked
against this module in the tests. The Luhn digit itself comes from ``stdnum.luhn``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum import luhn

from ivr.domain.identity import IdentityNumber

_COORDINATION_DAY_OFFSET = 60
_SHAPE = re.compile(r"^(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{3})(\d)$")


class PersonalNumberProblem(StrEnum):
    """Why a string is not a personal number; each has its own spoken message."""

    WRONG_LENGTH = "wrong_length"
    NO_SUCH_DATE = "no_such_date"
    CHECK_DIGIT = "check_digit"


class InvalidPersonalNumber(ValueError):
    def __init__(self, problem: PersonalNumberProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True, repr=False)
class PersonalNumber(IdentityNumber):
    """A valid personal or coordination number, kept in its 12-digit form ``YYYYMMDDNNNC``."""

    digits: str

    @property
    def is_coordination_number(self) -> bool:
        return int(self.digits[6:8]) >= _COORDINATION_DAY_OFFSET

    @property
    def birth_date(self) -> date:
        """The birth date. A coordination number may have an unknown month (``00``) or day
        (``60``), or a day the month does not have; then the latest date it can mean, so
        that age checks never make a child older than they are."""
        year, month, day = int(self.digits[:4]), int(self.digits[4:6]), int(self.digits[6:8])
        if day >= _COORDINATION_DAY_OFFSET:
            day -= _COORDINATION_DAY_OFFSET
            month = month or 12
            last_day = calendar.monthrange(year, month)[1]
            day = last_day if day == 0 else min(day, last_day)
        return date(year, month, day)

    @property
    def masked(self) -> str:
        """Safe to log or print: ``YYMMDD-****``, with no serial and no check digit."""
        return f"{self.digits[2:8]}-****"


def age_on(born: date, day: date) -> int:
    """Whole years from ``born`` to ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _date_is_possible(year: int, month: int, day: int) -> bool:
    if day >= _COORDINATION_DAY_OFFSET:
        # Skatteverket issues coordination numbers with an unknown month (00) or day (60)
        # and, in its own test list, days the month does not have (30 February).
        return 0 <= month <= 12 and day - _COORDINATION_DAY_OFFSET <= 31
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def parse_personal_number(text: str, today: date) -> PersonalNumber:
    """Parse 10 or 12 digits, with or without ``-`` or ``+`` (``+``: 100 years or older).

    A 10-digit number takes the century that makes the person younger than 100 on ``today``,
    or at least 100 when written with ``+``.
    """
    compact = text.strip().replace(" ", "")
    match = _SHAPE.match(compact)
    if match is None:
        raise InvalidPersonalNumber(PersonalNumberProblem.WRONG_LENGTH)
    century, yy, mm, dd, separator, serial, check = match.groups()
    ten_digits = f"{yy}{mm}{dd}{serial}{check}"
    if century is not None:
        year = int(century + yy)
    else:
        year = today.year - (today.year - int(yy)) % 100
        if separator == "+":
            year -= 100
    if not _date_is_possible(year, int(mm), int(dd)):
        raise InvalidPersonalNumber(PersonalNumberProblem.NO_SUCH_DATE)
    if not luhn.is_valid(ten_digits):
        raise InvalidPersonalNumber(PersonalNumberProblem.CHECK_DIGIT)
    number = PersonalNumber(f"{year:04d}{ten_digits[2:]}")
    if number.birth_date > today:
        if century is not None:
            raise InvalidPersonalNumber(PersonalNumberProblem.NO_SUCH_DATE)
        # Written without a century, the number means the most recent birth date that is
        # not in the future.
        number = PersonalNumber(f"{year - 100:04d}{ten_digits[2:]}")
    return number


_WHOLE_NUMBER = re.compile(r"(?<!\d)(?:(?:\d{2})?\d{6}[-+ ]?\d{4}|\d{6}[- ]?\d{5})(?!\d)")
_NORWEGIAN_LENGTH = 11


def _mask_match(match: re.Match[str]) -> str:
    digits = re.sub(r"[-+ ]", "", match.group(0))
    if len(digits) == _NORWEGIAN_LENGTH:
        return f"{digits[:6]}-*****"
    return f"{digits[-10:-4]}-****"


def mask_personal_numbers(text: str) -> str:
    """Replace anything shaped like a personal number (Swedish: 10 or 12 digits; Norwegian
    fødselsnummer: 11) with its masked form (for logs)."""
    return _WHOLE_NUMBER.sub(_mask_match, text)
