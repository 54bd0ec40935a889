"""Keypad input read as what each prompt asks for."""

from __future__ import annotations

from datetime import date, time

import pytest

from ivr.domain.fodselsnummer import Fodselsnummer
from ivr.domain.personal_number import PersonalNumber
from ivr.dtmf import (
    DateKeys,
    DateOrder,
    Expect,
    Help,
    Invalid,
    KeyInput,
    KeyProblem,
    Nine,
    OneKey,
    PersonalNumberKeys,
    Restart,
    Silence,
    TimeKeys,
    read_keys,
)

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("digits", "expect", "read"),
    [
        # Nothing, help and restart mean the same at every prompt.
        *[(None, expect, Silence()) for expect in Expect],
        *[("", expect, Silence()) for expect in Expect],
        *[("#", expect, Help()) for expect in Expect],
        *[("*", expect, Restart()) for expect in Expect],
        ("1501#", Expect.PERSONAL_NUMBER, Help()),
        ("15*01", Expect.PERSONAL_NUMBER, Restart()),
        ("#*", Expect.DATE_OR_NINE, Restart()),
        ("26#", Expect.DATE_OR_NINE, Help()),
        ("12*", Expect.TIME_OR_NINE, Restart()),
        # Personal numbers.
        ("1501012395", Expect.PERSONAL_NUMBER, PersonalNumberKeys(PersonalNumber("201501012395"))),
        ("1205832387", Expect.PERSONAL_NUMBER, PersonalNumberKeys(PersonalNumber("201205832387"))),
        ("150101239", Expect.PERSONAL_NUMBER, Invalid(KeyProblem.WRONG_LENGTH)),
        ("15010123955", Expect.PERSONAL_NUMBER, Invalid(KeyProblem.WRONG_LENGTH)),
        ("9", Expect.PERSONAL_NUMBER, OneKey("9")),
        ("1501012396", Expect.PERSONAL_NUMBER, Invalid(KeyProblem.CHECK_DIGIT, "1501012396")),
        ("1513012395", Expect.PERSONAL_NUMBER, Invalid(KeyProblem.NO_SUCH_DATE, "1513012395")),
        ("15O1012395", Expect.PERSONAL_NUMBER, Invalid(KeyProblem.NOT_DIGITS)),
        ("١٥٠١٠١٢٣٩٥", Expect.PERSONAL_NUMBER, Invalid(KeyProblem.NOT_DIGITS)),
        # Norwegian fødselsnummer and D-numbers (synthetic: valid, made up for the tests).
        (
            "25011551281",
            Expect.FODSELSNUMMER,
            PersonalNumberKeys(Fodselsnummer("25011551281", date(2015, 1, 25))),
        ),
        (
            "65011551275",
            Expect.FODSELSNUMMER,
            PersonalNumberKeys(Fodselsnummer("65011551275", date(2015, 1, 25))),
        ),
        ("2501155128", Expect.FODSELSNUMMER, Invalid(KeyProblem.WRONG_LENGTH)),
        ("250115512811", Expect.FODSELSNUMMER, Invalid(KeyProblem.WRONG_LENGTH)),
        ("8", Expect.FODSELSNUMMER, OneKey("8")),
        ("25011551282", Expect.FODSELSNUMMER, Invalid(KeyProblem.CHECK_DIGIT, "25011551282")),
        ("25131551281", Expect.FODSELSNUMMER, Invalid(KeyProblem.NO_SUCH_DATE, "25131551281")),
        ("1501012395", Expect.FODSELSNUMMER, Invalid(KeyProblem.WRONG_LENGTH)),
        # Dates, or 9.
        ("9", Expect.DATE_OR_NINE, Nine()),
        ("261127", Expect.DATE_OR_NINE, DateKeys(date(2026, 11, 27))),
        ("270105", Expect.DATE_OR_NINE, DateKeys(date(2027, 1, 5))),
        ("261124", Expect.DATE_OR_NINE, DateKeys(date(2026, 11, 24))),
        ("280229", Expect.DATE_OR_NINE, DateKeys(date(2028, 2, 29))),
        ("270229", Expect.DATE_OR_NINE, Invalid(KeyProblem.NO_SUCH_DATE)),
        ("260230", Expect.DATE_OR_NINE, Invalid(KeyProblem.NO_SUCH_DATE)),
        ("261301", Expect.DATE_OR_NINE, Invalid(KeyProblem.NO_SUCH_DATE)),
        ("261100", Expect.DATE_OR_NINE, Invalid(KeyProblem.NO_SUCH_DATE)),
        ("26112", Expect.DATE_OR_NINE, Invalid(KeyProblem.WRONG_LENGTH)),
        ("99", Expect.DATE_OR_NINE, Invalid(KeyProblem.WRONG_LENGTH)),
        ("1", Expect.DATE_OR_NINE, Invalid(KeyProblem.WRONG_LENGTH)),
        ("2611a7", Expect.DATE_OR_NINE, Invalid(KeyProblem.NOT_DIGITS)),
        # Times, or 9.
        ("9", Expect.TIME_OR_NINE, Nine()),
        ("0815", Expect.TIME_OR_NINE, TimeKeys(time(8, 15))),
        ("0000", Expect.TIME_OR_NINE, TimeKeys(time(0, 0))),
        ("2359", Expect.TIME_OR_NINE, TimeKeys(time(23, 59))),
        ("2400", Expect.TIME_OR_NINE, Invalid(KeyProblem.NO_SUCH_TIME)),
        ("2561", Expect.TIME_OR_NINE, Invalid(KeyProblem.NO_SUCH_TIME)),
        ("1260", Expect.TIME_OR_NINE, Invalid(KeyProblem.NO_SUCH_TIME)),
        ("815", Expect.TIME_OR_NINE, Invalid(KeyProblem.WRONG_LENGTH)),
        ("08155", Expect.TIME_OR_NINE, Invalid(KeyProblem.WRONG_LENGTH)),
        # One key.
        ("1", Expect.ONE_KEY, OneKey("1")),
        ("9", Expect.ONE_KEY, OneKey("9")),
        ("12", Expect.ONE_KEY, Invalid(KeyProblem.WRONG_LENGTH)),
        ("x", Expect.ONE_KEY, Invalid(KeyProblem.NOT_DIGITS)),
    ],
)
def test_read_keys(digits: str | None, expect: Expect, read: KeyInput) -> None:
    assert read_keys(digits, expect, TODAY) == read


