"""The call, key by key.

Every state, what it accepts and where it goes:

===============  ================================  =====================================
step             accepts                           then
===============  ================================  =====================================
PERSONAL_NUMBER  the number of a known pupil       START
PERSONAL_NUMBER  8, if another language is         PERSONAL_NUMBER, in that language
                 offered (first report only)
START            9                                 record today, whole day -> ANOTHER
START            a date (today..horizon)           START_TIME
START_TIME       HHMM, or 9 (start of day)         END_DATE
END_DATE         a date (>= start), or 9           END_TIME
END_TIME         HHMM after start, or 9            record -> ANOTHER
NOT_SCHOOL_DAY   9 (keep it)                       record as keyed -> ANOTHER
NOT_SCHOOL_DAY   1 (one whole day only)            record the next school day -> ANOTHER
ANOTHER          1                                 PERSONAL_NUMBER (a sibling, same call)
ANOTHER          silence                           goodbye
===============  ================================  =====================================

"Record" goes to NOT_SCHOOL_DAY instead when no day of the period is a school day (a
weekend or public holiday): the caller hears so and either keeps the report with 9 or,
for one whole day, takes the next school day with 1; ``*`` starts over as everywhere.
Both answers are one key, so the gather ends at once, and callers reporting a school day
(nearly all) never hear the question.

The pupil's number is the country's: a Swedish personal number (10 digits) or a Norwegian
fødselsnummer or D-number (11); dates are keyed ``YYMMDD`` in Sweden and ``DDMMYY`` in
Norway (``CallContext.identity_number`` and ``date_order``).

At every step ``#`` explains the step and asks again, ``*`` drops what this report has so
far and starts over at PERSONAL_NUMBER, silence asks again, and a wrong entry gets a
specific message and the step again. ``max_failures`` misses in a row at one step end the
call politely with nothing of that report saved.

A number may offer a second language: the first prompt then carries one sentence in that
language ("For English, press 8"), inside the same gather, so a caller who keys the
pupil's number straight away loses nothing. Pressing 8 switches the call (``Turn.language``)
and the prompt comes again in the new language, offering the way back. (The edge makes no
offer to a guardian whose preferred language the call already speaks.)

Pure: the flow never looks anything up. The edge reads the keys (``ivr.dtmf``), looks up a
keyed personal number and passes ``KnownPupil`` or ``UnknownPupil`` in its place, and puts
in the context what the flow needs to know (today, the school days, the country's rules).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Any

from ivr.domain.absence import AbsencePeriod, PeriodProblem, ReportingRules
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

ANOTHER_PUPIL_KEY = "1"
LANGUAGE_KEY = "8"
KEEP_KEY = "9"
NEXT_SCHOOL_DAY_KEY = "1"


class Step(StrEnum):
    PERSONAL_NUMBER = "personal_number"
    START = "start"
    START_TIME = "start_time"
    END_DATE = "end_date"
    END_TIME = "end_time"
    NOT_SCHOOL_DAY = "not_school_day"
    ANOTHER = "another"
    ENDED = "ended"


_EXPECTS: Mapping[Step, Expect] = {
    Step.PERSONAL_NUMBER: Expect.PERSONAL_NUMBER,
    Step.START: Expect.DATE_OR_NINE,
    Step.START_TIME: Expect.TIME_OR_NINE,
    Step.END_DATE: Expect.DATE_OR_NINE,
    Step.END_TIME: Expect.TIME_OR_NINE,
    Step.NOT_SCHOOL_DAY: Expect.ONE_KEY,
    Step.ANOTHER: Expect.ONE_KEY,
}


def expects(current: Step, context: CallContext | None = None) -> Expect | None:
    """What the prompt of ``current`` asks for; None once the call has ended. The pupil's
    number is the one of the context's country (a Swedish personal number by default)."""
    if current is Step.PERSONAL_NUMBER and context is not None:
        return context.identity_number
    return _EXPECTS.get(current)


@dataclass(frozen=True, slots=True)
class KnownPupil:
    """A valid personal number of a pupil in the organisation's roster."""

    pupil_id: int


@dataclass(frozen=True, slots=True)
class UnknownPupil:
    """A valid personal number that is not in the organisation's roster."""


FlowInput = (
    Silence
    | Help
    | Restart
    | Nine
    | DateKeys
    | TimeKeys
    | OneKey
    | Invalid
    | KnownPupil
    | UnknownPupil
)


