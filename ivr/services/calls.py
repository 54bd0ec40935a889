"""A call's units of work, each on a connection whose transaction the caller owns: the call
coming in, a personal number looked up, a report recorded, the call's end. Every other
step of a call (a date, a time, help, starting over, silence) needs no database: the
call's progress travels in the webhook URLs (``ivr.voice.progress``).

A repeated webhook (the provider retrying, or the same request reaching two processes)
recomputes the same answer from the same progress and keys. What it must not do twice is
decided by the database: a call's record is written once per ``CallSid`` (a second insert
does nothing), and an absence is unique per call and report number (a second one fails,
and its transaction is rolled back).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy.engine import Connection

from ivr import metrics
from ivr.domain.absence import Horizon, ReportingRules
from ivr.domain.countries import country
from ivr.domain.identity import IdentityNumber
from ivr.domain.phone import InvalidPhoneNumber, is_withheld, mask, normalise
from ivr.domain.school_days import days_off
from ivr.flows import CallContext, KnownPupil, Turn, UnknownPupil, refuse, welcome
from ivr.settings import Settings
from ivr.store.calls import add_call, count_unknown_pupil, record_status
from ivr.store.lines import Line, find_line
from ivr.store.roster import find_pupil_id

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class CallStart:
    """How a call begins: the first turn, in the call's language, on the dialled line (None
    when the number is no line's); ``refused`` says why a call ends before it starts, and
    ``repeat`` that this webhook came before."""

    turn: Turn
    language: str
    line: Line | None
    refused: str | None
    repeat: bool


# --- a call comes in ----------------------------------------------------------------------


def start_call(
    connection: Connection,
    rules: CallRules,
    call_sid: str,
    caller: str,
    called: str,
    now: datetime,
) -> CallStart:
    """Greet the caller, or refuse the call; the call's record, once."""
    line = find_line(connection, _as_e164(called), caller, now - rules.unknown_pupils_window)
    language = _language(line) or rules.language
    refused = _refusal(rules, line, caller)
    if refused or line is None:
        turn = refuse(refused or "unknown_line")
    else:
        turn = welcome(country(line.country).identity_number, _offer(line, language))
    added = add_call(
        connection,
        call_sid=call_sid,
        organisation_id=line.organisation_id if line else None,
        caller=caller,
        called=called,
        language=language,
        status="refused" if refused else "in-progress",
        now=now,
        refused_reason=refused,
    )
    if added:
        if refused:
            metrics.REFUSED_CALLS.labels(refused).inc()
        log.info(
            "call refused" if refused else "call started",
            extra={"call_sid": call_sid, "caller": mask(caller), "reason": refused},
        )
    return CallStart(turn, language, line, refused, repeat=not added)


def _refusal(rules: CallRules, line: Line | None, caller: str) -> str | None:
    """Why the call is refused before its first prompt, if it is."""
    if line is None:
        return "unknown_line"
    if is_withheld(caller):
        return None if rules.allow_hidden_caller_id else "hidden_number"
    if line.caller_tried >= rules.max_unknown_pupils_per_caller:
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


# --- the personal number ------------------------------------------------------------------


def identify_pupil(
    connection: Connection,
    rules: CallRules,
    organisation_id: int,
    number: IdentityNumber,
    call_sid: str,
    now: datetime,
) -> KnownPupil | UnknownPupil:
    """The pupil a valid personal number is in the organisation's roster; an unknown one
    is counted on the call's record (the per-caller limit adds them up)."""
    pupil_id = find_pupil_id(
        connection, organisation_id, number.keyed_hash(rules.personal_number_key)
    )
    if pupil_id is None:
        count_unknown_pupil(connection, call_sid, now)
        metrics.UNKNOWN_PUPILS.inc()
        return UnknownPupil()
    return KnownPupil(pupil_id)


# --- what the flow needs to know ---------------------------------------------------------


@lru_cache(maxsize=256)
def call_context(rules: CallRules, today: date, country_code: str, language: str) -> CallContext:
    """The flow's context on ``today`` (in the organisation's time zone): the reporting
    rules, the country's identity numbers, order of dates and days off. The same few all
    day: made once each."""
    reporting = ReportingRules(today=today, horizon=rules.horizon)
    rules_of = country(country_code)
    return CallContext(
        rules=reporting,
        max_failures=rules.max_failures,
        max_unknown_pupils=rules.max_unknown_pupils_per_call,
        identity_number=rules_of.identity_number,
        date_order=rules_of.date_order,
        days_off=days_off(rules_of.code, today, reporting.last_reportable_day),
        language=language,
    )


# --- the provider reports the call's status ------------------------------------------------

ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


def call_status(
    connection: Connection, call_sid: str, status: str, duration: int | None, now: datetime
) -> None:
    record_status(connection, call_sid, status, duration, now if status in ENDED else None, now)
