"""The voice edge of a call: each webhook reads the call's progress from its URL, steps the
flow with what was keyed, and answers with TwiML whose gather carries the next progress.

The database is touched only where the call needs a fact or writes one (``ivr.services.calls``):
the call coming in, the personal number, the report, the status callback. A date, a time,
``#``, ``*`` or silence is answered from the progress alone, so a database that is down
mid-call costs the caller nothing until the report is to be written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache, partial
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from ivr import metrics
from ivr.dtmf import PersonalNumberKeys, Silence, read_keys
from ivr.flows import CallContext, FlowInput, Turn, already_reported, expects, step
from ivr.i18n.lookup import Catalogues
from ivr.services import calls
from ivr.services.calls import CallRules
from ivr.services.reports import AlreadyReported, Recorded, report_from_call
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.twilio.twiml import Speakers, VoiceChoice, render, say_and_hang_up
from ivr.voice.progress import CallProgress, InvalidProgress, ProgressTokens

log = logging.getLogger(__name__)

STEP_PATH = "/twilio/voice/step"
PROGRESS_PARAMETER = "s"


@dataclass(frozen=True, slots=True)
class Answer:
    """What to answer the provider with, and for logs and metrics: the step the call was
    at, how the webhook went (``ok``, ``repeat``, ``refused``, ``unavailable``,
    ``unknown_call``) and whether it needed the database."""

    twiml: str
    absence_reference: str | None = None
    step: str = ""
    outcome: str = "ok"
    touched_database: bool = False


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def speakers_of(settings: Settings, catalogues: Catalogues) -> Speakers:
    """Each language's catalogue and voice (``IVR_VOICES`` over the catalogue's)."""
    choices = {
        language: VoiceChoice(choice.voice, choice.language)
        for language, choice in settings.voices.items()
    }
    return Speakers(catalogues, choices)


class CallHandler:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        catalogues: Catalogues,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.rules = CallRules.of(settings)
        self.tokens = ProgressTokens(settings.personal_number_key)
        self.database = database
        self.catalogues = catalogues
        self.clock = clock
        self.on_recorded: Callable[[], None] = lambda: None
        self._speaker = speakers_of(settings, catalogues)

    def _render(
        self, turn: Turn, progress: CallProgress | None, call_sid: str, language: str
    ) -> str:
        """The turn as TwiML, in the call's language (or the one the caller has just
        chosen); its gather posts the call's next progress."""
        action = ""
        if turn.listen is not None and progress is not None:
            action = f"{STEP_PATH}?{PROGRESS_PARAMETER}={self.tokens.seal(progress, call_sid)}"
        return render(
            turn,
            self._speaker,
            turn.language or language,
            action,
            self.settings.gather_timeout_seconds,
        )

    # --- a call comes in ------------------------------------------------------------------

    async def incoming(self, call_sid: str, caller: str, called: str) -> Answer:
        start = await self.database.run_core(
            partial(
                calls.start_call,
                rules=self.rules,
                call_sid=call_sid,
                caller=caller,
                called=called,
                now=self.clock(),
            ),
            within=self.settings.webhook_deadline_seconds,
            atomic=False,
        )
        progress = None
        if start.line is not None and start.refused is None:
            progress = CallProgress(
                start.line.organisation_id,
                start.line.timezone,
                start.line.country,
                start.language,
                start.turn.state,
            )
        twiml = self._render(start.turn, progress, call_sid, start.language)
        outcome = "repeat" if start.repeat else "refused" if start.refused else "ok"
        return Answer(twiml, step="incoming", outcome=outcome, touched_database=True)

    # --- the caller keyed something (or nothing) ------------------------------------------

    async def answer(self, call_sid: str, token: str, digits: str | None, caller: str) -> Answer:
        try:
            progress = self.tokens.open(token, call_sid)
        except InvalidProgress as problem:
            log.warning(
                "webhook without this call's progress",
                extra={"call_sid": call_sid, "reason": str(problem)},
            )
            return Answer(self._lost_call(), outcome="unknown_call")
        now = self.clock()
        local_now = now.astimezone(_zone(progress.timezone))
        context = calls.call_context(
            self.rules, local_now.date(), progress.country, progress.language
        )
        state = progress.state
        keys, touched = await self._keys(progress, digits, call_sid, now, context)
        turn = step(state, keys, context)
        reference, outcome = None, "ok"
        if turn.record is not None:
            turn, reference, outcome = await self._record(
                turn, progress, caller, call_sid, local_now, context
            )
            touched = True
        following = replace(progress, language=turn.language or progress.language, state=turn.state)
        twiml = self._render(turn, following, call_sid, progress.language)
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
        return Answer(twiml, reference, step=state.step, outcome=outcome, touched_database=touched)

    async def _keys(
        self,
        progress: CallProgress,
        digits: str | None,
        call_sid: str,
        now: datetime,
        context: CallContext,
    ) -> tuple[FlowInput, bool]:
        """The keys as the flow takes them; a personal number as the pupil it is, if any
        (the one step before the report that needs the database)."""
        expect = expects(progress.state.step, context)
        if expect is None:
            return Silence(), False
        keys = read_keys(digits, expect, context.rules.today, context.date_order)
        if not isinstance(keys, PersonalNumberKeys):
            return keys, False
        pupil = await self.database.run_core(
            partial(
                calls.identify_pupil,
                rules=self.rules,
                organisation_id=progress.organisation_id,
                number=keys.number,
                call_sid=call_sid,
                now=now,
            ),
            within=self.settings.webhook_deadline_seconds,
            atomic=False,
        )
        return pupil, True

    async def _record(
        self,
        turn: Turn,
        progress: CallProgress,
        caller: str,
        call_sid: str,
        local_now: datetime,
        context: CallContext,
    ) -> tuple[Turn, str | None, str]:
        """Record what the turn says to, in one transaction; the turn as said after it."""
        report = turn.record
        assert report is not None
        try:
            outcome = await self.database.run_core(
                partial(
                    report_from_call,
                    organisation_id=progress.organisation_id,
                    pupil_id=report.pupil_id,
                    period=report.period,
                    caller=caller,
                    call_sid=call_sid,
                    number_in_call=report.number_in_call,
                    reported_at=local_now,
                    catalogue_for=self.catalogues,
                ),
                within=self.settings.webhook_deadline_seconds,
                atomic=False,
            )
        except IntegrityError:
            # Another copy of this webhook recorded it: answer as it did, without the report.
            return turn, None, "repeat"
        if isinstance(outcome, Recorded):
            metrics.ABSENCES.inc()
            self.on_recorded()
            return turn, outcome.reference, "ok"
        assert isinstance(outcome, AlreadyReported)
        if outcome.caller_may_know:
            return already_reported(turn, outcome.period, context), None, "already_reported"
        return turn, None, "already_reported"

    # --- the provider reports the call's status -------------------------------------------

    async def status(self, call_sid: str, status: str, duration_seconds: int | None) -> None:
        now = self.clock()
        await self.database.run_core(
            partial(
                calls.call_status,
                call_sid=call_sid,
                status=status,
                duration=duration_seconds,
                now=now,
            ),
            within=self.settings.webhook_deadline_seconds,
            atomic=False,
        )

    def unavailable(self) -> Answer:
        """The apology when the line cannot take the call now; needs no database."""
        return Answer(self._lost_call(), outcome="unavailable")

    def _lost_call(self) -> str:
        speaker = self._speaker(self.catalogues.default.language)
        text = speaker.catalogue.text("speech.refused.unavailable")
        return say_and_hang_up(text, speaker.voice)
