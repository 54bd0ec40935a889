"""A turn of the flow as TwiML: what to say, in which voice, and which keys to collect."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol
from xml.sax.saxutils import escape

from twilio.twiml.voice_response import Say as SayVerb
from twilio.twiml.voice_response import VoiceResponse

from ivr.domain.spoken import Pause, SayAs, Spoken, joined
from ivr.dtmf import Expect
from ivr.flows import Say
from ivr.i18n import Catalogue
from ivr.i18n.lookup import Catalogues

# Twilio passes SSML through to these text-to-speech providers; its basic voices (man,
# woman, alice) would read the markup aloud, so they get plain text.
SSML_VOICE_PREFIXES = ("Polly.", "Google.")


@dataclass(frozen=True, slots=True)
class Voice:
    """A ``<Say>``'s ``voice`` and ``language``; the two must suit each other."""

    name: str
    language: str

    @property
    def reads_ssml(self) -> bool:
        return self.name.startswith(SSML_VOICE_PREFIXES)


@dataclass(frozen=True, slots=True)
class VoiceChoice:
    """A voice chosen in the settings for a language (``IVR_VOICES``); ``language`` only
    when the voice speaks another variant than the catalogue's (``Polly.Joanna`` is
    ``en-US``, the shipped English is ``en-GB``)."""

    voice: str
    language: str | None = None


def voice_for(catalogue: Catalogue, choices: Mapping[str, VoiceChoice]) -> Voice:
    """The settings' voice for the catalogue's language, else the catalogue's own."""
    choice = choices.get(catalogue.language)
    if choice is None:
        return Voice(catalogue.texts["meta.voice"], catalogue.texts["meta.say_language"])
    return Voice(choice.voice, choice.language or catalogue.texts["meta.say_language"])


@dataclass(frozen=True, slots=True, eq=False)
class Speaker:
    """A language's catalogue and voice. One per language for the life of the process, so
    it is its own cache key (by identity)."""

    catalogue: Catalogue
    voice: Voice

    def speak(self, say: Say) -> Spoken:
        """The sentence in this voice: SSML parts only if the voice reads SSML."""
        try:
            return _sentence(self, say.key, tuple(sorted(say.params.items())))
        except TypeError:  # a value that cannot be a cache key: say it without the cache
            return self.catalogue.spoken(f"speech.{say.key}", self.voice.reads_ssml, **say.params)


@lru_cache(maxsize=8192)
def _sentence(speaker: Speaker, key: str, params: tuple[tuple[str, object], ...]) -> Spoken:
    """The same sentences with the same dates come back all morning: built once each."""
    return speaker.catalogue.spoken(f"speech.{key}", speaker.voice.reads_ssml, **dict(params))


class Speakers:
    """Each language's speaker, made once: its catalogue and the voice ``IVR_VOICES`` or the
    catalogue chooses."""

    def __init__(self, catalogues: Catalogues, choices: Mapping[str, VoiceChoice]) -> None:
        self.catalogues = catalogues
        self.choices = dict(choices)
        self._speakers: dict[str, Speaker] = {}

    def __call__(self, language: str) -> Speaker:
        speaker = self._speakers.get(language)
        if speaker is None:
            catalogue = self.catalogues(language)
            speaker = Speaker(catalogue, voice_for(catalogue, self.choices))
            self._speakers[language] = speaker
        return speaker


class Turn(Protocol):
    """What a turn of any conversation gives TwiML: what to say, what to listen for (None:
    hang up), and the language the call speaks from now on, if it changes."""

    @property
    def say(self) -> tuple[Say, ...]: ...

    @property
    def listen(self) -> Expect | None: ...

    @property
    def language(self) -> str | None: ...


Block = tuple[Voice, Spoken]
"""One ``<Say>``: a voice and what it says."""


def spoken_blocks(
    turn: Turn, speaker_for: Callable[[str], Speaker], language: str
) -> tuple[Block, ...]:
    """The turn's sentences in ``language`` (a sentence may name its own, as the offer of
    another language does), one block per run of sentences in the same voice."""
    blocks: list[tuple[Voice, list[Spoken]]] = []
    for say in turn.say:
        speaker = speaker_for(say.language or language)
        spoken = speaker.speak(say)
        if blocks and blocks[-1][0] == speaker.voice:
            blocks[-1][1].append((" ",))
            blocks[-1][1].append(spoken)
        else:
            blocks.append((speaker.voice, [spoken]))
    return tuple((voice, joined(*parts)) for voice, parts in blocks)


def render(
    turn: Turn,
    speaker_for: Callable[[str], Speaker],
    language: str,
    action: str,
    timeout_seconds: int,
) -> str:
    """Speak the turn; then either hang up or collect keys.

    The speech sits inside ``<Gather>`` so a caller who knows the line can key through it.
    ``finishOnKey=""`` lets ``#`` (help) and ``*`` (restart) arrive in ``Digits``; a gather
    that hears nothing falls through to the ``<Redirect>``, which posts without ``Digits``.
    ``action`` (where the keys go, with the call's progress) is different in every call: it
    is put into a document built once for all calls that hear the same.
    """
    document = _document(
        spoken_blocks(turn, speaker_for, language),
        None if turn.listen is None else turn.listen.num_digits,
        timeout_seconds,
        ACTION,
    )
    return document if turn.listen is None else document.replace(ACTION, escape(action, _QUOTE), 2)


# Stands for the action URL in a cached document: nothing XML escapes, nothing said.
ACTION = "__action__"
_QUOTE = {'"': "&quot;"}


@lru_cache(maxsize=4096)
def _document(
    blocks: tuple[Block, ...],
    num_digits: int | None,
    timeout_seconds: int,
    action: str,
) -> str:
    """The same few sentences come back all morning: built once each."""
    response = VoiceResponse()
    if num_digits is None:
        for voice, spoken in blocks:
            response.append(_say(voice, spoken))
        response.hangup()
    else:
        gather = response.gather(
            input="dtmf",
            num_digits=num_digits,
            finish_on_key="",
            timeout=timeout_seconds,
            action=action,
            method="POST",
            action_on_empty_result=False,
        )
        for voice, spoken in blocks:
            gather.append(_say(voice, spoken))
        response.redirect(action, method="POST")
    return str(response.to_xml())


def _say(voice: Voice, spoken: Spoken) -> SayVerb:
    """``<Say>`` with text, ``<say-as>`` and ``<break>`` (SSML only for voices that read it;
    others never get anything but text)."""
    say = SayVerb(voice=voice.name, language=voice.language)
    for segment in spoken:
        if isinstance(segment, SayAs):
            say.say_as(segment.text, interpret_as=segment.interpret_as)
        elif isinstance(segment, Pause):
            say.break_(time=f"{segment.milliseconds}ms")
        else:
            say.nest(segment)
    return say


def say_and_hang_up(text: str, voice: Voice) -> str:
    return _document(((voice, (text,)),), None, 0, "")
