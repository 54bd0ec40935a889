"""The voice edge of a call: each webhook is one unit of work of ``ivr.services.calls``,
run within the webhook's deadline, with what the caller hears rendered as TwiML.

A repeated webhook gets what the first copy was answered (``ivr.services.calls`` explains
how the database decides). This module keeps what every webhook would otherwise read
again: each organisation's time zone and country (for a minute), and each language's
catalogue and voice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ivr import metrics
from ivr.flows import Turn
from ivr.i18n.lookup import Catalogues
from ivr.services import calls
from ivr.services.calls import AlreadyAnswered, Answer, CallRules, UnknownCall
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.store.lines import OrganisationRules, organisation_rules
from ivr.twilio.twiml import Speaker, VoiceChoice, render, say_and_hang_up, voice_for

STEP_PATH = "/twilio/voice/step"
ORGANISATION_CACHE_SECONDS = 60.0


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
        self.rules = CallRules.of(settings)
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

    async def incoming(self, call_sid: str, caller: str, called: str) -> Answer:
        work = partial(
            calls.start_call,
            rules=self.rules,
            render=self._render,
            call_sid=call_sid,
            caller=caller,
            called=called,
            now=self.clock(),
        )
        try:
            return await self.database.run_core(work, within=self.settings.webhook_deadline_seconds)
        except IntegrityError:
            return await self._repeat(call_sid)

    async def answer(self, call_sid: str, prompt_no: int, digits: str | None) -> Answer:
        work = partial(
            calls.answer_call,
            rules=self.rules,
            render=self._render,
            organisation_rules=self._organisation,
            catalogue_for=self.catalogues,
            call_sid=call_sid,
            prompt_no=prompt_no,
            digits=digits,
            now=self.clock(),
        )
        try:
            answer = await self.database.run_core(
                work, within=self.settings.webhook_deadline_seconds
            )
        except UnknownCall:
            return Answer(self._lost_call(), outcome="unknown_call")
        except (AlreadyAnswered, IntegrityError):
            return await self._repeat(call_sid)
        if answer.absence_reference is not None:
            metrics.ABSENCES.inc()
            self.on_recorded()
        return answer

    async def status(self, call_sid: str, status: str, duration_seconds: int | None) -> None:
        now = self.clock()
        await self.database.run_core(
            lambda connection: calls.call_status(
                connection, call_sid, status, duration_seconds, now
            ),
            within=self.settings.webhook_deadline_seconds,
        )

    def unavailable(self) -> Answer:
        """The apology when the line cannot take the call now; needs no database."""
        return Answer(self._lost_call(), outcome="unavailable")

    def _organisation(self, connection: Connection, organisation_id: int) -> OrganisationRules:
        """The organisation's time zone (it decides "today") and country, read at most
        once a minute."""
        cached = self._organisations.get(organisation_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        rules = organisation_rules(connection, organisation_id)
        self._organisations[organisation_id] = (
            rules,
            time.monotonic() + ORGANISATION_CACHE_SECONDS,
        )
        return rules

    async def _repeat(self, call_sid: str) -> Answer:
        """Another copy of this webhook won: answer what it answered."""
        twiml = await self.database.run_core(
            lambda connection: calls.last_answer(connection, call_sid),
            within=self.settings.webhook_deadline_seconds,
        )
        return Answer(twiml or self._lost_call(), outcome="repeat")

    def _lost_call(self) -> str:
        speaker = self._speaker(self.catalogues.default.language)
        text = speaker.catalogue.text("speech.refused.unavailable")
        return say_and_hang_up(text, speaker.voice)
