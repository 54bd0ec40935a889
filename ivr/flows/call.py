"""The call, key by key.

Every state, what it accepts and where it goes:

===============  ===========================  ==========================================
step             accepts                      then
===============  ===========================  ==========================================
PERSONAL_NUMBER  10 digits of a known pupil   START
START            9                            record today, whole day -> ANOTHER
START            YYMMDD (today..horizon)      START_TIME
START_TIME       HHMM, or 9 (start of day)    END_DATE
END_DATE         YYMMDD (>= start), or 9      END_TIME
END_TIME         HHMM after start, or 9       record -> ANOTHER
ANOTHER          1                            PERSONAL_NUMBER (a sibling, same call)
ANOTHER          silence                      goodbye
===============  ===========================  ==========================================

At every step ``#`` explains the step and asks again, ``*`` drops what this report has so
far and starts over at PERSONAL_NUMBER, silence asks again, and a wrong entry gets a
specific message and the step again. ``max_failures`` misses in a row at one step end the
call politely with nothing of that report saved.

Pure: the flow never looks anything up. The edge reads the keys (``ivr.dtmf``), looks up a
keyed personal number and passes ``KnownPupil`` or ``UnknownPupil`` in its place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from ivr.absence import AbsencePeriod, PeriodProblem, ReportingRules
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

ANOTHER_PUPIL_KEY = "1"


class Step(StrEnum):
    PERSONAL_NUMBER = "personal_number"
    START = "start"
    START_TIME = "start_time"
    END_DATE = "end_date"
    END_TIME = "end_time"
    ANOTHER = "another"
    ENDED = "ended"


_EXPECTS: Mapping[Step, Expect] = {
    Step.PERSONAL_NUMBER: Expect.PERSONAL_NUMBER,
    Step.START: Expect.DATE_OR_NINE,
    Step.START_TIME: Expect.TIME_OR_NINE,
    Step.END_DATE: Expect.DATE_OR_NINE,
    Step.END_TIME: Expect.TIME_OR_NINE,
    Step.ANOTHER: Expect.ONE_KEY,
}


def expects(current: Step) -> Expect | None:
    """What the prompt of ``current`` asks for; None once the call has ended."""
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
    reports: int = 0
    unknown_pupils: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "step": self.step.value,
                "failures": self.failures,
                "pupil_id": self.pupil_id,
                "start_date": _iso(self.start_date),
                "start_time": _iso(self.start_time),
                "end_date": _iso(self.end_date),
                "reports": self.reports,
                "unknown_pupils": self.unknown_pupils,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> CallState:
        data: dict[str, Any] = json.loads(text)
        return cls(
            step=Step(data["step"]),
            failures=int(data["failures"]),
            pupil_id=data["pupil_id"],
            start_date=_from_iso(date, data["start_date"]),
            start_time=_from_iso(time, data["start_time"]),
            end_date=_from_iso(date, data["end_date"]),
            reports=int(data["reports"]),
            unknown_pupils=int(data["unknown_pupils"]),
        )

    def next_report(self) -> CallState:
        """This report dropped or done: ask for a personal number, keep the call's counts."""
        return CallState(reports=self.reports, unknown_pupils=self.unknown_pupils)


def _iso(value: date | time | None) -> str | None:
    return None if value is None else value.isoformat()


_Moment = TypeVar("_Moment", date, time)


