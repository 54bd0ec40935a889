"""One webhook of a call: load the call, step the flow, record, save, answer with TwiML.

Each webhook is one transaction. A repeated webhook (the provider retrying, or the same
request reaching two processes) answers a prompt that has already been answered; it gets
the same TwiML again and changes nothing. The database decides which copy wins: the call
row moves on only from the prompt number it was at, and an absence is unique per call and
report number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ivr import metrics
from ivr.domain.absence import ReportingRules
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
from ivr.i18n.lookup import Catalogues
from ivr.reports import record_report
from ivr.settings import Settings
from ivr.store.calls import (
    add_call,
    advance_call,
    find_call,
    record_status,
    unknown_pupils_from,
)
from ivr.store.db import Database
from ivr.store.lines import Line, OrganisationRules, find_line, organisation_rules
from ivr.store.roster import find_pupil_id
from ivr.voice.twiml import Speaker, VoiceChoice, render, say_and_hang_up, voice_for

log = logging.getLogger(__name__)

STEP_PATH = "/twilio/voice/step"
ORGANISATION_CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Answer:
    """The TwiML to answer with, and for logs and metrics: the step the call was at and
    how the webhook went (``ok``, ``repeat``, ``refused``, ``unavailable``)."""

    twiml: str
    absence_reference: str | None = None
    step: str = ""
    outcome: str = "ok"


class _AlreadyAnswered(Exception):
    pass


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def step_url(prompt_no: int) -> str:
    return f"{STEP_PATH}?prompt={prompt_no}"


class CallHandler:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        catalogues: Catalogues,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.database = database
        self.catalogues = catalogues
        self.clock = clock
        self.on_recorded: Callable[[], None] = lambda: None
        self._organisations: dict[int, tuple[OrganisationRules, float]] = {}
        self._voices = {
            language: VoiceChoice(choice.voice, choice.language)
            for language, choice in settings.voices.items()
        }
        self._speakers: dict[str, Speaker] = {}

    def _speaker(self, language: str) -> Speaker:
        """A language's catalogue and voice (``IVR_VOICES`` over the catalogue's)."""
        speaker = self._speakers.get(language)
        if speaker is None:
            catalogue = self.catalogues(language)
            speaker = Speaker(catalogue, voice_for(catalogue, self._voices))
            self._speakers[language] = speaker
        return speaker

    def _render(self, turn: Turn, language: str, prompt_no: int) -> str:
        """The turn as TwiML, in ``language`` or the one the caller has just chosen."""
        return render(
            turn,
            self._speaker,
            turn.language or language,
            step_url(prompt_no),
            self.settings.gather_timeout_seconds,
        )

    # --- a call comes in ------------------------------------------------------------------

    async def incoming(self, call_sid: str, caller: str, called: str) -> Answer:
        try:
            return await self.database.run_core(
                lambda connection: self._incoming(connection, call_sid, caller, called),
                within=self.settings.webhook_deadline_seconds,
            )
        except IntegrityError:
            return await self._repeat(call_sid)

    def _incoming(self, connection: Connection, call_sid: str, caller: str, called: str) -> Answer:
        existing = find_call(connection, call_sid)
        if existing is not None:
            return Answer(existing.last_twiml, step="incoming", outcome="repeat")
        now = self.clock()
        line = find_line(connection, _as_e164(called), caller)
        language = _language(line) or self.settings.language
        refused = self._refusal(connection, line, caller, now)
        if refused or line is None:
            turn = refuse(refused or "unknown_line")
        else:
            turn = welcome(country(line.country).identity_number, _offer(line, language))
        twiml = self._render(turn, language, 1)
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
        self, connection: Connection, line: Line | None, caller: str, now: datetime
    ) -> str | None:
        """Why the call is refused before its first prompt, if it is."""
        if line is None:
            return "unknown_line"
        if is_withheld(caller):
            if not self.settings.allow_hidden_caller_id:
                return "hidden_number"
            return None
        since = now - timedelta(minutes=self.settings.unknown_pupils_window_minutes)
        tried = unknown_pupils_from(connection, caller, since)
        if tried >= self.settings.max_unknown_pupils_per_caller:
            return "too_many_attempts"
        return None

    def unavailable(self) -> Answer:
        """The apology when the line cannot take the call now; needs no database."""
        return Answer(self._lost_call(), outcome="unavailable")

    # --- the caller keyed something (or nothing) ------------------------------------------

    async def answer(self, call_sid: str, prompt_no: int, digits: str | None) -> Answer:
        try:
            answer = await self.database.run_core(
                lambda connection: self._answer(connection, call_sid, prompt_no, digits),
                within=self.settings.webhook_deadline_seconds,
            )
        except (_AlreadyAnswered, IntegrityError):
            return await self._repeat(call_sid)
        if answer.absence_reference is not None:
            metrics.ABSENCES.inc()
            self.on_recorded()
        return answer

    def _answer(
        self, connection: Connection, call_sid: str, prompt_no: int, digits: str | None
    ) -> Answer:
        call = find_call(connection, call_sid)
        if call is None:
            return Answer(self._lost_call(), outcome="unknown_call")
        if call.prompt_no != prompt_no:
            return Answer(call.last_twiml, outcome="repeat")
        state = CallState.from_json(call.state)
        now = self.clock()
        organisation = self._organisation(connection, call.organisation_id)
        local_now = now.astimezone(_zone(organisation.timezone)) if organisation else now
        context = self._context(local_now.date(), organisation, call.language)
        keys = self._read(connection, state, digits, call.organisation_id, context)
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
                catalogue_for=self.catalogues,
            )
            reference = absence.reference
        twiml = self._render(turn, call.language, prompt_no + 1)
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
            raise _AlreadyAnswered
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

    def _organisation(
        self, connection: Connection, organisation_id: int | None
    ) -> OrganisationRules | None:
        """The organisation's time zone (it decides "today") and country, read at most
        once a minute."""
        if organisation_id is None:
            return None
        cached = self._organisations.get(organisation_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        rules = organisation_rules(connection, organisation_id)
        self._organisations[organisation_id] = (
            rules,
            time.monotonic() + ORGANISATION_CACHE_SECONDS,
        )
        return rules

    def _context(
        self, today: date, organisation: OrganisationRules | None, language: str
    ) -> CallContext:
        """What the flow needs to know, from the settings and the organisation's country."""
        rules = ReportingRules(today=today, horizon=self.settings.horizon)
        rules_of = country(organisation.country if organisation else self.settings.country)
        return CallContext(
            rules=rules,
            max_failures=self.settings.max_failures,
            max_unknown_pupils=self.settings.max_unknown_pupils_per_call,
            identity_number=rules_of.identity_number,
            date_order=rules_of.date_order,
            days_off=days_off(rules_of.code, today, rules.last_reportable_day),
            language=language,
        )

    def _read(
        self,
        connection: Connection,
        state: CallState,
        digits: str | None,
        organisation_id: int | None,
        context: CallContext,
    ) -> FlowInput:
        expect = expects(state.step, context)
        if expect is None or organisation_id is None:
            return Silence()
        keys = read_keys(digits, expect, context.rules.today, context.date_order)
        if not isinstance(keys, PersonalNumberKeys):
            return keys
        number_hash = keys.number.keyed_hash(self.settings.personal_number_key)
        pupil_id = find_pupil_id(connection, organisation_id, number_hash)
        return UnknownPupil() if pupil_id is None else KnownPupil(pupil_id)

    async def _repeat(self, call_sid: str) -> Answer:
        """Another copy of this webhook won: answer what it answered."""

        def last_answer(connection: Connection) -> str:
            call = find_call(connection, call_sid)
            return call.last_twiml if call is not None else self._lost_call()

        return Answer(
            await self.database.run_core(
                last_answer, within=self.settings.webhook_deadline_seconds
            ),
            outcome="repeat",
        )

    def _lost_call(self) -> str:
        speaker = self._speaker(self.catalogues.default.language)
        text = speaker.catalogue.text("speech.refused.unavailable")
        return say_and_hang_up(text, speaker.voice)

    # --- the provider reports the call's status -------------------------------------------

    async def status(self, call_sid: str, status: str, duration_seconds: int | None) -> None:
        ended = status in {"completed", "busy", "failed", "no-answer", "canceled"}
        now = self.clock()
        await self.database.run_core(
            lambda connection: record_status(
                connection, call_sid, status, duration_seconds, now if ended else None, now
            ),
            within=self.settings.webhook_deadline_seconds,
        )


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
