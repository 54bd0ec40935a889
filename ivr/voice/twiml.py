"""A turn of the flow as TwiML."""

from __future__ import annotations

from functools import lru_cache

from twilio.twiml.voice_response import VoiceResponse

from ivr.flows import Turn
from ivr.i18n import Catalogue


def speech(turn: Turn, catalogue: Catalogue) -> str:
    return " ".join(catalogue.text(f"speech.{say.key}", **say.params) for say in turn.say)


def render(turn: Turn, catalogue: Catalogue, action: str, timeout_seconds: int) -> str:
    """Speak the turn; then either hang up or collect keys.

    The speech sits inside ``<Gather>`` so a caller who knows the line can key through it.
    ``finishOnKey=""`` lets ``#`` (help) and ``*`` (restart) arrive in ``Digits``; a gather
    that hears nothing falls through to the ``<Redirect>``, which posts without ``Digits``.
    """
    return _document(
        speech(turn, catalogue),
        catalogue.texts["meta.say_language"],
        catalogue.texts["meta.voice"],
        None if turn.listen is None else turn.listen.num_digits,
        timeout_seconds,
        action,
    )


@lru_cache(maxsize=4096)
def _document(
    text: str,
    language: str,
    voice: str,
    num_digits: int | None,
    timeout_seconds: int,
    action: str,
) -> str:
    """The same few sentences and prompt numbers come back all morning: built once each."""
    response = VoiceResponse()
    if num_digits is None:
        response.say(text, language=language, voice=voice)
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
        gather.say(text, language=language, voice=voice)
        response.redirect(action, method="POST")
    return str(response.to_xml())


def say_and_hang_up(text: str, catalogue: Catalogue) -> str:
    return _document(
        text, catalogue.texts["meta.say_language"], catalogue.texts["meta.voice"], None, 0, ""
    )
