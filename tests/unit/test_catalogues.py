"""Every sentence the flow can say exists in every language, and the texts render."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from itertools import product
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.domain.absence import AbsencePeriod, Horizon, ReportingRules
from ivr.domain.spoken import DigitGroups, Pause, SayAs, as_text
from ivr.dtmf import DateKeys, Expect, Nine, OneKey
from ivr.flows import LANGUAGE_KEY, Say, Step, refuse, step, welcome
from ivr.i18n import _SAFE_FORMATTER, MissingText, available_languages, load_catalogue
from ivr.services.confirmations import Recipient, ReportFacts, confirmation_drafts
from tests.unit.test_flow import AT, CONTEXT, INPUTS, NORWAY, SATURDAY

# The shipped catalogues, and any in IVR_CATALOGUE_DIR: a staff member who adds a language
# there runs this file to see that it has every sentence.
OVERRIDE_DIR = (
    Path(os.environ["IVR_CATALOGUE_DIR"]) if os.environ.get("IVR_CATALOGUE_DIR") else None
)
LANGUAGES = available_languages(OVERRIDE_DIR)
# GSM 03.38 basic character set: a message in it fits 160 characters in one SMS.
GSM_7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def _everything_the_flow_says() -> list[Say]:
    """Every sentence of every step, for a Swedish and a Norwegian line, with and without
    the offer of another language, and the questions about days that are not school days."""
    said: list[Say] = [*welcome().say, *welcome(Expect.FODSELSNUMMER, offer="en").say]
    for reason in ("hidden_number", "unknown_line", "unavailable", "too_many_attempts"):
        said.extend(refuse(reason).say)
    for context, (state, keys) in product((CONTEXT, NORWAY), product(AT.values(), INPUTS.values())):
        said.extend(step(state, keys, context).say)
    offered = welcome(offer="en").state
    said.extend(step(offered, OneKey(LANGUAGE_KEY), CONTEXT).say)
    saturday = replace(CONTEXT, rules=ReportingRules(today=SATURDAY, horizon=Horizon(1)))
    said.extend(step(AT[Step.START], Nine(), saturday).say)
    weekend = replace(AT[Step.END_DATE], start_date=SATURDAY, start_time=None)
    sunday = DateKeys(SATURDAY + timedelta(days=1))
    said.extend(step(step(weekend, sunday, CONTEXT).state, Nine(), CONTEXT).say)
    return said


def test_the_shipped_languages() -> None:
    assert set(LANGUAGES) >= {"sv", "en", "nb"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sentence_the_flow_says_is_in_the_catalogue(language: str) -> None:
    catalogue = load_catalogue(language, OVERRIDE_DIR)
    keys = set()
    for say in _everything_the_flow_says():
        keys.add(say.key)
        text = catalogue.text(f"speech.{say.key}", **say.params)
        assert text.strip()
        assert "{" not in text, f"{language}: {say.key} left a placeholder unfilled"
        for ssml in (False, True):
            spoken = catalogue.spoken(f"speech.{say.key}", ssml, **say.params)
            assert as_text(spoken).strip()
            assert "{" not in as_text(spoken)
            if not ssml:
                assert all(isinstance(segment, str) for segment in spoken)
    assert {"notice.not_a_school_day", "notice.no_school_days", "offer_language"} <= keys
    assert {"prompt.fodselsnummer", "prompt.not_school_day", "prompt.not_school_days"} <= keys


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_says_how_fast_it_is_spoken(language: str) -> None:
    texts = load_catalogue(language, OVERRIDE_DIR).texts
    assert float(texts["meta.characters_per_second"]) > 0


@pytest.mark.parametrize(
    ("language", "plain", "ssml"),
    [
        ("sv", "onsdag 25 november", ("onsdag den ", SayAs("25", "ordinal"), " november")),
        ("nb", "onsdag 25. november", ("onsdag ", SayAs("25", "ordinal"), " november")),
        (
            "en",
            "Wednesday 25 November",
            ("Wednesday the ", SayAs("25", "ordinal"), " of November"),
        ),
    ],
)
def test_a_date_is_said_as_people_say_it(
    language: str, plain: str, ssml: tuple[object, ...]
) -> None:
    catalogue = load_catalogue(language)
    assert catalogue.spoken_date(date(2026, 11, 25), ssml=False) == (plain,)
    assert catalogue.spoken_date(date(2026, 11, 25), ssml=True) == ssml


@pytest.mark.parametrize(
    ("language", "whole_hour", "minutes"),
    [("sv", "13", "13:05"), ("nb", "13", "13:05"), ("en", "1 pm", "1:05 pm")],
)
def test_a_time_is_said_as_a_time(language: str, whole_hour: str, minutes: str) -> None:
    catalogue = load_catalogue(language)
    assert catalogue.spoken_time(time(13, 0)) == whole_hour
    assert catalogue.spoken_time(time(13, 5)) == minutes


def test_a_personal_number_is_read_back_digit_by_digit_in_groups() -> None:
    catalogue = load_catalogue("sv")
    groups = DigitGroups(("15", "01", "01", "2396"))
    plain = catalogue.spoken("speech.error.personal_number.check_digit", False, number=groups)
    assert as_text(plain) == (
        "Det personnumret stämmer inte: 1 5, 0 1, 0 1, 2 3 9 6. Kontrollera siffrorna."
    )
    ssml = catalogue.spoken("speech.error.personal_number.check_digit", True, number=groups)
    assert ssml == (
        "Det personnumret stämmer inte: ",
        SayAs("15", "digits"),
        Pause(300),
        SayAs("01", "digits"),
        Pause(300),
        SayAs("01", "digits"),
        Pause(300),
        SayAs("2396", "digits"),
        ". Kontrollera siffrorna.",
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_has_the_same_keys_as_swedish(language: str) -> None:
    assert set(load_catalogue(language, OVERRIDE_DIR).texts) == set(load_catalogue("sv").texts)


def test_a_missing_key_is_an_error_not_silence() -> None:
    with pytest.raises(MissingText):
        load_catalogue("sv").text("speech.no_such_key")


def test_templates_take_plain_names_only() -> None:
    catalogue = load_catalogue("sv")
    evil = type(catalogue)("sv", {**catalogue.texts, "x": "{value.__class__}"})
    with pytest.raises(MissingText):
        evil.text("x", value="a")


@pytest.mark.parametrize(
    "template",
    [
        "Hej {name}, {count:>4} dagar {{inte ett fält}}",
        "{name!r} och {name!s}",
        "{name:{width}}",
        "bara text",
        "{name}{count}",
        "{value[0]}",
        "{}",
        "{missing}",
    ],
)
def test_a_text_is_filled_as_the_safe_formatter_fills_it(template: str) -> None:
    """Templates are parsed once and filled without the formatter; what comes out, or the
    error, is the formatter's."""
    catalogue = load_catalogue("sv")
    custom = type(catalogue)("sv", {**catalogue.texts, "x": template})
    values = {"name": "Alva", "count": "3", "width": "8", "value": "abc"}
    try:
        expected: object = _SAFE_FORMATTER.vformat(template, (), values)
    except (MissingText, KeyError) as error:
        expected = type(error)
    try:
        filled: object = custom.text("x", **values)
    except (MissingText, KeyError) as error:
        filled = type(error)
    assert filled == expected


