"""The outreach call, key by key: the line calls a guardian because a pupil is not at school
and nobody reported it.

Every state, what it accepts and where it goes:

=============  =====================================  ======================================
step           accepts                                then
=============  =====================================  ======================================
ASK            1 (the guardian knows: away today)     BACK_AT, away recorded
ASK            2 (the guardian does not know)         ENDED, the school is alerted
ASK            silence or any other key               ASK again; after ``asks`` times ENDED
BACK_AT        HHMM, later than now                   ENDED, the absence ends then
BACK_AT        9 or silence                           ENDED, the absence lasts the day
BACK_AT        anything else                          BACK_AT once more, then ENDED
=============  =====================================  ======================================

The first turn says who calls and why, then asks (the message is heard twice at most). An
answering machine gets the message without the question (``voicemail``). Pure, like
``ivr.flows.call``: the edge reads the keys and records what the turn says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import time
from enum import StrEnum

from ivr.dtmf import Expect, Help, Invalid, Nine, OneKey, Restart, Silence, TimeKeys
from ivr.flows.call import Say

AWAY_KEY = "1"
DOES_NOT_KNOW_KEY = "2"
ASKS = 2


class OutreachStep(StrEnum):
    ASK = "ask"
    BACK_AT = "back_at"
    ENDED = "ended"


class Answer(StrEnum):
    AWAY = "away"
    DOES_NOT_KNOW = "does_not_know"


@dataclass(frozen=True, slots=True)
class OutreachState:
    step: OutreachStep = OutreachStep.ASK
    asked: int = 1
    failures: int = 0


@dataclass(frozen=True, slots=True)
class OutreachContext:
    """What the call is about: the school and the pupil's first name (the only name said),
    and the time it is where the school is (a time back must be later)."""

    school: str
    first_name: str
    now: time


@dataclass(frozen=True, slots=True)
class OutreachTurn:
    """What the line says next and listens for; ``answer`` and ``back_at`` are what to
    record now."""

    state: OutreachState
    say: tuple[Say, ...]
    listen: Expect | None
    answer: Answer | None = None
    back_at: time | None = None
    language: str | None = None  # an outreach call keeps the guardian's language


OutreachInput = Silence | Help | Restart | Nine | OneKey | TimeKeys | Invalid


def _names(context: OutreachContext) -> dict[str, object]:
    return {"school": context.school, "first_name": context.first_name}


def first_turn(context: OutreachContext) -> OutreachTurn:
    said = (Say("outreach.message", _names(context)), Say("outreach.question", _names(context)))
    return OutreachTurn(OutreachState(), said, Expect.ONE_KEY)


def voicemail(context: OutreachContext) -> OutreachTurn:
    """An answering machine: the message, and to call the school; no question."""
    said = (Say("outreach.message", _names(context)), Say("outreach.call_the_school"))
    return OutreachTurn(OutreachState(OutreachStep.ENDED), said, None)


def expects(step: OutreachStep) -> Expect | None:
    return {OutreachStep.ASK: Expect.ONE_KEY, OutreachStep.BACK_AT: Expect.TIME_OR_NINE}.get(step)


def step(state: OutreachState, keys: OutreachInput, context: OutreachContext) -> OutreachTurn:
    if state.step is OutreachStep.ASK:
        return _on_ask(state, keys, context)
    if state.step is OutreachStep.BACK_AT:
        return _on_back_at(state, keys, context)
    return OutreachTurn(state, (Say("goodbye"),), None)


def _on_ask(state: OutreachState, keys: OutreachInput, context: OutreachContext) -> OutreachTurn:
    if isinstance(keys, OneKey) and keys.key == AWAY_KEY:
        said = (
            Say("outreach.away_recorded", _names(context)),
            Say("outreach.ask_back_at", _names(context)),
        )
        return OutreachTurn(
            OutreachState(OutreachStep.BACK_AT), said, Expect.TIME_OR_NINE, Answer.AWAY
        )
    if isinstance(keys, OneKey) and keys.key == DOES_NOT_KNOW_KEY:
        said = (Say("outreach.does_not_know", _names(context)), Say("goodbye"))
        return OutreachTurn(OutreachState(OutreachStep.ENDED), said, None, Answer.DOES_NOT_KNOW)
    if state.asked >= ASKS:
        said = (Say("outreach.no_answer"), Say("goodbye"))
        return OutreachTurn(OutreachState(OutreachStep.ENDED), said, None)
    again = replace(state, asked=state.asked + 1)
    before = () if isinstance(keys, Silence) else (Say("outreach.wrong_key"),)
    said = (
        *before,
        Say("outreach.message", _names(context)),
        Say("outreach.question", _names(context)),
    )
    return OutreachTurn(again, said, Expect.ONE_KEY)


def _on_back_at(
    state: OutreachState, keys: OutreachInput, context: OutreachContext
) -> OutreachTurn:
    ended = OutreachState(OutreachStep.ENDED)
    if isinstance(keys, Silence | Nine):
        return OutreachTurn(ended, (Say("outreach.thanks"), Say("goodbye")), None)
    if isinstance(keys, TimeKeys) and keys.value > context.now:
        said = (Say("outreach.back_at_recorded", {"time": keys.value}), Say("goodbye"))
        return OutreachTurn(ended, said, None, back_at=keys.value)
    if state.failures >= 1:
        return OutreachTurn(ended, (Say("outreach.thanks"), Say("goodbye")), None)
    said = (Say("outreach.wrong_time"), Say("outreach.ask_back_at", _names(context)))
    return OutreachTurn(replace(state, failures=1), said, Expect.TIME_OR_NINE)
