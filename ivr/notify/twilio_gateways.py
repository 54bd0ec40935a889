"""SMS, calls and hanging up calls through Twilio's REST API, with the ``twilio`` library."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from twilio.base.exceptions import TwilioRestException

from ivr.notify.sending import Accepted, Outgoing, PermanentFailure, SendFailure, TemporaryFailure
from ivr.settings import Settings
from ivr.twilio.client import TwilioApi
from ivr.twilio.urls import (
    OUTREACH_CALL_PATH,
    OUTREACH_PARAMETER,
    OUTREACH_STATUS_PATH,
    SMS_STATUS_PATH,
)

log = logging.getLogger(__name__)

# Twilio errors that no retry will fix: not a valid number, unsubscribed (STOP), not a
# mobile, region not enabled, unreachable destination, message too long.
PERMANENT_TWILIO_CODES = frozenset({21211, 21610, 21614, 21408, 21612, 21617, 21606})
TWILIO_TOO_MANY_REQUESTS = 20429


class TwilioSmsGateway:
    """The Twilio Messages API through the ``twilio`` library, asynchronously."""

    channel = "sms"

    def __init__(self, settings: Settings) -> None:
        self.api = TwilioApi(settings)
        self.sender = (
            {"messaging_service_sid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"from_": settings.sms_from}
        )
        self.status_callback = f"{settings.public_base_url}{SMS_STATUS_PATH}"
        self.timeout = settings.send_timeout_seconds
        via = self.sender.get("messaging_service_sid") or settings.sms_from
        self.description = f"Twilio SMS from {via} via {self.api.base_url}"

    async def send(self, message: Outgoing) -> Accepted:
        async with _twilio_call(self.timeout):
            created = await self.api.client.messages.create_async(
                to=message.address,
                body=message.body,
                status_callback=f"{self.status_callback}?m={message.message_id}",
                **self.sender,
            )
        return Accepted(str(created.sid), str(created.status) if created.status else None)

    async def check(self) -> str | None:
        # Wrong credentials show at the first send (401, logged as an error there); asking
        # the API beforehand would cost a request at every start for the same answer.
        return None

    async def close(self) -> None:
        await self.api.close()


class TwilioCallGateway:
    """Outreach calls through Twilio's Calls API: the call fetches its TwiML from the line
    and reports its progress there; an answering machine is told apart (``AnsweredBy``)."""

    channel = "call"
    RING_SECONDS = 30

    def __init__(self, settings: Settings, api: TwilioApi | None = None) -> None:
        self.api = api or TwilioApi(settings)
        self.caller_id = settings.call_from or settings.sms_from
        self.base_url = settings.public_base_url
        self.timeout = settings.send_timeout_seconds
        self.description = f"Twilio calls from {self.caller_id} via {self.api.base_url}"

    async def send(self, message: Outgoing) -> Accepted:
        """``message.body`` is the sealed contact the call's URLs carry."""
        query = f"?{OUTREACH_PARAMETER}={message.body}"
        async with _twilio_call(self.timeout):
            created = await self.api.client.calls.create_async(
                to=message.address,
                from_=self.caller_id,
                url=f"{self.base_url}{OUTREACH_CALL_PATH}{query}",
                method="POST",
                status_callback=f"{self.base_url}{OUTREACH_STATUS_PATH}{query}",
                status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                machine_detection="Enable",
                timeout=self.RING_SECONDS,
            )
        return Accepted(str(created.sid), str(created.status) if created.status else None)

    async def check(self) -> str | None:
        return None

    async def close(self) -> None:
        await self.api.close()


# Twilio: the call is not in progress (it ended already): nothing left to end.
TWILIO_CALL_NOT_IN_PROGRESS = 21220


class TwilioHangupGateway:
    """Ends an outreach call in progress (``message.address`` is its CallSid)."""

    channel = "hangup"

    def __init__(self, settings: Settings, api: TwilioApi | None = None) -> None:
        self.api = api or TwilioApi(settings)
        self.timeout = settings.send_timeout_seconds
        self.description = f"Twilio: ending calls via {self.api.base_url}"

    async def send(self, message: Outgoing) -> Accepted:
        async with _twilio_call(self.timeout):
            try:
                call = await self.api.client.calls(message.address).update_async(status="completed")
            except TwilioRestException as error:
                if error.code == TWILIO_CALL_NOT_IN_PROGRESS or error.status == 404:
                    return Accepted(message.address, "already ended")
                raise
        return Accepted(str(call.sid), str(call.status) if call.status else None)

    async def check(self) -> str | None:
        return None

    async def close(self) -> None:
        await self.api.close()


@asynccontextmanager
async def _twilio_call(seconds: float) -> AsyncIterator[None]:
    """One request to Twilio within ``seconds``; what goes wrong becomes a send failure,
    for good or to try again."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TwilioRestException as error:
        raise _twilio_failure(error) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise TemporaryFailure(f"Twilio unreachable: {type(error).__name__}") from None


def _twilio_failure(error: TwilioRestException) -> SendFailure:
    code = error.code
    reason = f"Twilio {error.status}" + (f" error {code}" if code else "") + f": {error.msg}"
    if code in PERMANENT_TWILIO_CODES:
        return PermanentFailure(reason)
    if error.status == 429 or code == TWILIO_TOO_MANY_REQUESTS or error.status >= 500:
        return TemporaryFailure(reason)
    if error.status in (401, 403):
        # Wrong credentials are fixed by an operator, not by the recipient: keep the
        # message until someone does.
        log.error("Twilio refused our credentials", extra={"status": error.status, "code": code})
        return TemporaryFailure(reason)
    return PermanentFailure(reason)