@dataclass(frozen=True, slots=True)
class CallState:
    step: Step = Step.PERSONAL_NUMBER
    failures: int = 0
    pupil_id: int | None = None
    start_date: date | None = None
    start_time: time | None = None
    end_date: date | None = None
    end_time: time | None = None
    reports: int = 0
    unknown_pupils: int = 0
    offer: str | None = None  # a language the caller may switch to with LANGUAGE_KEY

    def next_report(self) -> CallState:
        """This report dropped or done: ask for a personal number, keep the call's counts
        (and, before the first report, the offer of another language)."""
        return CallState(reports=self.reports, unknown_pupils=self.unknown_pupils, offer=self.offer)

    @property
    def period(self) -> AbsencePeriod:
        """The period keyed so far (complete at NOT_SCHOOL_DAY)."""
        assert self.start_date is not None and self.end_date is not None, "a whole period"
        return AbsencePeriod(self.start_date, self.start_time, self.end_date, self.end_time)


@dataclass(frozen=True, slots=True)
class Say:
    """One sentence from the language catalogue, by key, with the values it needs; in the
    call's language, or in ``language`` (the offer of another language is said in it)."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """An absence to record now, with its confirmations, in one transaction."""

    pupil_id: int
    period: AbsencePeriod
    number_in_call: int


@dataclass(frozen=True, slots=True)
class Turn:
    """What the line does next: say these sentences, then listen for ``listen`` or hang up."""

    state: CallState
    say: tuple[Say, ...]
    listen: Expect | None
    record: Report | None = None
    language: str | None = None  # the call speaks this language from this turn on

    @property
    def hang_up(self) -> bool:
        return self.listen is None


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the flow needs to know and may not look up: today's rules, the country's way
    of identifying pupils and keying dates, the days that are not school days (weekends
    and public holidays from today to the horizon), and the language the call is in."""

    rules: ReportingRules
    max_failures: int = 3
    max_unknown_pupils: int = 3
    identity_number: Expect = Expect.PERSONAL_NUMBER
    date_order: DateOrder = DateOrder.YMD
    days_off: frozenset[date] = frozenset()
    language: str | None = None

    def is_school_day(self, day: date) -> bool:
        return day not in self.days_off

    def next_school_day(self, after: date) -> date | None:
        """The first school day after ``after`` that may still be reported, if any."""
        day = after + timedelta(days=1)
        while day <= self.rules.last_reportable_day:
            if self.is_school_day(day):
                return day
            day += timedelta(days=1)
        return None


def welcome(identity_number: Expect = Expect.PERSONAL_NUMBER, offer: str | None = None) -> Turn:
    """The first prompt; with ``offer``, one sentence in that language says how to switch."""
    state = CallState(offer=offer)
    said = (Say("welcome"), *_offer(state), Say(f"prompt.{identity_number.value}"))
    return Turn(state, said, identity_number)


def already_reported(recording: Turn, covering: AbsencePeriod, context: CallContext) -> Turn:
    """``recording`` was not recorded: ``covering``, an earlier report of the pupil, holds
    it whole. Said instead of the read-back (the edge decides to whom); the call goes on."""
    assert recording.record is not None, "a turn that records"
    said = (Say("already_reported", {"period": covering}), _prompt(recording.state, context))
    return replace(recording, say=said, record=None)


def refuse(reason: str) -> Turn:
    """End a call before it starts, e.g. ``refused.hidden_number``."""
    return Turn(CallState(step=Step.ENDED), (Say(f"refused.{reason}"), Say("goodbye")), None)


