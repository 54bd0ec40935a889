"""The call flow, pure: every step against every kind of input, and random calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.absence import AbsencePeriod, ReportingRules
from ivr.dtmf import (
    DateKeys,
    Expect,
    Help,
    Invalid,
    KeyProblem,
    Nine,
    OneKey,
    Restart,
    Silence,
    TimeKeys,
)
from ivr.flows import (
    CallContext,
    CallState,
    FlowInput,
    KnownPupil,
    Step,
    Turn,
    UnknownPupil,
    expects,
    refuse,
    step,
    welcome,
)

TODAY = date(2026, 11, 25)
CONTEXT = CallContext(ReportingRules(today=TODAY, horizon_days=90))
FRIDAY = date(2026, 11, 27)
PUPIL = 7

AT = {
    Step.PERSONAL_NUMBER: CallState(),
    Step.START: CallState(step=Step.START, pupil_id=PUPIL),
    Step.START_TIME: CallState(step=Step.START_TIME, pupil_id=PUPIL, start_date=FRIDAY),
    Step.END_DATE: CallState(
        step=Step.END_DATE, pupil_id=PUPIL, start_date=FRIDAY, start_time=time(10, 0)
    ),
    Step.END_TIME: CallState(
        step=Step.END_TIME,
        pupil_id=PUPIL,
        start_date=FRIDAY,
        start_time=time(10, 0),
        end_date=FRIDAY,
    ),
    Step.ANOTHER: CallState(step=Step.ANOTHER, reports=1),
}

INPUTS: dict[str, FlowInput] = {
    "silence": Silence(),
    "help": Help(),
    "restart": Restart(),
    "nine": Nine(),
    "friday": DateKeys(FRIDAY),
    "yesterday": DateKeys(TODAY - timedelta(days=1)),
    "beyond": DateKeys(TODAY + timedelta(days=91)),
    "last-day": DateKeys(TODAY + timedelta(days=90)),
    "thursday": DateKeys(date(2026, 11, 26)),
    "0930": TimeKeys(time(9, 30)),
    "1200": TimeKeys(time(12, 0)),
    "one": OneKey("1"),
    "two": OneKey("2"),
    "known": KnownPupil(PUPIL),
    "unknown": UnknownPupil(),
    "wrong-length": Invalid(KeyProblem.WRONG_LENGTH),
    "not-digits": Invalid(KeyProblem.NOT_DIGITS),
    "no-such-date": Invalid(KeyProblem.NO_SUCH_DATE),
    "no-such-time": Invalid(KeyProblem.NO_SUCH_TIME),
    "check-digit": Invalid(KeyProblem.CHECK_DIGIT),
}

# (step, input) -> (next step, first sentence said). Missing pairs: a wrong entry for that step.
ACCEPTED: dict[tuple[Step, str], tuple[Step, str]] = {
    (Step.PERSONAL_NUMBER, "known"): (Step.START, "prompt.start"),
    (Step.PERSONAL_NUMBER, "unknown"): (
        Step.PERSONAL_NUMBER,
        "error.personal_number.unknown_pupil",
    ),
    (Step.PERSONAL_NUMBER, "no-such-date"): (
        Step.PERSONAL_NUMBER,
        "error.personal_number.no_such_date",
    ),
    (Step.PERSONAL_NUMBER, "check-digit"): (
        Step.PERSONAL_NUMBER,
        "error.personal_number.check_digit",
    ),
    (Step.START, "nine"): (Step.ANOTHER, "recorded"),
    (Step.START, "friday"): (Step.START_TIME, "prompt.start_time"),
    (Step.START, "thursday"): (Step.START_TIME, "prompt.start_time"),
    (Step.START, "last-day"): (Step.START_TIME, "prompt.start_time"),
    (Step.START, "yesterday"): (Step.START, "error.start.date_in_past"),
    (Step.START, "beyond"): (Step.START, "error.start.beyond_horizon"),
    (Step.START, "no-such-date"): (Step.START, "error.start.no_such_date"),
    (Step.START_TIME, "nine"): (Step.END_DATE, "prompt.end_date"),
    (Step.START_TIME, "0930"): (Step.END_DATE, "prompt.end_date"),
    (Step.START_TIME, "1200"): (Step.END_DATE, "prompt.end_date"),
    (Step.START_TIME, "no-such-time"): (Step.START_TIME, "error.start_time.no_such_time"),
    (Step.END_DATE, "nine"): (Step.END_TIME, "prompt.end_time"),
    (Step.END_DATE, "friday"): (Step.END_TIME, "prompt.end_time"),
    (Step.END_DATE, "last-day"): (Step.END_TIME, "prompt.end_time"),
    (Step.END_DATE, "thursday"): (Step.END_DATE, "error.end_date.end_before_start"),
    (Step.END_DATE, "yesterday"): (Step.END_DATE, "error.end_date.end_before_start"),
    (Step.END_DATE, "beyond"): (Step.END_DATE, "error.end_date.beyond_horizon"),
    (Step.END_DATE, "no-such-date"): (Step.END_DATE, "error.end_date.no_such_date"),
    (Step.END_TIME, "nine"): (Step.ANOTHER, "recorded"),
    (Step.END_TIME, "1200"): (Step.ANOTHER, "recorded"),
    (Step.END_TIME, "0930"): (Step.END_TIME, "error.end_time.end_before_start"),
    (Step.END_TIME, "no-such-time"): (Step.END_TIME, "error.end_time.no_such_time"),
    (Step.ANOTHER, "one"): (Step.PERSONAL_NUMBER, "prompt.personal_number"),
    (Step.ANOTHER, "silence"): (Step.ENDED, "goodbye"),
}


def _expected(current: Step, name: str) -> tuple[Step, str]:
    if name == "help":
        return current, f"help.{current}"
    if name == "restart":
        return Step.PERSONAL_NUMBER, "restart"
    if name == "silence" and current is not Step.ANOTHER:
        return current, "no_input"
    if (current, name) in ACCEPTED:
        return ACCEPTED[(current, name)]
    if current is Step.ANOTHER:
        return current, "error.another.wrong_key"
    return current, f"error.{current}.wrong_length"


@pytest.mark.parametrize("name", list(INPUTS))
@pytest.mark.parametrize("current", list(AT))
def test_every_step_against_every_input(current: Step, name: str) -> None:
    turn = step(AT[current], INPUTS[name], CONTEXT)

    next_step, first_said = _expected(current, name)
    assert turn.state.step is next_step
    assert turn.say[0].key == first_said
    assert (turn.record is not None) == (first_said == "recorded")
    if next_step is Step.ENDED:
        assert turn.hang_up
    else:
        assert turn.listen is expects(next_step)
        assert turn.say[-1].key == f"prompt.{next_step}", (
            "every turn that listens ends with its prompt"
        )
    if next_step is current and first_said.startswith(("error.", "no_input")):
        assert turn.state.failures == AT[current].failures + 1
    elif next_step is not current:
        assert turn.state.failures == 0


@pytest.mark.parametrize(
    ("state", "keys", "period"),
    [
        (AT[Step.START], Nine(), AbsencePeriod(TODAY, None, TODAY, None)),
        (AT[Step.END_TIME], Nine(), AbsencePeriod(FRIDAY, time(10, 0), FRIDAY, None)),
        (
            AT[Step.END_TIME],
            TimeKeys(time(12, 0)),
            AbsencePeriod(FRIDAY, time(10, 0), FRIDAY, time(12, 0)),
        ),
        (
            replace(AT[Step.END_TIME], start_time=None),
            TimeKeys(time(0, 1)),
            AbsencePeriod(FRIDAY, None, FRIDAY, time(0, 1)),
        ),
        (
            replace(AT[Step.END_TIME], end_date=date(2026, 11, 30)),
            TimeKeys(time(8, 0)),
            AbsencePeriod(FRIDAY, time(10, 0), date(2026, 11, 30), time(8, 0)),
        ),
    ],
)
def test_what_is_recorded(state: CallState, keys: FlowInput, period: AbsencePeriod) -> None:
    turn = step(state, keys, CONTEXT)

    assert turn.record is not None
    assert turn.record.period == period
    assert turn.record.pupil_id == PUPIL
    assert turn.record.number_in_call == state.reports + 1
    assert [say.key for say in turn.say] == ["recorded", "confirmation_sent", "prompt.another"]
    assert turn.say[0].params == {"period": period}
    assert turn.state == CallState(step=Step.ANOTHER, reports=state.reports + 1)


def test_an_end_at_midnight_on_the_first_day_is_before_the_start() -> None:
    state = replace(AT[Step.END_TIME], start_time=None)
    turn = step(state, TimeKeys(time(0, 0)), CONTEXT)
    assert turn.say[0].key == "error.end_time.end_before_start"


def test_the_third_failure_in_a_row_ends_the_call() -> None:
    state = AT[Step.START]
    for failures in (1, 2):
        turn = step(state, Invalid(KeyProblem.WRONG_LENGTH), CONTEXT)
        state = turn.state
        assert state.failures == failures
        assert not turn.hang_up
    turn = step(state, Silence(), CONTEXT)
    assert turn.hang_up
    assert turn.state.step is Step.ENDED
    assert [say.key for say in turn.say] == ["no_input", "too_many_failures", "goodbye"]
    assert turn.record is None


def test_help_does_not_count_as_a_failure() -> None:
    state = replace(AT[Step.START], failures=2)
    turn = step(state, Help(), CONTEXT)
    assert turn.state.failures == 2
    assert turn.say[0].params["example_date"] == TODAY + timedelta(days=1)
    assert turn.say[0].params["example_keys"] == "2 6 1 1 2 6"


def test_restart_keeps_the_count_of_reports_and_unknown_pupils() -> None:
    state = replace(AT[Step.END_TIME], reports=2, unknown_pupils=1, failures=1)
    turn = step(state, Restart(), CONTEXT)
    assert turn.state == CallState(reports=2, unknown_pupils=1)


def test_unknown_pupils_are_counted_over_the_whole_call() -> None:
    context = replace(CONTEXT, max_unknown_pupils=3, max_failures=10)
    state = CallState()
    for _ in range(2):
        state = step(state, UnknownPupil(), context).state
        state = step(state, KnownPupil(PUPIL), context).state
        state = step(state, Restart(), context).state
    turn = step(state, UnknownPupil(), context)
    assert turn.hang_up
    assert turn.state.unknown_pupils == 3


def test_welcome_and_refusals() -> None:
    turn = welcome()
    assert [say.key for say in turn.say] == ["welcome", "prompt.personal_number"]
    assert turn.listen is Expect.PERSONAL_NUMBER
    refused = refuse("hidden_number")
    assert refused.hang_up
    assert [say.key for say in refused.say] == ["refused.hidden_number", "goodbye"]
    assert step(refused.state, Nine(), CONTEXT).hang_up


@given(
    st.builds(
        CallState,
        step=st.sampled_from(Step),
        failures=st.integers(0, 2),
        pupil_id=st.none() | st.integers(1, 10),
        start_date=st.none() | st.dates(),
        start_time=st.none() | st.times(),
        end_date=st.none() | st.dates(),
        reports=st.integers(0, 5),
        unknown_pupils=st.integers(0, 2),
    )
)
def test_state_survives_json(state: CallState) -> None:
    assert CallState.from_json(state.to_json()) == state


KEY_INPUTS = st.one_of(
    st.sampled_from(
        [Silence(), Help(), Restart(), Nine(), OneKey("1"), OneKey("2"), UnknownPupil()]
    ),
    st.builds(KnownPupil, st.integers(1, 3)),
    st.builds(DateKeys, st.dates(TODAY - timedelta(days=5), TODAY + timedelta(days=100))),
    st.builds(TimeKeys, st.times()),
    st.builds(Invalid, st.sampled_from(KeyProblem)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(KEY_INPUTS, max_size=40))
def test_any_key_sequence_leaves_the_call_in_a_defined_state(keys: list[FlowInput]) -> None:
    turn: Turn = welcome()
    recorded = 0
    for keys_entered in keys:
        before = turn.state
        turn = step(before, keys_entered, CONTEXT)
        state = turn.state
        assert state.step in Step
        assert turn.say, "the caller always hears something"
        assert turn.hang_up == (state.step is Step.ENDED)
        assert state.failures < CONTEXT.max_failures or state.step is Step.ENDED
        if state.step in (Step.START_TIME, Step.END_DATE, Step.END_TIME):
            assert state.pupil_id is not None and state.start_date is not None
        if turn.record is not None:
            recorded += 1
            period = turn.record.period
            assert before.step in (Step.START, Step.END_TIME)
            assert CONTEXT.rules.check(period) is None, "every recorded absence is valid"
            assert turn.record.number_in_call == recorded
            assert state.step is Step.ANOTHER
        if state.step is Step.ENDED:
            assert step(state, keys_entered, CONTEXT).record is None
    assert turn.state.reports == recorded