def _from_iso(kind: type[_Moment], text: str | None) -> _Moment | None:
    return None if text is None else kind.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Say:
    """One sentence from the language catalogue, by key, with the values it needs."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)


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

    @property
    def hang_up(self) -> bool:
        return self.listen is None


@dataclass(frozen=True, slots=True)
class CallContext:
    rules: ReportingRules
    max_failures: int = 3
    max_unknown_pupils: int = 3


def welcome() -> Turn:
    state = CallState()
    return Turn(state, (Say("welcome"), _prompt(Step.PERSONAL_NUMBER)), Expect.PERSONAL_NUMBER)


def refuse(reason: str) -> Turn:
    """End a call before it starts, e.g. ``refused.hidden_number``."""
    return Turn(CallState(step=Step.ENDED), (Say(f"refused.{reason}"), Say("goodbye")), None)


def step(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if state.step is Step.ENDED:
        return Turn(state, (Say("goodbye"),), None)
    if isinstance(keys, Help):
        return _ask(state, _help(state.step, context))
    if isinstance(keys, Restart):
        return _ask(state.next_report(), Say("restart"))
    if isinstance(keys, Silence):
        if state.step is Step.ANOTHER:
            return _goodbye(state)
        return _miss(state, Say("no_input"), context)
    if isinstance(keys, Invalid):
        return _miss(state, _error(state.step, keys.problem), context)
    return _STEPS[state.step](state, keys, context)


def _help(current: Step, context: CallContext) -> Say:
    """Help for the step, with a date example that is valid on the day of the call."""
    example = context.rules.today + timedelta(days=1)
    keys = " ".join(example.strftime("%y%m%d"))
    return Say(f"help.{current}", {"example_date": example, "example_keys": keys})


def _prompt(current: Step) -> Say:
    return Say(f"prompt.{current}")


def _ask(state: CallState, *before: Say) -> Turn:
    return Turn(state, (*before, _prompt(state.step)), _EXPECTS[state.step])


def _advance(state: CallState, next_step: Step, **changes: Any) -> Turn:
    return _ask(replace(state, step=next_step, failures=0, **changes))


def _goodbye(state: CallState) -> Turn:
    return Turn(replace(state, step=Step.ENDED), (Say("goodbye"),), None)


def _miss(state: CallState, error: Say, context: CallContext) -> Turn:
    failures = state.failures + 1
    if failures >= context.max_failures:
        ended = replace(state, step=Step.ENDED, failures=failures)
        return Turn(ended, (error, Say("too_many_failures"), Say("goodbye")), None)
    return _ask(replace(state, failures=failures), error)


_SPOKEN_PROBLEMS: Mapping[Step, frozenset[KeyProblem]] = {
    Step.PERSONAL_NUMBER: frozenset({KeyProblem.NO_SUCH_DATE, KeyProblem.CHECK_DIGIT}),
    Step.START: frozenset({KeyProblem.NO_SUCH_DATE}),
    Step.END_DATE: frozenset({KeyProblem.NO_SUCH_DATE}),
    Step.START_TIME: frozenset({KeyProblem.NO_SUCH_TIME}),
    Step.END_TIME: frozenset({KeyProblem.NO_SUCH_TIME}),
}


def _error(current: Step, problem: KeyProblem) -> Say:
    """The message for a wrong entry. A problem the step cannot have (letters, which only a
    forged request carries) is answered with what the step expects."""
    if current is Step.ANOTHER:
        return Say("error.another.wrong_key")
    if problem not in _SPOKEN_PROBLEMS.get(current, frozenset()):
        problem = KeyProblem.WRONG_LENGTH
    return Say(f"error.{current}.{problem}")


def _wrong_key(state: CallState, context: CallContext) -> Turn:
    return _miss(state, _error(state.step, KeyProblem.WRONG_LENGTH), context)


def _period_problem(state: CallState, problem: PeriodProblem, context: CallContext) -> Turn:
    params = {"days": context.rules.horizon_days, "last_day": context.rules.last_reportable_day}
    return _miss(state, Say(f"error.{state.step}.{problem}", params), context)


def _record(state: CallState, period: AbsencePeriod) -> Turn:
    assert state.pupil_id is not None, "a report always has a pupil by now"
    number = state.reports + 1
    report = Report(pupil_id=state.pupil_id, period=period, number_in_call=number)
    after = CallState(step=Step.ANOTHER, reports=number, unknown_pupils=state.unknown_pupils)
    said = (Say("recorded", {"period": period}), Say("confirmation_sent"), _prompt(Step.ANOTHER))
    return Turn(after, said, Expect.ONE_KEY, record=report)


def _on_personal_number(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, KnownPupil):
        return _advance(state, Step.START, pupil_id=keys.pupil_id)
    if isinstance(keys, UnknownPupil):
        unknown = state.unknown_pupils + 1
        counted = replace(state, unknown_pupils=unknown)
        if unknown >= context.max_unknown_pupils:
            said = (Say("error.personal_number.unknown_pupil"), Say("too_many_failures"))
            return Turn(replace(counted, step=Step.ENDED), (*said, Say("goodbye")), None)
        return _miss(counted, Say("error.personal_number.unknown_pupil"), context)
    return _wrong_key(state, context)


def _on_start(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, Nine):
        return _record(state, AbsencePeriod.whole_day(context.rules.today))
    if isinstance(keys, DateKeys):
        problem = context.rules.check_start_date(keys.value)
        if problem is not None:
            return _period_problem(state, problem, context)
        return _advance(state, Step.START_TIME, start_date=keys.value)
    return _wrong_key(state, context)


def _on_start_time(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, Nine):
        return _advance(state, Step.END_DATE, start_time=None)
    if isinstance(keys, TimeKeys):
        return _advance(state, Step.END_DATE, start_time=keys.value)
    return _wrong_key(state, context)


def _on_end_date(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    assert state.start_date is not None, "END_DATE comes after START"
    if isinstance(keys, Nine):
        return _advance(state, Step.END_TIME, end_date=state.start_date)
    if isinstance(keys, DateKeys):
        problem = context.rules.check_end_date(state.start_date, keys.value)
        if problem is not None:
            return _period_problem(state, problem, context)
        return _advance(state, Step.END_TIME, end_date=keys.value)
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
    return _record(state, period)


def _on_another(state: CallState, keys: FlowInput, context: CallContext) -> Turn:
    if isinstance(keys, OneKey) and keys.key == ANOTHER_PUPIL_KEY:
        return _ask(state.next_report())
    return _wrong_key(state, context)


_STEPS: Mapping[Step, Callable[[CallState, FlowInput, CallContext], Turn]] = {
    Step.PERSONAL_NUMBER: _on_personal_number,
    Step.START: _on_start,
    Step.START_TIME: _on_start_time,
    Step.END_DATE: _on_end_date,
    Step.END_TIME: _on_end_time,
    Step.ANOTHER: _on_another,
}
