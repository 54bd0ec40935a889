"""How long a call takes the caller, estimated from what the line said and what the caller
keyed. Pure.

- **Speech**: the characters of everything said, at the language's speaking rate
  (``meta.characters_per_second`` in its catalogue; 14 for the shipped languages). That is
  about 150 words a minute, the usual figure for clear, unhurried speech such as
  announcements and the text-to-speech voices' default rate, at the 5 to 6 characters per
  word (space included) of the line's Swedish, Norwegian and English sentences. A digit
  counts as 4 characters: it is read as a word ("nio", "nine"; "25" is "tjugofemte").
- **Keys**: half a second per key pressed.
- **Waiting**: Twilio ends a gather at once when ``numDigits`` keys have been pressed;
  otherwise it waits ``timeout`` seconds after the last key (``9`` at a six-digit prompt),
  or after the prompt when nothing is pressed (silence).

A caller who knows the line keys through the prompts and is quicker; one who listens to
every prompt to the end, as the estimate assumes, is the one the target is for. The time
Twilio takes to fetch each webhook and synthesise speech is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_CHARACTERS_PER_SECOND = 14.0
SECONDS_PER_KEY = 0.5
CHARACTERS_PER_DIGIT = 4


@dataclass(frozen=True, slots=True)
class Speech:
    """Something the line said, and how fast its language is spoken."""

    text: str
    characters_per_second: float = DEFAULT_CHARACTERS_PER_SECOND


@dataclass(frozen=True, slots=True)
class Keys:
    """What the caller keyed at a gather (``""``: nothing), and how the gather listened."""

    keys: str
    num_digits: int | None
    timeout_seconds: float


Event = Speech | Keys


@dataclass(frozen=True, slots=True)
class CallTime:
    speaking: float = 0.0
    keying: float = 0.0
    waiting: float = 0.0

    @property
    def total(self) -> float:
        return self.speaking + self.keying + self.waiting

    def __str__(self) -> str:
        return (
            f"{self.total:.1f} s (speech {self.speaking:.1f} s, keys {self.keying:.1f} s, "
            f"waiting {self.waiting:.1f} s)"
        )


def spoken_characters(text: str) -> int:
    """Characters as they take time to say: a digit is a word."""
    return sum(CHARACTERS_PER_DIGIT if character.isdigit() else 1 for character in text)


def estimate(events: Iterable[Event]) -> CallTime:
    speaking = keying = waiting = 0.0
    for event in events:
        if isinstance(event, Speech):
            speaking += spoken_characters(event.text) / event.characters_per_second
            continue
        keying += len(event.keys) * SECONDS_PER_KEY
        if event.num_digits is None or len(event.keys) < event.num_digits:
            waiting += event.timeout_seconds
    return CallTime(speaking, keying, waiting)


def rate_for(language_tag: str, rates: Mapping[str, float]) -> float:
    """The speaking rate of a ``<Say language="sv-SE">``, by its language (``sv``)."""
    language = language_tag.split("-")[0].lower()
    return rates.get(language, DEFAULT_CHARACTERS_PER_SECOND)
