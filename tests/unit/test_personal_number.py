"""Personal numbers against Skatteverket's test lists and the two common libraries."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.se import personnummer as stdnum_personnummer

from ivr.domain.personal_number import (
    InvalidPersonalNumber,
    PersonalNumber,
    PersonalNumberProblem,
    age_on,
    mask_personal_numbers,
    parse_personal_number,
)
from tests.official import LISTS, official

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("name", LISTS)
def test_every_official_test_number_is_valid_in_12_and_10_digits(name: str) -> None:
    for number in official(name):
        assert parse_personal_number(number, TODAY).digits == number
        short = parse_personal_number(number[2:], TODAY)
        assert short.digits[2:] == number[2:]
        separator = "+" if TODAY.year - int(number[:4]) >= 100 else "-"
        written = f"{number[2:8]}{separator}{number[8:]}"
        assert parse_personal_number(written, TODAY).digits == number


def test_where_the_libraries_disagree_with_the_official_lists() -> None:
    """python-stdnum accepts every personal number but no coordination number; the
    ``personnummer`` package rejects coordination numbers with an unknown month or day.
    Skatteverket issues both, so this module accepts both."""
    personal = official("personnummer")
    coordination = official("samordningsnummer")
    assert all(stdnum_personnummer.is_valid(number) for number in personal)
    assert not any(stdnum_personnummer.is_valid(number) for number in coordination)
    from personnummer import personnummer as other  # type: ignore[import-untyped]

    rejected = [number for number in coordination if not other.valid(number)]
    assert rejected, "the personnummer package now accepts them all: reconsider using it"
    assert all(
        number[4:6] == "00" or number[6:8] == "60" or _impossible_day(number) for number in rejected
    )


def _impossible_day(number: str) -> bool:
    try:
        date(int(number[:4]), int(number[4:6]), int(number[6:8]) - 60)
    except ValueError:
        return True
    return False


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("150101239", PersonalNumberProblem.WRONG_LENGTH),
        ("15010123955", PersonalNumberProblem.WRONG_LENGTH),
        ("1501-012395", PersonalNumberProblem.WRONG_LENGTH),
        ("abcdefghij", PersonalNumberProblem.WRONG_LENGTH),
        ("1501012396", PersonalNumberProblem.CHECK_DIGIT),
        ("1513012395", PersonalNumberProblem.NO_SUCH_DATE),
        ("1502302395", PersonalNumberProblem.NO_SUCH_DATE),
        ("202701012391", PersonalNumberProblem.NO_SUCH_DATE),
    ],
)
def test_invalid_numbers_say_why(text: str, problem: PersonalNumberProblem) -> None:
    with pytest.raises(InvalidPersonalNumber) as raised:
        parse_personal_number(text, TODAY)
    assert raised.value.problem is problem


def test_ten_digits_take_the_most_recent_century_that_is_not_in_the_future() -> None:
    assert parse_personal_number("1501012395", TODAY).digits == "201501012395"
    assert parse_personal_number("2612312393", TODAY).birth_date.year == 1926
    assert parse_personal_number("150101+2395", TODAY).digits == "191501012395"


def test_coordination_numbers_with_unknown_parts_are_never_made_older() -> None:
    unknown_day = PersonalNumber("201212602397")
    assert unknown_day.is_coordination_number
    assert unknown_day.birth_date == date(2012, 12, 31)
    unknown_month = PersonalNumber("201200722390")
    assert unknown_month.birth_date == date(2012, 12, 12)


def test_age() -> None:
    assert age_on(date(2008, 11, 25), date(2026, 11, 25)) == 18
    assert age_on(date(2008, 11, 26), date(2026, 11, 25)) == 17


def test_a_personal_number_never_shows_itself_whole() -> None:
    number = parse_personal_number("1501012395", TODAY)
    assert "2395" not in repr(number) and "2395" not in str(number)
    assert number.masked == "150101-****"
    text = "pupil 201501012395 and 150101-2395 and 1501012395 and 150101 2395, not 12345"
    assert mask_personal_numbers(text) == (
        "pupil 150101-**** and 150101-**** and 150101-**** and 150101-****, not 12345"
    )


def test_the_stored_hash_depends_on_the_key() -> None:
    number = parse_personal_number("1501012395", TODAY)
    assert number.keyed_hash(b"a") != number.keyed_hash(b"b")
    assert number.keyed_hash(b"a") == parse_personal_number("201501012395", TODAY).keyed_hash(b"a")
    assert "1501012395" not in number.keyed_hash(b"a")
