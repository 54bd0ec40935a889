"""One webhook of a call: load the call, step the flow, record, save, answer with TwiML.

Each webhook is one transaction. A repeated webhook (the provider retrying, or the same
request reaching two processes) answers a prompt that has already been answered; it gets
the same TwiML again and changes nothing. The database decides which copy wins: the call
row moves on only from the prompt number it was at, and an absence is unique per call and
report number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.absence import ReportingRules
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
from ivr.phone import InvalidPhoneNumber, is_withheld, mask, normalise
from ivr.reports import record_report
from ivr.settings import Settings
from ivr.store.calls import advance_call, find_call, record_status
from ivr.store.lines import Line, find_line
from ivr.store.models import Call, Organisation
from ivr.store.roster import find_pupil_id
from ivr.voice.twiml import render, say_and_hang_up

log = logging.getLogger(__name__)

STEP_PATH = "/twilio/voice/step"


@dataclass(frozen=True, slots=True)
class Answer:
    twiml: str
    absence_reference: str | None = None


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
        sessions: async_sessionmaker[AsyncSession],
        catalogues: Catalogues,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.catalogues = catalogues
        self.clock = clock
        self.on_recorded: Callable[[], None] = lambda: None

    def _render(self, turn: Turn, language: str, prompt_no: int) -> str:
        return render(
            turn,
            self.catalogues(language),
            step_url(prompt_no),
            self.settings.gather_timeout_seconds,
        )

    async def incoming(self, call_sid: str, caller: str, called: str) -> Answer:
        try:
            async with self.sessions() as session, session.begin():
                existing = await find_call(session, call_sid)
                if existing is not None:
                    return Answer(existing.last_twiml)
                line = await find_line(session, _as_e164(called))
                language = line.language if line else self.settings.language
                turn = self._first_turn(line, caller)
                twiml = self._render(turn, language, 1)
                session.add(
                    Call(
                        call_sid=call_sid,
                        organisation_id=line.organisation_id if line else None,
                        caller=caller,
                        called=called,
                        language=language,
                        state=turn.state.to_json(),
                        prompt_no=1,
                        last_twiml=twiml,
                        status="ended" if turn.hang_up else "in-progress",
                    )
                )
            log.info(
                "call started",
                extra={"call_sid": call_sid, "caller": mask(caller), "step": turn.state.step},
            )
            return Answer(twiml)
        except IntegrityError:
            return await self._repeat(call_sid)

    def _first_turn(self, line: Line | None, caller: str) -> Turn:
        if line is None:
            return refuse("unknown_line")
        if is_withheld(caller) and not self.settings.allow_hidden_caller_id:
            return refuse("hidden_number")
        return welcome()

    async def answer(self, call_sid: str, prompt_no: int, digits: str | None) -> Answer:
        try:
            async with self.sessions() as session, session.begin():
                call = await find_call(session, call_sid)
                if call is None:
                    return Answer(self._lost_call())
                if call.prompt_no != prompt_no:
                    return Answer(call.last_twiml)
                return await self._step(session, call, prompt_no, digits)
        except (_AlreadyAnswered, IntegrityError):
            return await self._repeat(call_sid)

    async def _step(
        self, session: AsyncSession, call: Call, prompt_no: int, digits: str | None
    ) -> Answer:
        state = CallState.from_json(call.state)
        organisation = (
            await session.get(Organisation, call.organisation_id) if call.organisation_id else None
        )
        now = self.clock()
        local_now = now.astimezone(_zone(organisation.timezone)) if organisation else now
        context = CallContext(
            rules=ReportingRules(today=local_now.date(), horizon_days=self.settings.horizon_days),
            max_failures=self.settings.max_failures,
            max_unknown_pupils=self.settings.max_unknown_pupils_per_call,
        )
        keys = await self._read(session, state, digits, organisation, context)
        turn = step(state, keys, context)
        reference = None
        if turn.record is not None and organisation is not None:
            absence = await record_report(
                session,
                organisation_id=organisation.id,
                pupil_id=turn.record.pupil_id,
                period=turn.record.period,
                caller=call.caller,
                call_sid=call.call_sid,
                number_in_call=turn.record.number_in_call,
                reported_at=local_now,
                catalogue_for=self.catalogues,
            )
            reference = absence.reference
            self.on_recorded()
        twiml = self._render(turn, call.language, prompt_no + 1)
        if not await advance_call(session, call.id, prompt_no, turn.state.to_json(), twiml):
            raise _AlreadyAnswered
        log.info(
            "call step",
            extra={
                "call_sid": call.call_sid,
                "step": state.step,
                "input": type(keys).__name__,
                "next": turn.state.step,
                "recorded": reference is not None,
            },
        )
        return Answer(twiml, reference)

    async def _read(
        self,
        session: AsyncSession,
        state: CallState,
        digits: str | None,
        organisation: Organisation | None,
        context: CallContext,
    ) -> FlowInput:
        expect = expects(state.step)
        if expect is None or organisation is None:
            return Silence()
        keys = read_keys(digits, expect, context.rules.today)
        if not isinstance(keys, PersonalNumberKeys):
            return keys
        number_hash = keys.number.keyed_hash(self.settings.personal_number_key)
        pupil_id = await find_pupil_id(session, organisation.id, number_hash)
        return UnknownPupil() if pupil_id is None else KnownPupil(pupil_id)

    async def _repeat(self, call_sid: str) -> Answer:
        """Another copy of this webhook won: answer what it answered."""
        async with self.sessions() as session, session.begin():
            call = await find_call(session, call_sid)
        return Answer(call.last_twiml if call is not None else self._lost_call())

    def _lost_call(self) -> str:
        catalogue = self.catalogues(None)
        return say_and_hang_up(catalogue.text("speech.refused.unavailable"), catalogue)

    async def status(self, call_sid: str, status: str, duration_seconds: int | None) -> None:
        ended = status in {"completed", "busy", "failed", "no-answer", "canceled"}
        async with self.sessions() as session, session.begin():
            await record_status(
                session, call_sid, status, duration_seconds, self.clock() if ended else None
            )


def _as_e164(number: str) -> str:
    try:
        return normalise(number, "SE")
    except InvalidPhoneNumber:
        return number.strip()