PERIODS = [
    AbsencePeriod.whole_day(date(2026, 11, 25)),
    AbsencePeriod(date(2026, 11, 25), time(10, 30), date(2026, 11, 25), time(12, 0)),
    AbsencePeriod(date(2026, 11, 30), time(8, 15), date(2026, 12, 11), time(13, 45)),
]


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("language", available_languages())
def test_a_confirmation_sms_fits_one_segment(language: str, period: AbsencePeriod) -> None:
    facts = ReportFacts(
        reference="K7M4QX2P",
        first_name="Maximiliana",
        last_name="Johansson",
        group="9B",
        school="Västra Sjöstadsskolan",
        period=period,
        reported_at=datetime(2026, 11, 25, 7, 31, tzinfo=ZoneInfo("Europe/Stockholm")),
        caller="+46701740605",
        caller_relation="guardian",
    )
    recipient = Recipient("guardian:1", "Anna", "+46701740605", "anna@example.com", language)
    sms, email = confirmation_drafts(facts, [recipient], lambda _lang: load_catalogue(language))

    assert sms.channel == "sms"
    assert len(sms.body) <= 160, sms.body
    assert set(sms.body) <= GSM_7, set(sms.body) - GSM_7
    assert "Maximiliana" in sms.body and "K7M4QX2P" in sms.body and "070-174 06 05" in sms.body
    assert email.subject is not None and "K7M4QX2P" in email.subject
    assert "Anna" in email.body and "Västra Sjöstadsskolan" in email.body