def step(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if state.step is Step.ENDED:
        return Turn(state, (Say("goodbye"),), None)
    if isinstance(keys, Help):
        return _ask(state, context, _help(state, context))
    if isinstance(keys, Restart):
        return _ask(state.next_report(), context, Say("restart"))
    if isinstance(keys, Silence):
        if state.step is Step.ANOTHER:
            return _goodbye(state)
        return _miss(state, Say("no_input"), context)
    if isinstance(keys, Invalid):
        return _miss(state, _error(state.step, keys, context), context)
    return _STEPS[state.step](state, keys, context)


def _texts(current: Step, context: CallContext) -> str:
    """The step's name in the catalogue: the pupil's number is the country's kind."""
    if current is Step.PERSONAL_NUMBER:
        return context.identity_number.value
    return current.value


_DATE_ORDER_WORDS: Mapping[DateOrder, Mapping[str, object]] = {
    order: {"date_order": Phrase(f"date_order.{order}")} for order in DateOrder
}


def _date_values(context: CallContext) -> Mapping[str, object]:
    """How the prompt says dates are keyed ("year, month, day"), by the catalogue's words."""
    return _DATE_ORDER_WORDS[context.date_order]


def _help(state: CallState, context: CallContext) -> Say:
    """Help for the step, with a date example that is valid on the day of the call."""
    example = context.rules.today + timedelta(days=1)
    keys = " ".join(context.date_order.keys(example))
    values = {"example_date": example, "example_keys": keys, **_date_values(context)}
    return Say(f"help.{_texts(state.step, context)}", values)


def _prompt(state: CallState, context: CallContext) -> Say:
    if state.step is Step.NOT_SCHOOL_DAY:
        day = state.period.start_date
        next_day = _next_school_day_for(state, context)
        if next_day is None:
            return Say("prompt.not_school_days")
        return Say("prompt.not_school_day", {"day": day, "next_day": next_day})
    return Say(f"prompt.{_texts(state.step, context)}", _date_values(context))


def _offer(state: CallState) -> tuple[Say, ...]:
    """The sentence, in the other language, that offers it: on the pupil's-number prompt
    until the first report, if the number offers another language."""
    if state.offer is None or state.step is not Step.PERSONAL_NUMBER or state.reports:
        return ()
    return (Say("offer_language", {"key": LANGUAGE_KEY}, language=state.offer),)


def _listen(state: CallState, context: CallContext) -> Expect:
    expect = expects(state.step, context)
    assert expect is not None, "a step that listens"
    return expect


def _ask(state: CallState, context: CallContext, *before: Say) -> Turn:
    said = (*before, *_offer(state), _prompt(state, context))
    return Turn(state, said, _listen(state, context))


def _advance(state: CallState, next_step: Step, context: CallContext, **changes: Any) -> Turn:
    return _ask(replace(state, step=next_step, failures=0, **changes), context)


def _goodbye(state: CallState) -> Turn:
    return Turn(replace(state, step=Step.ENDED), (Say("goodbye"),), None)


def _miss(state: CallState, error: Say, context: CallContext) -> Turn:
    failures = state.failures + 1
    if failures >= context.max_failures:
        ended = replace(state, step=Step.ENDED, failures=failures)
        return Turn(ended, (error, Say("too_many_failures"), Say("goodbye")), None)
    return _ask(replace(state, failures=failures), context, error)


_SPOKEN_PROBLEMS: Mapping[Step, frozenset[KeyProblem]] = {
    Step.PERSONAL_NUMBER: frozenset({KeyProblem.NO_SUCH_DATE, KeyProblem.CHECK_DIGIT}),
    Step.START: frozenset({KeyProblem.NO_SUCH_DATE}),
    Step.END_DATE: frozenset({KeyProblem.NO_SUCH_DATE}),
    Step.START_TIME: frozenset({KeyProblem.NO_SUCH_TIME}),
    Step.END_TIME: frozenset({KeyProblem.NO_SUCH_TIME}),
}
_ONE_KEY_STEPS = frozenset({Step.ANOTHER, Step.NOT_SCHOOL_DAY})


def _error(current: Step, keys: Invalid, context: CallContext) -> Say:
    """The message for a wrong entry. A problem the step cannot have (letters, which only a
    forged request carries) is answered with what the step expects. A personal number that
    is no valid one is read back in groups, so the caller can find the wrong digit."""
    if current in _ONE_KEY_STEPS:
        return Say(f"error.{current}.wrong_key")
    problem = keys.problem
    if problem not in _SPOKEN_PROBLEMS.get(current, frozenset()):
        problem = KeyProblem.WRONG_LENGTH
    values: dict[str, object] = {"number": DigitGroups.of_identity_number(keys.keys)}
    return Say(f"error.{_texts(current, context)}.{problem}", values)


def _wrong_key(state: CallState, context: CallContext) -> Turn:
    return _miss(state, _error(state.step, Invalid(KeyProblem.WRONG_LENGTH), context), context)


def _period_problem(state: CallState, problem: PeriodProblem, context: CallContext) -> Turn:
    params = {"last_day": context.rules.last_reportable_day}
    return _miss(state, Say(f"error.{state.step}.{problem}", params), context)


def _report(state: CallState, period: AbsencePeriod, context: CallContext) -> Turn:
    """Record ``period``; but if no day of it is a school day, say so and ask first."""
    if any(context.is_school_day(day) for day in period.days()):
        return _record(state, period, context)
    asking = replace(
        state,
        step=Step.NOT_SCHOOL_DAY,
        failures=0,
        start_date=period.start_date,
        start_time=period.start_time,
        end_date=period.end_date,
        end_time=period.end_time,
    )
    if period.is_single_day:
        notice = Say("notice.not_a_school_day", {"date": period.start_date})
    else:
        notice = Say("notice.no_school_days", {"start": period.start_date, "end": period.end_date})
    return _ask(asking, context, notice)


def _record(state: CallState, period: AbsencePeriod, context: CallContext) -> Turn:
    assert state.pupil_id is not None, "a report always has a pupil by now"
    number = state.reports + 1
    report = Report(pupil_id=state.pupil_id, period=period, number_in_call=number)
    after = CallState(step=Step.ANOTHER, reports=number, unknown_pupils=state.unknown_pupils)
    said = (
        Say("recorded", {"period": period}),
        Say("confirmation_sent"),
        _prompt(after, context),
    )
    return Turn(after, said, Expect.ONE_KEY, record=report)


def _switch_language(state: CallState, context: CallContext) -> Turn:
    """Speak the offered language from now on, and offer the way back."""
    assert state.offer is not None
    switched = replace(state, failures=0, offer=context.language)
    said = (Say("welcome"), *_offer(switched), _prompt(switched, context))
    return Turn(switched, said, _listen(switched, context), language=state.offer)


def _on_personal_number(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, KnownPupil):
        return _advance(state, Step.START, context, pupil_id=keys.pupil_id)
    if isinstance(keys, UnknownPupil):
        unknown = state.unknown_pupils + 1
        counted = replace(state, unknown_pupils=unknown)
        error = Say(f"error.{_texts(state.step, context)}.unknown_pupil")
        if unknown >= context.max_unknown_pupils:
            said = (error, Say("too_many_failures"), Say("goodbye"))
            return Turn(replace(counted, step=Step.ENDED), said, None)
        return _miss(counted, error, context)
    if isinstance(keys, OneKey) and keys.key == LANGUAGE_KEY and _offer(state):
        return _switch_language(state, context)
    return _wrong_key(state, context)


def _on_start(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, Nine):
        return _report(state, AbsencePeriod.whole_day(context.rules.today), context)
    if isinstance(keys, DateKeys):
        problem = context.rules.check_start_date(keys.value)
        if problem is not None:
            return _period_problem(state, problem, context)
        return _advance(state, Step.START_TIME, context, start_date=keys.value)
    return _wrong_key(state, context)


def _on_start_time(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, Nine):
        return _advance(state, Step.END_DATE, context, start_time=None)
    if isinstance(keys, TimeKeys):
        return _advance(state, Step.END_DATE, context, start_time=keys.value)
    return _wrong_key(state, context)


def _on_end_date(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    assert state.start_date is not None, "END_DATE comes after START"
    if isinstance(keys, Nine):
        return _advance(state, Step.END_TIME, context, end_date=state.start_date)
    if isinstance(keys, DateKeys):
        problem = context.rules.check_end_date(state.start_date, keys.value)
        if problem is not None:
            return _period_problem(state, problem, context)
        return _advance(state, Step.END_TIME, context, end_date=keys.value)
    return _wrong_key(state, context)


def _on_end_time(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    assert state.start_date is not None and state.end_date is not None, "END_TIME comes last"
    if isinstance(keys, Nine):
        end_time = None
    elif isinstance(keys, TimeKeys):
        problem = ReportingRules.check_end_time(
            state.start_date, state.start_time, state.end_date, keys.value
        )
        if problem is not None:
            return _period_problem(state, problem, context)
        end_time = keys.value
    else:
        return _wrong_key(state, context)
    period = AbsencePeriod(state.start_date, state.start_time, state.end_date, end_time)
    return _report(state, period, context)


def _next_school_day_for(state: CallState, context: CallContext) -> date | None:
    """The school day offered instead: only for a report of one whole day."""
    period = state.period
    if not (period.is_single_day and period.is_whole_days):
        return None
    return context.next_school_day(period.start_date)


def _on_not_school_day(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, OneKey) and keys.key == KEEP_KEY:
        return _record(state, state.period, context)
    if isinstance(keys, OneKey) and keys.key == NEXT_SCHOOL_DAY_KEY:
        next_day = _next_school_day_for(state, context)
        if next_day is not None:
            return _record(state, AbsencePeriod.whole_day(next_day), context)
    return _wrong_key(state, context)


def _on_another(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, OneKey) and keys.key == ANOTHER_PUPIL_KEY:
        return _ask(state.next_report(), context)
    return _wrong_key(state, context)


_STEPS: Mapping[Step, Callable[[CallState, FlowInput, CallContext], Turn]] = {
    Step.PERSONAL_NUMBER: _on_personal_number,
    Step.START: _on_start,
    Step.START_TIME: _on_start_time,
    Step.END_DATE: _on_end_date,
    Step.END_TIME: _on_end_time,
    Step.NOT_SCHOOL_DAY: _on_not_school_day,
    Step.ANOTHER: _on_another,
}
