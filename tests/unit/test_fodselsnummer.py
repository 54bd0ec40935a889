"""Norwegian fødselsnummer and D-numbers, compared with python-stdnum.

There is no official list of test numbers here, so the numbers are python-stdnum's own
documented examples, a worked example published by matematikk.org, and numbers generated to
be valid (synthetic: made up, taken from no register). Where this module and stdnum
disagree, the test says so and why (see the docstring of ``ivr.domain.fodselsnummer``).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.no import fodselsnummer as stdnum_fodselsnummer

from ivr.domain.fodselsnummer import (
    NEW_CONTROL_DIGIT_RULE_FROM,
    Fodselsnummer,
    control_digits,
    control_digits_are_valid,
    parse_fodselsnummer,
)
from ivr.domain.personal_number import (
    InvalidPersonalNumber,
    PersonalNumberProblem,
    mask_personal_numbers,
)

TODAY = date(2026, 11, 25)


def _problem(text: str, today: date = TODAY) -> PersonalNumberProblem:
    with pytest.raises(InvalidPersonalNumber) as raised:
        parse_fodselsnummer(text, today)
    return raised.value.problem


@pytest.mark.parametrize(
    ("text", "born"),
    [
        ("151086 95088", date(1986, 10, 15)),  # python-stdnum's documented example
        ("151086-95088", date(1986, 10, 15)),
        ("02016126007", date(1961, 1, 2)),  # matematikk.org's worked example
    ],
)
def test_documented_examples_are_valid(text: str, born: date) -> None:
    number = parse_fodselsnummer(text, TODAY)
    assert number.birth_date == born
    assert stdnum_fodselsnummer.is_valid(text)
    assert stdnum_fodselsnummer.get_birth_date(text) == born


def test_documented_wrong_control_digits_are_refused_by_both() -> None:
    assert _problem("15108695077") is PersonalNumberProblem.CHECK_DIGIT
    assert not stdnum_fodselsnummer.is_valid("15108695077")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1510869508", PersonalNumberProblem.WRONG_LENGTH),
        ("151086950881", PersonalNumberProblem.WRONG_LENGTH),
        ("15108695O88", PersonalNumberProblem.WRONG_LENGTH),
        ("151086--95088", PersonalNumberProblem.WRONG_LENGTH),
        ("32018695088", PersonalNumberProblem.NO_SUCH_DATE),
        ("00018695088", PersonalNumberProblem.NO_SUCH_DATE),
        ("15138695088", PersonalNumberProblem.NO_SUCH_DATE),
        ("29022395088", PersonalNumberProblem.NO_SUCH_DATE),  # 2023, 1923...: no 29 February
        ("85018695088", PersonalNumberProblem.NO_SUCH_DATE),  # an FH-number (first digit 8)
    ],
)
def test_what_is_wrong_with_a_number(text: str, problem: PersonalNumberProblem) -> None:
    assert _problem(text) is problem


# --- generated numbers: the two agree ----------------------------------------------------


def _individual(born: date, draw: int) -> int:
    """An individual number of the range the population register used for ``born``."""
    if born.year >= 2000:
        return 500 + draw % 500
    return draw % 500


@st.composite
def valid_numbers(draw: st.DrawFn) -> tuple[str, date, bool]:
    born = draw(st.dates(date(1930, 1, 1), date(2025, 12, 31)))
    d_number = draw(st.booleans())
    individual = _individual(born, draw(st.integers(0, 10_000)))
    day = born.day + (40 if d_number else 0)
    first_nine = f"{day:02d}{born:%m%y}{individual:03d}"
    digits = control_digits(first_nine)
    if digits is None:  # no control digit fits this individual number: never issued
        return draw(valid_numbers())
    return first_nine + digits, born, d_number


@settings(max_examples=500)
@given(valid_numbers())
def test_generated_numbers_are_valid_for_both(generated: tuple[str, date, bool]) -> None:
    text, born, d_number = generated
    number = parse_fodselsnummer(text, TODAY)
    assert number == Fodselsnummer(text, born)
    assert number.is_d_number == d_number
    assert stdnum_fodselsnummer.is_valid(text)
    assert stdnum_fodselsnummer.get_birth_date(text) == born


@settings(max_examples=300)
@given(valid_numbers(), st.integers(0, 10), st.integers(1, 9))
def test_one_wrong_digit_is_caught_by_both(
    generated: tuple[str, date, bool], position: int, change: int
) -> None:
    text = generated[0]
    wrong = text[:position] + str((int(text[position]) + change) % 10) + text[position + 1 :]
    assert not stdnum_fodselsnummer.is_valid(wrong)
    with pytest.raises(InvalidPersonalNumber):
        parse_fodselsnummer(wrong, TODAY)


@settings(max_examples=300)
@given(valid_numbers(), st.integers(0, 9))
def test_two_neighbouring_digits_swapped_are_caught(
    generated: tuple[str, date, bool], position: int
) -> None:
    text = generated[0]
    swapped = text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    if swapped != text:
        with pytest.raises(InvalidPersonalNumber):
            parse_fodselsnummer(swapped, TODAY)


# --- where they disagree, on purpose ------------------------------------------------------


def test_h_numbers_are_refused_here_and_accepted_by_stdnum() -> None:
    """Month + 40: health services' own numbers, never a pupil's identity."""
    first_nine = "155086950"  # 15 October 1986, month 10 + 40
    text = first_nine + str(control_digits(first_nine))
    assert stdnum_fodselsnummer.is_valid(text)
    assert _problem(text) is PersonalNumberProblem.NO_SUCH_DATE


def _new_rule_number() -> str:
    """A number whose first control digit leaves remainder 2: valid only from 2032."""
    first_nine = "250132513"
    digits = control_digits(first_nine, remainder=2)
    assert digits is not None
    return first_nine + digits


def test_the_first_control_digit_has_four_values_from_2032() -> None:
    text = _new_rule_number()
    assert not stdnum_fodselsnummer.is_valid(text), "stdnum knows only the old rule"
    before = NEW_CONTROL_DIGIT_RULE_FROM - timedelta(days=1)
    assert not control_digits_are_valid(text, before)
    assert _problem(text, before) is PersonalNumberProblem.CHECK_DIGIT
    after = date(2032, 6, 1)
    assert parse_fodselsnummer(text, after).birth_date == date(2032, 1, 25)


def test_the_century_is_the_latest_that_is_not_in_the_future() -> None:
    """Individual number 600 with year 45 is outside the ranges issued before 2032
    (stdnum refuses it); numbers issued from 2032 no longer tell the century."""
    first_nine = "010145600"
    text = first_nine + str(control_digits(first_nine))
    assert not stdnum_fodselsnummer.is_valid(text)
    assert parse_fodselsnummer(text, TODAY).birth_date == date(1945, 1, 1)


def test_for_anyone_under_100_the_century_is_the_one_stdnum_reads() -> None:
    for text in ("02016126007", "15108695088", "25011551281", "49101356697"):
        ours = parse_fodselsnummer(text, TODAY).birth_date
        assert ours == stdnum_fodselsnummer.get_birth_date(text)


def test_a_number_born_after_today_is_a_century_earlier() -> None:
    first_nine = "011226500"  # 1 December 2026, keyed on 25 November 2026
    text = first_nine + str(control_digits(first_nine))
    assert parse_fodselsnummer(text, TODAY).birth_date == date(1926, 12, 1)


# --- kept safe ------------------------------------------------------------------------------


def test_the_number_is_masked_and_kept_only_as_a_keyed_hash() -> None:
    number = parse_fodselsnummer("25011551281", TODAY)
    assert number.masked == "250115-*****"
    assert "51281" not in repr(number) and "51281" not in str(number)
    assert number.keyed_hash(b"a") == parse_fodselsnummer("250115 51281", TODAY).keyed_hash(b"a")
    assert number.keyed_hash(b"a") != number.keyed_hash(b"b")


def test_logs_mask_norwegian_numbers_too() -> None:
    text = "keys 25011551281 and 250115 51281 and 250115-51281, not 123"
    assert mask_personal_numbers(text) == (
        "keys 250115-***** and 250115-***** and 250115-*****, not 123"
    )
