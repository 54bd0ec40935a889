"""Speech as the line builds it: plain text with a few marked-up parts. Pure.

A sentence from the catalogue becomes a tuple of segments: text, a :class:`SayAs` (a number
the voice should read as an ordinal, or digit by digit) or a :class:`Pause`. A voice that
speaks SSML (Amazon Polly and Google voices on Twilio) gets ``<say-as>`` and ``<break>``;
any other voice gets the plain text, which is written to be read aloud as it stands.

Values a sentence refers to without knowing its words are here too: :class:`Phrase` (another
sentence of the same catalogue, e.g. how dates are keyed) and :class:`DigitGroups` (keys
read back in groups).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SayAs:
    """``<say-as interpret-as="...">``: ``ordinal`` (25 -> "twenty-fifth") or ``digits``."""

    text: str
    interpret_as: str


@dataclass(frozen=True, slots=True)
class Pause:
    """``<break time="...ms"/>``: a short pause, e.g. between groups of digits."""

    milliseconds: int


Segment = str | SayAs | Pause
Spoken = tuple[Segment, ...]


def joined(*parts: Spoken) -> Spoken:
    """``parts`` one after another, with neighbouring texts merged into one."""
    merged: list[Segment] = []
    for part in parts:
        for segment in part:
            if isinstance(segment, str):
                if not segment:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] += segment
                    continue
            merged.append(segment)
    return tuple(merged)


def as_text(spoken: Spoken) -> str:
    """What a listener hears, written out: the text of every segment, a pause as a space."""
    return "".join(
        segment if isinstance(segment, str) else segment.text if isinstance(segment, SayAs) else " "
        for segment in spoken
    )


@dataclass(frozen=True, slots=True)
class Phrase:
    """Another sentence of the same catalogue, by key (under ``speech.``), as a value."""

    key: str


@dataclass(frozen=True, slots=True)
class DigitGroups:
    """Keys read back digit by digit, in groups, so the caller can check them."""

    groups: tuple[str, ...]

    @classmethod
    def of_identity_number(cls, digits: str) -> DigitGroups:
        """A personal number or fødselsnummer as people group it: the six digits of the
        date in pairs, then the rest (``15 01 01 2395``, ``25 11 15 12345``)."""
        if len(digits) <= 6:
            return cls((digits,) if digits else ())
        return cls((digits[0:2], digits[2:4], digits[4:6], digits[6:]))
