"""A call, one webhook at a time: each function is one unit of work on a connection whose
transaction the caller owns.

A repeated webhook (the provider retrying, or the same request reaching two processes)
answers a prompt that has already been answered; it gets the same TwiML again and changes
nothing. The database decides which copy wins: the call row moves on only from the prompt
number it was at (``AlreadyAnswered`` otherwise, and the transaction is rolled back), and
an absence is unique per call and report number.

What the caller hears is rendered by the provider edge (``Render``); it is stored with the
call so that a repeat can be answered the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from ivr import metrics
from ivr.domain.absence import Horizon, ReportingRules
from ivr.domain.countries import country
from ivr.domain.phone import InvalidPhoneNumber, is_withheld, mask, normalise
from ivr.domain.school_days import days_off
from ivr.dtmf import PersonalNumberKeys, Silence, read_keys
from ivr.flows import (
    CallContext,
    CallState,
    FlowInput,
    KnownPupil,
    Turn,
    UnknownPupil,
    expects,
    refuse,
    step,
    welcome,
)
from ivr.i18n import Catalogue
from ivr.services.reports import record_report
from ivr.settings import Settings
from ivr.store.calls import add_call, advance_call, find_call, record_status, unknown_pupils_from
from ivr.store.lines import Line, OrganisationRules, find_line
from ivr.store.roster import find_pupil_id

log = logging.getLogger(__name__)

Render = Callable[[Turn, str, int], str]
"""A turn as the provider's document: the turn, the call's language, the number of the
prompt its gather asks."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What to answer the provider with, and for logs and metrics: the step the call was
    at and how the webhook went (``ok``, ``repeat``, ``refused``, ``unavailable``)."""

    twiml: str
    absence_reference: str | None = None
    step: str = ""
    outcome: str = "ok"


class AlreadyAnswered(Exception):
    """Another copy of this webhook moved the call on first."""


class UnknownCall(LookupError):
    """A webhook for a call the line has no record of."""


@dataclass(frozen=True, slots=True)
class CallRules:
    """The settings a call follows."""

    language: str
    country: str
    horizon: Horizon
    max_failures: int
    max_unknown_pupils_per_call: int
    max_unknown_pupils_per_caller: int
    unknown_pupils_window: timedelta
    allow_hidden_caller_id: bool
    personal_number_key: bytes

    @classmethod
    def of(cls, settings: Settings) -> CallRules:
        return cls(
            language=settings.language,
            country=settings.country,
            horizon=settings.horizon,
            max_failures=settings.max_failures,
            max_unknown_pupils_per_call=settings.max_unknown_pupils_per_call,
            max_unknown_pupils_per_caller=settings.max_unknown_pupils_per_caller,
            unknown_pupils_window=timedelta(minutes=settings.unknown_pupils_window_minutes),
            allow_hidden_caller_id=settings.allow_hidden_caller_id,
            personal_number_key=settings.personal_number_key,
        )


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- a call comes in ----------------------------------------------------------------------


def start_call(
    connection: Connection,
    rules: CallRules,
    render: Render,
    call_sid: str,
    caller: str,
    called: str,
    now: datetime,
) -> Answer:
    """Greet the caller, or refuse the call; the call's first row, at prompt 1. A second
    copy of the same webhook gets the first one's answer (or fails on the unique
    ``call_sid`` if both insert at once)."""
    existing = find_call(connection, call_sid)
    if existing is not None:
        return Answer(existing.last_twiml, step="incoming", outcome="repeat")
    line = find_line(connection, _as_e164(called), caller)
    language = _language(line) or rules.language
    refused = _refusal(connection, rules, line, caller, now)
    if refused or line is None:
        turn = refuse(refused or "unknown_line")
    else:
        turn = welcome(country(line.country).identity_number, _offer(line, language))
    twiml = render(turn, language, 1)
    add_call(
        connection,
        call_sid=call_sid,
        organisation_id=line.organisation_id if line else None,
        caller=caller,
        called=called,
        language=language,
        state=turn.state.to_json(),
        twiml=twiml,
        status="refused" if refused else "in-progress",
        now=now,
        refused_reason=refused,
    )
    if refused:
        metrics.REFUSED_CALLS.labels(refused).inc()
    log.info(
        "call refused" if refused else "call started",
        extra={"call_sid": call_sid, "caller": mask(caller), "reason": refused},
    )
    return Answer(twiml, step="incoming", outcome="refused" if refused else "ok")


def _refusal(
    connection: Connection, rules: CallRules, line: Line | None, caller: str, now: datetime
) -> str | None:
    """Why the call is refused before its first prompt, if it is."""
    if line is None:
        return "unknown_line"
    if is_withheld(caller):
        return None if rules.allow_hidden_caller_id else "hidden_number"
    tried = unknown_pupils_from(connection, caller, now - rules.unknown_pupils_window)
    if tried >= rules.max_unknown_pupils_per_caller:
        return "too_many_attempts"
    return None


def _language(line: Line | None) -> str | None:
    """The language a call starts in: the calling guardian's, else the number's (else the
    organisation's, which ``find_line`` has already put in ``line.language``)."""
    if line is None:
        return None
    return line.caller_language or line.language


def _offer(line: Line, language: str) -> str | None:
    """The other language the first prompt offers, if the number offers one: its
    ``offer_language``, or the number's own language for a caller who starts in that. A
    guardian whose preferred language the call starts in is not offered another: the
    offer would only cost them time."""
    if line.offer_language is None or line.caller_language is not None:
        return None
    offer = line.offer_language if language != line.offer_language else line.language
    return None if offer == language else offer


def _as_e164(number: str) -> str:
    try:
        return normalise(number, "SE")
    except InvalidPhoneNumber:
        return number.strip()


# --- the caller keyed something (or nothing) ---------------------------------------------


def answer_call(
    connection: Connection,
    rules: CallRules,
    render: Render,
    organisation_rules: Callable[[Connection, int], OrganisationRules],
    catalogue_for: Callable[[str | None], Catalogue],
    call_sid: str,
    prompt_no: int,
    digits: str | None,
    now: datetime,
) -> Answer:
    """Step the call with what was keyed at prompt ``prompt_no``; record a report if the
    flow says so; save where the call is. ``AlreadyAnswered`` if another copy of this
    webhook won."""
    call = find_call(connection, call_sid)
    if call is None:
        raise UnknownCall(call_sid)
    if call.prompt_no != prompt_no:
        return Answer(call.last_twiml, outcome="repeat")
    state = CallState.from_json(call.state)
    organisation = (
        organisation_rules(connection, call.organisation_id) if call.organisation_id else None
    )
    local_now = now.astimezone(_zone(organisation.timezone)) if organisation else now
    context = call_context(rules, local_now.date(), organisation, call.language)
    keys = _read(connection, rules, state, digits, call.organisation_id, context)
    if isinstance(keys, UnknownPupil):
        metrics.UNKNOWN_PUPILS.inc()
    turn = step(state, keys, context)
    reference = None
    if turn.record is not None and call.organisation_id is not None:
        absence = record_report(
            connection,
            organisation_id=call.organisation_id,
            pupil_id=turn.record.pupil_id,
            period=turn.record.period,
            caller=call.caller,
            call_sid=call_sid,
            number_in_call=turn.record.number_in_call,
            reported_at=local_now,
            catalogue_for=catalogue_for,
        )
        reference = absence.reference
    twiml = render(turn, call.language, prompt_no + 1)
    saved = advance_call(
        connection,
        call.id,
        prompt_no,
        turn.state.to_json(),
        twiml,
        now,
        language=turn.language or call.language,
        unknown_pupils=turn.state.unknown_pupils,
    )
    if not saved:
        raise AlreadyAnswered
    log.info(
        "call step",
        extra={
            "call_sid": call_sid,
            "step": state.step,
            "input": type(keys).__name__,
            "next": turn.state.step,
            "recorded": reference is not None,
        },
    )
    return Answer(twiml, reference, step=state.step)


def call_context(
    rules: CallRules, today: date, organisation: OrganisationRules | None, language: str
) -> CallContext:
    """What the flow needs to know, from the settings and the organisation's country."""
    reporting = ReportingRules(today=today, horizon=rules.horizon)
    rules_of = country(organisation.country if organisation else rules.country)
    return CallContext(
        rules=reporting,
        max_failures=rules.max_failures,
        max_unknown_pupils=rules.max_unknown_pupils_per_call,
        identity_number=rules_of.identity_number,
        date_order=rules_of.date_order,
        days_off=days_off(rules_of.code, today, reporting.last_reportable_day),
        language=language,
    )


def _read(
    connection: Connection,
    rules: CallRules,
    state: CallState,
    digits: str | None,
    organisation_id: int | None,
    context: CallContext,
) -> FlowInput:
    """The keys as the flow takes them; a personal number as the pupil it is, if any."""
    expect = expects(state.step, context)
    if expect is None or organisation_id is None:
        return Silence()
    keys = read_keys(digits, expect, context.rules.today, context.date_order)
    if not isinstance(keys, PersonalNumberKeys):
        return keys
    number_hash = keys.number.keyed_hash(rules.personal_number_key)
    pupil_id = find_pupil_id(connection, organisation_id, number_hash)
    return UnknownPupil() if pupil_id is None else KnownPupil(pupil_id)


def last_answer(connection: Connection, call_sid: str) -> str | None:
    """What the call was last answered with (for a repeated webhook), if the call exists."""
    call = find_call(connection, call_sid)
    return call.last_twiml if call is not None else None


# --- the provider reports the call's status ------------------------------------------------

ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def call_status(
    connection: Connection, call_sid: str, status: str, duration: int | None, now: datetime
) -> None:
    record_status(connection, call_sid, status, duration, now if status in ENDED else None, now)