@pytest.mark.parametrize(
    ("digits", "read"),
    [
        ("271126", DateKeys(date(2026, 11, 27))),
        ("050127", DateKeys(date(2027, 1, 5))),
        ("290228", DateKeys(date(2028, 2, 29))),
        ("290227", Invalid(KeyProblem.NO_SUCH_DATE)),
        ("261327", Invalid(KeyProblem.NO_SUCH_DATE)),
        ("9", Nine()),
    ],
)
def test_dates_are_keyed_day_first_in_norway(digits: str, read: KeyInput) -> None:
    assert read_keys(digits, Expect.DATE_OR_NINE, TODAY, DateOrder.DMY) == read


def test_the_date_order_gives_the_keys_of_a_date() -> None:
    assert DateOrder.YMD.keys(date(2026, 11, 27)) == "261127"
    assert DateOrder.DMY.keys(date(2026, 11, 27)) == "271126"


def test_the_prompt_asks_the_provider_for_the_length_it_expects() -> None:
    assert {expect: expect.num_digits for expect in Expect} == {
        Expect.PERSONAL_NUMBER: 10,
        Expect.FODSELSNUMMER: 11,
        Expect.DATE_OR_NINE: 6,
        Expect.TIME_OR_NINE: 4,
        Expect.ONE_KEY: 1,
    }


def test_a_two_digit_year_means_the_nearest_century() -> None:
    assert read_keys("000101", Expect.DATE_OR_NINE, date(2099, 12, 31)) == DateKeys(
        date(2100, 1, 1)
    )
    assert read_keys("991231", Expect.DATE_OR_NINE, date(2100, 1, 1)) == DateKeys(
        date(2099, 12, 31)
    )


def test_ten_thousand_digits_are_a_wrong_length_not_a_crash() -> None:
    assert read_keys("1" * 10_000, Expect.PERSONAL_NUMBER, TODAY) == Invalid(
        KeyProblem.WRONG_LENGTH
    )
