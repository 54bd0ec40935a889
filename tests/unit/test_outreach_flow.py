"""The outreach call, key by key: every key at every step, and what the turn says, listens
for and records."""

from __future__ import annotations

from datetime import date, time

import pytest

from ivr.dtmf import Expect, read_keys
from ivr.flows.call import Say
from ivr.flows.outreach import (
    ASKS,
    Answer,
    OutreachContext,
    OutreachState,
    OutreachStep,
    OutreachTurn,
    expects,
    first_turn,
    step,
    voicemail,
)

TODAY = date(2026, 11, 25)
CONTEXT = OutreachContext("Solskolan", "Alva", time(8, 20))
NAMES = {"school": "Solskolan", "first_name": "Alva"}
MESSAGE = Say("outreach.message", NAMES)
QUESTION = Say("outreach.question", NAMES)
ONE_KEYS = [*"0123456789*#", ""]


def _press(state: OutreachState, digits: str) -> OutreachTurn:
    expect = expects(state.step)
    assert expect is not None
    return step(state, read_keys(digits, expect, TODAY), CONTEXT)  # type: ignore[arg-type]


def test_the_first_turn_says_who_calls_and_why_then_asks_for_one_key() -> None:
    turn = first_turn(CONTEXT)
    assert turn.say == (MESSAGE, QUESTION)
    assert turn.listen is Expect.ONE_KEY
    assert turn.state == OutreachState(OutreachStep.ASK, asked=1)
    assert (turn.answer, turn.back_at) == (None, None)


def test_an_answering_machine_hears_the_message_and_to_call_the_school_not_the_question() -> None:
    turn = voicemail(CONTEXT)
    assert turn.say == (MESSAGE, Say("outreach.call_the_school"))
    assert turn.listen is None
    assert turn.state.step is OutreachStep.ENDED


@pytest.mark.parametrize("asked", range(1, ASKS + 1))
@pytest.mark.parametrize("digits", ONE_KEYS)
def test_every_key_when_asked(asked: int, digits: str) -> None:
    turn = _press(OutreachState(OutreachStep.ASK, asked), digits)

    if digits == "1":
        assert turn.answer is Answer.AWAY
        assert turn.say == (
            Say("outreach.away_recorded", NAMES),
            Say("outreach.ask_back_at", NAMES),
        )
        assert (turn.state.step, turn.listen) == (OutreachStep.BACK_AT, Expect.TIME_OR_NINE)
    elif digits == "2":
        assert turn.answer is Answer.DOES_NOT_KNOW
        assert turn.say == (Say("outreach.does_not_know", NAMES), Say("goodbye"))
        assert (turn.state.step, turn.listen) == (OutreachStep.ENDED, None)
    elif asked < ASKS:
        # Asked again, the message with it: the guardian hears it twice at most.
        wrong = () if digits == "" else (Say("outreach.wrong_key"),)
        assert turn.say == (*wrong, MESSAGE, QUESTION)
        assert turn.state == OutreachState(OutreachStep.ASK, asked + 1)
        assert (turn.answer, turn.listen) == (None, Expect.ONE_KEY)
    else:
        assert turn.say == (Say("outreach.no_answer"), Say("goodbye"))
        assert (turn.state.step, turn.listen, turn.answer) == (OutreachStep.ENDED, None, None)


def test_a_silent_guardian_hears_the_message_twice_then_is_asked_to_call_the_school() -> None:
    turn = first_turn(CONTEXT)
    heard = [turn.say]
    while turn.listen is not None:
        turn = _press(turn.state, "")
        heard.append(turn.say)
    assert sum(said.count(MESSAGE) for said in heard) == 2
    assert heard[-1] == (Say("outreach.no_answer"), Say("goodbye"))


BACK_AT_KEYS = {
    "": ("whole day", None),
    "9": ("whole day", None),
    "1430": ("until", time(14, 30)),
    "0820": ("wrong", None),  # not later than now
    "0700": ("wrong", None),
    "2460": ("wrong", None),  # no such time
    "143": ("wrong", None),
    "14300": ("wrong", None),
    "*": ("wrong", None),
    "#": ("wrong", None),
}


@pytest.mark.parametrize("failures", [0, 1])
@pytest.mark.parametrize("digits", list(BACK_AT_KEYS))
def test_every_answer_to_when_the_pupil_is_back(failures: int, digits: str) -> None:
    turn = _press(OutreachState(OutreachStep.BACK_AT, 1, failures), digits)

    meaning, back_at = BACK_AT_KEYS[digits]
    assert turn.answer is None  # the answer was recorded with the 1 already
    assert turn.back_at == back_at
    if meaning == "until":
        assert turn.say == (Say("outreach.back_at_recorded", {"time": back_at}), Say("goodbye"))
        assert (turn.state.step, turn.listen) == (OutreachStep.ENDED, None)
    elif meaning == "whole day" or failures:
        assert turn.say == (Say("outreach.thanks"), Say("goodbye"))
        assert (turn.state.step, turn.listen) == (OutreachStep.ENDED, None)
    else:
        assert turn.say == (Say("outreach.wrong_time"), Say("outreach.ask_back_at", NAMES))
        assert turn.state == OutreachState(OutreachStep.BACK_AT, 1, 1)
        assert turn.listen is Expect.TIME_OR_NINE


def test_an_ended_call_only_says_goodbye() -> None:
    turn = step(OutreachState(OutreachStep.ENDED), read_keys("1", Expect.ONE_KEY, TODAY), CONTEXT)  # type: ignore[arg-type]
    assert turn.say == (Say("goodbye"),)
    assert (turn.listen, turn.answer) == (None, None)
    assert expects(OutreachStep.ENDED) is None
