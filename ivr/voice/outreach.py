"""The voice edge of an outreach call: the line calls a guardian because a pupil is not at
school and nobody reported it (``ivr.services.missing``, ``ivr.flows.outreach``).

Twilio fetches the call's first TwiML when the guardian (or a machine) answers, then posts
each key the gather collects. Every URL carries the contact, sealed (``o``), and where the
call is (``at``: the step, how often the question was asked, misses); Twilio signs both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ivr.dtmf import Silence, read_keys
from ivr.flows import Say
from ivr.flows.outreach import (
    OutreachContext,
    OutreachState,
    OutreachStep,
    OutreachTurn,
    expects,
    first_turn,
    step,
    voicemail,
)
from ivr.i18n.lookup import Catalogues
from ivr.services.missing import answers
from ivr.services.missing.rules import missing_rules
from ivr.settings import Settings
from ivr.store.db import Database
from ivr.twilio.sealed import InvalidToken
from ivr.twilio.twiml import render, say_and_hang_up
from ivr.twilio.urls import OUTREACH_CALL_PATH, OUTREACH_PARAMETER
from ivr.voice.calls import speakers_of

log = logging.getLogger(__name__)

STATE_PARAMETER = "at"
_T = TypeVar("_T")


def _state_of(text: str) -> OutreachState:
    """``ask.1.0`` (step, times asked, misses); the first webhook has none."""
    if not text:
        return OutreachState()
    step_name, asked, failures = text.split(".")
    return OutreachState(OutreachStep(step_name), int(asked), int(failures))


def _state_text(state: OutreachState) -> str:
    return f"{state.step.value}.{state.asked}.{state.failures}"


class OutreachCalls:
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
        self.rules = missing_rules(settings)
        self._speaker = speakers_of(settings, catalogues)

    async def webhook(
        self,
        call_sid: str,
        token: str,
        at: str,
        digits: str | None,
        answered_by: str | None,
    ) -> str:
        """The TwiML for this moment of the call."""
        try:
            contact_id = self.rules.tokens.open(token)
            state = _state_of(at)
        except (InvalidToken, ValueError) as problem:
            log.warning("outreach webhook without its contact", extra={"reason": str(problem)})
            return self._goodbye(None)
        facts = await self._run(partial(answers.call_facts, contact_id=contact_id))
        if facts is None:
            return self._goodbye(None)
        now = self.clock()
        local = now.astimezone(ZoneInfo(facts.timezone))
        context = OutreachContext(facts.school, facts.first_name, local.time())
        if not at:
            if (answered_by or "").startswith(("machine", "fax")):
                turn = voicemail(context)
            elif not facts.open:
                turn = OutreachTurn(
                    OutreachState(OutreachStep.ENDED), (Say("outreach.resolved"),), None
                )
            else:
                turn = first_turn(context)
        else:
            expect = expects(state.step)
            keys = Silence() if expect is None else read_keys(digits, expect, local.date())
            turn = step(state, keys, context)  # type: ignore[arg-type]
        await self._record(turn, state, contact_id, now)
        return self._render(turn, facts.language, token)

    async def _record(
        self, turn: OutreachTurn, state: OutreachState, contact_id: int, now: datetime
    ) -> None:
        if turn.answer is not None:
            await self._run(
                partial(
                    answers.answer,
                    rules=self.rules,
                    contact_id=contact_id,
                    answer=turn.answer,
                    channel="call",
                    now=now,
                    record_now=False,
                )
            )
        if state.step is OutreachStep.BACK_AT and turn.listen is None:
            await self._run(
                partial(
                    answers.record_away,
                    rules=self.rules,
                    contact_id=contact_id,
                    back_at=turn.back_at,
                    now=now,
                )
            )

    async def status(self, call_sid: str, token: str, status: str, answered_by: str | None) -> None:
        try:
            contact_id = self.rules.tokens.open(token)
        except InvalidToken:
            log.warning("outreach status without its contact", extra={"call_sid": call_sid})
            return
        await self._run(
            partial(
                answers.call_status,
                rules=self.rules,
                contact_id=contact_id,
                call_sid=call_sid,
                status=status,
                answered_by=answered_by,
                now=self.clock(),
            )
        )

    async def _run(self, work: Callable[[Session], _T]) -> _T:
        return await self.database.run(work, within=self.settings.webhook_deadline_seconds)

    def _render(self, turn: OutreachTurn, language: str, token: str) -> str:
        query = f"?{OUTREACH_PARAMETER}={token}&{STATE_PARAMETER}={_state_text(turn.state)}"
        return render(
            turn,
            self._speaker,
            language,
            f"{OUTREACH_CALL_PATH}{query}",
            self.settings.gather_timeout_seconds,
        )

    def _goodbye(self, language: str | None) -> str:
        speaker = self._speaker(language or self.catalogues.default.language)
        return say_and_hang_up(speaker.catalogue.text("speech.goodbye"), speaker.voice)
