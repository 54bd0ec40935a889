"""The call flow, pure: every step against every kind of input, and random calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.domain.absence import AbsencePeriod, Horizon, ReportingRules
from ivr.domain.spoken import DigitGroups, Phrase
from ivr.dtmf import (
    DateKeys,
    DateOrder,
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
    LANGUAGE_KEY,
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
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)
MONDAY = date(2026, 11, 30)
CHRISTMAS = date(2026, 12, 25)
WEEKENDS = frozenset(
    TODAY + timedelta(days=n) for n in range(100) if (TODAY + timedelta(days=n)).weekday() >= 5
)
CONTEXT = CallContext(
    ReportingRules(today=TODAY, horizon=Horizon(90)),
    days_off=WEEKENDS | {CHRISTMAS},
    language="sv",
)
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
    Step.NOT_SCHOOL_DAY: CallState(
        step=Step.NOT_SCHOOL_DAY, pupil_id=PUPIL, start_date=SATURDAY, end_date=SATURDAY
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
    "nine-key": OneKey("9"),
    "eight": OneKey(LANGUAGE_KEY),
    "known": KnownPupil(PUPIL),
    "unknown": UnknownPupil(),
    "wrong-length": Invalid(KeyProblem.WRONG_LENGTH),
    "not-digits": Invalid(KeyProblem.NOT_DIGITS),
    "no-such-date": Invalid(KeyProblem.NO_SUCH_DATE, "1513012395"),
    "no-such-time": Invalid(KeyProblem.NO_SUCH_TIME),
    "check-digit": Invalid(KeyProblem.CHECK_DIGIT, "1501012396"),
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
    (Step.NOT_SCHOOL_DAY, "nine-key"): (Step.ANOTHER, "recorded"),
    (Step.NOT_SCHOOL_DAY, "one"): (Step.ANOTHER, "recorded"),
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
    if current in (Step.ANOTHER, Step.NOT_SCHOOL_DAY):
        return current, f"error.{current}.wrong_key"
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
        (AT[Step.NOT_SCHOOL_DAY], OneKey("9"), AbsencePeriod.whole_day(SATURDAY)),
        (AT[Step.NOT_SCHOOL_DAY], OneKey("1"), AbsencePeriod.whole_day(MONDAY)),
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


KEY_INPUTS = st.one_of(
    st.sampled_from(
        [
            Silence(),
            Help(),
            Restart(),
            Nine(),
            OneKey("1"),
            OneKey("2"),
            OneKey("9"),
            OneKey(LANGUAGE_KEY),
            UnknownPupil(),
        ]
    ),
    st.builds(KnownPupil, st.integers(1, 3)),
    st.builds(DateKeys, st.dates(TODAY - timedelta(days=5), TODAY + timedelta(days=100))),
    st.builds(TimeKeys, st.times()),
    st.builds(Invalid, st.sampled_from(KeyProblem)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(KEY_INPUTS, max_size=40), st.sampled_from([None, "en"]))
def test_any_key_sequence_leaves_the_call_in_a_defined_state(
    keys: list[FlowInput], offer: str | None
) -> None:
    turn: Turn = welcome(offer=offer)
    recorded = 0
    language = "sv"
    for keys_entered in keys:
        before = turn.state
        turn = step(before, keys_entered, replace(CONTEXT, language=language))
        language = turn.language or language
        state = turn.state
        assert state.step in Step
        assert turn.say, "the caller always hears something"
        assert turn.hang_up == (state.step is Step.ENDED)
        assert state.failures < CONTEXT.max_failures or state.step is Step.ENDED
        if state.step in (Step.START_TIME, Step.END_DATE, Step.END_TIME):
            assert state.pupil_id is not None and state.start_date is not None
        if turn.language is not None:
            assert before.step is Step.PERSONAL_NUMBER and before.reports == 0
            assert turn.language == before.offer and state.offer in ("sv", "en")
        if turn.record is not None:
            recorded += 1
            period = turn.record.period
            assert before.step in (Step.START, Step.END_TIME, Step.NOT_SCHOOL_DAY)
            assert CONTEXT.rules.check(period) is None, "every recorded absence is valid"
            if not any(CONTEXT.is_school_day(day) for day in period.days()):
                assert before.step is Step.NOT_SCHOOL_DAY, "kept only after the question"
            assert turn.record.number_in_call == recorded
            assert state.step is Step.ANOTHER
        if state.step is Step.ENDED:
            assert step(state, keys_entered, CONTEXT).record is None
    assert turn.state.reports == recorded


# --- not a school day ---------------------------------------------------------------------


def _keys(turn: Turn) -> list[str]:
    return [say.key for say in turn.say]


def test_a_whole_day_today_on_a_weekend_asks_and_offers_the_next_school_day() -> None:
    saturday = replace(CONTEXT, rules=ReportingRules(today=SATURDAY, horizon=Horizon(90)))
    turn = step(AT[Step.START], Nine(), saturday)

    assert turn.record is None
    assert turn.state.step is Step.NOT_SCHOOL_DAY
    assert turn.listen is Expect.ONE_KEY
    assert _keys(turn) == ["notice.not_a_school_day", "prompt.not_school_day"]
    assert turn.say[0].params == {"date": SATURDAY}
    assert turn.say[1].params == {"day": SATURDAY, "next_day": MONDAY}

    kept = step(turn.state, OneKey("9"), saturday)
    assert kept.record is not None and kept.record.period == AbsencePeriod.whole_day(SATURDAY)
    moved = step(turn.state, OneKey("1"), saturday)
    assert moved.record is not None and moved.record.period == AbsencePeriod.whole_day(MONDAY)
    again = step(turn.state, Restart(), saturday)
    assert again.state == CallState() and again.record is None


def test_a_keyed_period_without_a_school_day_may_be_kept_or_started_over() -> None:
    weekend = replace(AT[Step.END_TIME], start_date=SATURDAY, start_time=None)
    turn = step(replace(weekend, end_date=date(2026, 11, 29)), Nine(), CONTEXT)

    assert _keys(turn) == ["notice.no_school_days", "prompt.not_school_days"]
    assert turn.say[0].params == {"start": SATURDAY, "end": date(2026, 11, 29)}
    assert step(turn.state, OneKey("1"), CONTEXT).say[0].key == "error.not_school_day.wrong_key"
    kept = step(turn.state, OneKey("9"), CONTEXT)
    assert kept.record is not None
    assert kept.record.period == AbsencePeriod(SATURDAY, None, date(2026, 11, 29), None)


def test_part_of_a_holiday_is_asked_about_without_offering_another_day() -> None:
    state = replace(AT[Step.END_TIME], start_date=CHRISTMAS, end_date=CHRISTMAS)
    turn = step(state, TimeKeys(time(12, 0)), CONTEXT)
    assert _keys(turn) == ["notice.not_a_school_day", "prompt.not_school_days"]


def test_a_period_with_a_school_day_in_it_is_recorded_without_a_question() -> None:
    state = replace(AT[Step.END_TIME], end_date=MONDAY)
    turn = step(state, Nine(), CONTEXT)
    assert turn.record is not None
    assert turn.record.period == AbsencePeriod(FRIDAY, time(10, 0), MONDAY, None)


def test_no_next_school_day_is_offered_beyond_the_horizon() -> None:
    short = replace(CONTEXT, rules=ReportingRules(today=SATURDAY, horizon=Horizon(1)))
    turn = step(AT[Step.START], Nine(), short)
    assert _keys(turn) == ["notice.not_a_school_day", "prompt.not_school_days"]


# --- the country's number and dates ---------------------------------------------------------

NORWAY = replace(CONTEXT, identity_number=Expect.FODSELSNUMMER, date_order=DateOrder.DMY)


def test_a_norwegian_line_asks_for_the_fodselsnummer_and_day_first_dates() -> None:
    first = welcome(Expect.FODSELSNUMMER)
    assert _keys(first) == ["welcome", "prompt.fodselsnummer"]
    assert first.listen is Expect.FODSELSNUMMER
    assert expects(Step.PERSONAL_NUMBER, NORWAY) is Expect.FODSELSNUMMER

    wrong = step(CallState(), Invalid(KeyProblem.CHECK_DIGIT, "25011551282"), NORWAY)
    assert _keys(wrong) == ["error.fodselsnummer.check_digit", "prompt.fodselsnummer"]
    assert wrong.say[0].params["number"] == DigitGroups(("25", "01", "15", "51282"))
    assert step(CallState(), UnknownPupil(), NORWAY).say[0].key == (
        "error.fodselsnummer.unknown_pupil"
    )

    earlier = replace(NORWAY, rules=ReportingRules(today=date(2026, 11, 20), horizon=Horizon(90)))
    helped = step(AT[Step.START], Help(), earlier)
    assert helped.say[0].params["example_keys"] == "2 1 1 1 2 6"
    assert helped.say[-1].params["date_order"] == Phrase("date_order.dmy")


def test_a_personal_number_that_is_no_valid_one_is_read_back_in_groups() -> None:
    turn = step(CallState(), INPUTS["check-digit"], CONTEXT)
    assert turn.say[0].key == "error.personal_number.check_digit"
    assert turn.say[0].params["number"] == DigitGroups(("15", "01", "01", "2396"))


# --- the offer of another language --------------------------------------------------------


def test_the_offer_of_another_language_is_said_in_that_language() -> None:
    turn = welcome(offer="en")
    assert _keys(turn) == ["welcome", "offer_language", "prompt.personal_number"]
    assert [say.language for say in turn.say] == [None, "en", None]
    assert turn.say[1].params == {"key": LANGUAGE_KEY}


def test_the_language_key_switches_the_call_and_offers_the_way_back() -> None:
    turn = step(welcome(offer="en").state, OneKey(LANGUAGE_KEY), CONTEXT)

    assert turn.language == "en"
    assert turn.state.offer == "sv"
    assert turn.state.step is Step.PERSONAL_NUMBER
    assert _keys(turn) == ["welcome", "offer_language", "prompt.personal_number"]
    assert turn.say[1].language == "sv"
    back = step(turn.state, OneKey(LANGUAGE_KEY), replace(CONTEXT, language="en"))
    assert back.language == "sv" and back.state.offer == "en"


def test_the_offer_is_repeated_with_the_prompt_until_the_first_report() -> None:
    offered = welcome(offer="en").state
    silence = step(offered, Silence(), CONTEXT)
    assert _keys(silence) == ["no_input", "offer_language", "prompt.personal_number"]
    restarted = step(replace(offered, step=Step.START, pupil_id=PUPIL), Restart(), CONTEXT)
    assert "offer_language" in _keys(restarted)
    after_a_report = replace(offered, reports=1)
    turn = step(after_a_report, OneKey(LANGUAGE_KEY), CONTEXT)
    assert turn.language is None
    assert turn.say[0].key == "error.personal_number.wrong_length"
    assert "offer_language" not in _keys(turn)


def test_without_an_offer_the_language_key_is_a_wrong_entry() -> None:
    turn = step(CallState(), OneKey(LANGUAGE_KEY), CONTEXT)
    assert turn.language is None
    assert turn.say[0].key == "error.personal_number.wrong_length"
