"""The estimate of how long a call takes the caller, and what the simulator hears in SSML."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as defused

from ivr.cli.simulator import spoken_text
from ivr.domain.call_time import (
    CHARACTERS_PER_DIGIT,
    DEFAULT_CHARACTERS_PER_SECOND,
    SECONDS_PER_KEY,
    CallTime,
    Keys,
    Speech,
    estimate,
    rate_for,
    spoken_characters,
)


def test_speech_takes_its_characters_at_the_languages_rate() -> None:
    assert estimate([Speech("x" * 28, 14.0)]) == CallTime(speaking=2.0)
    assert estimate([Speech("x" * 26, 13.0), Speech("x" * 15, 15.0)]).speaking == 3.0


def test_a_digit_is_said_as_a_word() -> None:
    assert spoken_characters("Tryck 9.") == 7 + CHARACTERS_PER_DIGIT
    assert spoken_characters("den 25 november") == 13 + 2 * CHARACTERS_PER_DIGIT


@pytest.mark.parametrize(
    ("keys", "num_digits", "keying", "waiting"),
    [
        ("1501012395", 10, 10 * SECONDS_PER_KEY, 0.0),  # all the keys: the gather ends
        ("9", 6, SECONDS_PER_KEY, 5.0),  # fewer keys: Twilio waits the timeout after them
        ("1", 1, SECONDS_PER_KEY, 0.0),
        ("", 6, 0.0, 5.0),  # silence: the timeout after the prompt
        ("12", None, 2 * SECONDS_PER_KEY, 5.0),
    ],
)
def test_keys_and_waiting(keys: str, num_digits: int | None, keying: float, waiting: float) -> None:
    assert estimate([Keys(keys, num_digits, 5.0)]) == CallTime(keying=keying, waiting=waiting)


def test_a_whole_call_adds_up() -> None:
    time = estimate(
        [
            Speech("x" * 70, 14.0),
            Keys("1501012395", 10, 5.0),
            Speech("x" * 70, 14.0),
            Keys("9", 6, 5.0),
            Speech("x" * 140, 14.0),
        ]
    )
    assert time.total == pytest.approx(20.0 + 5.0 + 0.5 + 5.0)
    assert str(time) == "30.5 s (speech 20.0 s, keys 5.5 s, waiting 5.0 s)"


def test_the_rate_is_the_languages_by_its_tag() -> None:
    rates = {"sv": 13.0, "en": 15.0}
    assert rate_for("sv-SE", rates) == 13.0
    assert rate_for("en-US", rates) == 15.0
    assert rate_for("ar-SA", rates) == DEFAULT_CHARACTERS_PER_SECOND
    assert rate_for("", rates) == DEFAULT_CHARACTERS_PER_SECOND


def test_the_simulator_hears_the_words_of_ssml() -> None:
    say = defused.fromstring(
        '<Say voice="Polly.Astrid" language="sv-SE">Det stämmer inte: '
        '<say-as interpret-as="digits">15</say-as><break time="300ms"/>'
        '<say-as interpret-as="digits">2396</say-as>. Hela dagen onsdag den '
        '<say-as interpret-as="ordinal">25</say-as> november.</Say>'
    )
    assert spoken_text(say) == ("Det stämmer inte: 15 2396. Hela dagen onsdag den 25 november.")
