"""Every sentence the flow can say exists in every language, and the texts render."""

from __future__ import annotations

from datetime import date, datetime, time
from itertools import product
from zoneinfo import ZoneInfo

import pytest

from ivr.absence import AbsencePeriod
from ivr.flows import Say, refuse, step, welcome
from ivr.i18n import MissingText, available_languages, load_catalogue
from ivr.notify.confirmations import Recipient, ReportFacts, confirmation_drafts
from tests.test_flow import AT, CONTEXT, INPUTS

LANGUAGES = available_languages()
# GSM 03.38 basic character set: a message in it fits 160 characters in one SMS.
GSM_7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def _everything_the_flow_says() -> list[Say]:
    said: list[Say] = [*welcome().say]
    for reason in ("hidden_number", "unknown_line", "unavailable", "too_many_attempts"):
        said.extend(refuse(reason).say)
    for state, keys in product(AT.values(), INPUTS.values()):
        said.extend(step(state, keys, CONTEXT).say)
    return said


def test_the_shipped_languages() -> None:
    assert set(LANGUAGES) >= {"sv", "en", "nb"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sentence_the_flow_says_is_in_the_catalogue(language: str) -> None:
    catalogue = load_catalogue(language)
    for say in _everything_the_flow_says():
        text = catalogue.text(f"speech.{say.key}", **say.params)
        assert text.strip()
        assert "{" not in text, f"{language}: {say.key} left a placeholder unfilled"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_has_the_same_keys_as_swedish(language: str) -> None:
    assert set(load_catalogue(language).texts) == set(load_catalogue("sv").texts)


def test_a_missing_key_is_an_error_not_silence() -> None:
    with pytest.raises(MissingText):
        load_catalogue("sv").text("speech.no_such_key")


def test_templates_take_plain_names_only() -> None:
    catalogue = load_catalogue("sv")
    evil = type(catalogue)("sv", {**catalogue.texts, "x": "{value.__class__}"})
    with pytest.raises(MissingText):
        evil.text("x", value="a")


PERIODS = [
    AbsencePeriod.whole_day(date(2026, 11, 25)),
    AbsencePeriod(date(2026, 11, 25), time(10, 30), date(2026, 11, 25), time(12, 0)),
    AbsencePeriod(date(2026, 11, 30), time(8, 15), date(2026, 12, 11), time(13, 45)),
]


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("language", LANGUAGES)
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
