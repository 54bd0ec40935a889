"""A turn of the flow as TwiML."""

from __future__ import annotations

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
    response = VoiceResponse()
    voice = {
        "language": catalogue.texts["meta.say_language"],
        "voice": catalogue.texts["meta.voice"],
    }
    text = speech(turn, catalogue)
    if turn.listen is None:
        response.say(text, **voice)
        response.hangup()
    else:
        gather = response.gather(
            input="dtmf",
            num_digits=turn.listen.num_digits,
            finish_on_key="",
            timeout=timeout_seconds,
            action=action,
            method="POST",
            action_on_empty_result=False,
        )
        gather.say(text, **voice)
        response.redirect(action, method="POST")
    return str(response.to_xml())


def say_and_hang_up(text: str, catalogue: Catalogue) -> str:
    response = VoiceResponse()
    response.say(
        text, language=catalogue.texts["meta.say_language"], voice=catalogue.texts["meta.voice"]
    )
    response.hangup()
    return str(response.to_xml())
