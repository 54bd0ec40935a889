"""Norwegian national identity numbers: fødselsnummer and D-nummer. Pure: no I/O.

Eleven digits ``DDMMYY III K1 K2``: the date of birth (a D-number adds 40 to the day), a
three-digit individual number and two modulus-11 control digits.

Written here, and compared in the tests with ``python-stdnum`` (``stdnum.no.fodselsnummer``),
which agrees on every ordinary fødselsnummer and D-number. Where the two differ, on purpose:

- **H-numbers** (month + 40, "hjelpenummer" that health services assign themselves) are
  accepted by stdnum and refused here: a pupil is identified by a fødselsnummer or a
  D-number, which the population register issues. FH-numbers (first digit 8 or 9) are
  refused by both.
- **Synthetic numbers** (month + 80), which Skatteetaten's test data uses and never issues
  to a person, are refused by stdnum and accepted here, so that demo and test rosters never
  need a number that could be someone's. A real roster has none.
- **From 1 January 2032** Skatteetaten issues numbers whose first control digit may be any
  of four values: the weighted sum including K1 may leave a remainder of 0, 1, 2 or 3 when
  divided by 11, where it had to be 0 before. stdnum knows only the old rule. Here the new
  rule applies from that day on (by the organisation's date), so no typo slips through
  before such numbers exist. K2 is unchanged: it alone catches every single wrong digit and
  every swap of two neighbouring digits.
- **The century.** stdnum reads it from the individual number (000-499: 1900s, 500-749
  with year 54-99: 1800s, 500-999 with year 00-39: 2000s, 900-999 with year 40-99: 1900s)
  and refuses numbers outside those ranges. Numbers issued from 2032 no longer say the
  century. Here the birth year is the most recent one that is not in the future, as for a
  Swedish number without ``+``. For anyone under 100 (every pupil) that is the year the
  table gives for numbers issued before 2032, and it stays right for numbers issued later;
  individual numbers outside the old ranges are therefore not refused.
- stdnum's "not born yet" check uses the computer's date; here it is the organisation's.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from ivr.domain.identity import IdentityNumber
from ivr.domain.personal_number import InvalidPersonalNumber, PersonalNumberProblem

D_NUMBER_DAY_OFFSET = 40
SYNTHETIC_MONTH_OFFSET = 80
NEW_CONTROL_DIGIT_RULE_FROM = date(2032, 1, 1)
_FIRST_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)
_SECOND_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
_SHAPE = re.compile(r"^(\d{6})[ -]?(\d{5})$")


@dataclass(frozen=True, slots=True, repr=False)
class Fodselsnummer(IdentityNumber):
    """A valid fødselsnummer or D-number, as its 11 digits, with the birth date it means."""

    digits: str
    born: date

    @property
    def birth_date(self) -> date:
        return self.born

    @property
    def is_d_number(self) -> bool:
        return int(self.digits[0]) >= D_NUMBER_DAY_OFFSET // 10

    @property
    def masked(self) -> str:
        """Safe to log or print: ``DDMMYY-*****``."""
        return f"{self.digits[:6]}-*****"


def _remainder(digits: str, weights: tuple[int, ...]) -> int:
    return sum(weight * int(digit) for weight, digit in zip(weights, digits, strict=True)) % 11


def control_digits_are_valid(digits: str, today: date) -> bool:
    """Both control digits of 11 digits, under the rule in force on ``today``."""
    first = _remainder(digits[:10], _FIRST_WEIGHTS)
    allowed = {0, 1, 2, 3} if today >= NEW_CONTROL_DIGIT_RULE_FROM else {0}
    return first in allowed and _remainder(digits, _SECOND_WEIGHTS) == 0


def control_digits(first_nine: str, remainder: int = 0) -> str | None:
    """The two control digits that make ``first_nine`` a valid number (K1 chosen so that
    its sum leaves ``remainder``, 0 before 2032), or None if no digit can (K = 10)."""
    first = (remainder - _remainder(first_nine + "0", _FIRST_WEIGHTS)) % 11
    if first == 10:
        return None
    second = -_remainder(first_nine + str(first) + "0", _SECOND_WEIGHTS) % 11
    if second == 10:
        return None
    return f"{first}{second}"


def _birth_date(day: int, month: int, yy: int, today: date) -> date | None:
    """The most recent date with this day, month and two-digit year that is not after
    ``today``; None if the day and month make no date in any century."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return None
    year = today.year - (today.year - yy) % 100
    for candidate in (year, year - 100, year - 200, year - 300):
        if day <= calendar.monthrange(candidate, month)[1]:
            born = date(candidate, month, day)
            if born <= today:
                return born
    return None


def parse_fodselsnummer(text: str, today: date) -> Fodselsnummer:
    """Parse 11 digits, written together or as ``DDMMYY IIIKK`` / ``DDMMYY-IIIKK``."""
    match = _SHAPE.match(text.strip())
    if match is None:
        raise InvalidPersonalNumber(PersonalNumberProblem.WRONG_LENGTH)
    digits = match.group(1) + match.group(2)
    day, month, yy = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if day > D_NUMBER_DAY_OFFSET:
        day -= D_NUMBER_DAY_OFFSET
    if month > SYNTHETIC_MONTH_OFFSET:
        month -= SYNTHETIC_MONTH_OFFSET
    born = _birth_date(day, month, yy, today)
    if born is None:
        raise InvalidPersonalNumber(PersonalNumberProblem.NO_SUCH_DATE)
    if not control_digits_are_valid(digits, today):
        raise InvalidPersonalNumber(PersonalNumberProblem.CHECK_DIGIT)
    return Fodselsnummer(digits, born)
