"""Twilio Voice webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from ivr.voice.calls import STEP_PATH, Answer, CallHandler
from ivr.voice.signature import TwilioForm

TWIML = "text/xml; charset=utf-8"
ABSENCE_HEADER = "X-Absence-Reference"

router = APIRouter(tags=["twilio"])


def _calls(request: Request) -> CallHandler:
    handler: CallHandler = request.app.state.calls
    return handler


def _twiml(answer: Answer) -> Response:
    headers = {ABSENCE_HEADER: answer.absence_reference} if answer.absence_reference else None
    return Response(answer.twiml, media_type=TWIML, headers=headers)


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise HTTPException(status_code=400, detail=f"missing {name}")
    return value


@router.post("/twilio/voice", response_class=Response)
async def incoming_call(request: Request, form: TwilioForm) -> Response:
    """The number's "a call comes in" webhook: greet the caller, or refuse the call."""
    answer = await _calls(request).incoming(
        _required(form, "CallSid"), form.get("From", "").strip(), _required(form, "To")
    )
    return _twiml(answer)


@router.post(STEP_PATH, response_class=Response)
async def keys_entered(
    request: Request,
    form: TwilioForm,
    prompt: Annotated[int, Query(ge=1, le=10_000)],
) -> Response:
    """What the caller keyed at prompt number ``prompt`` (no ``Digits``: silence)."""
    answer = await _calls(request).answer(_required(form, "CallSid"), prompt, form.get("Digits"))
    return _twiml(answer)


@router.post("/twilio/voice/status", status_code=204)
async def call_status(request: Request, form: TwilioForm) -> Response:
    """Call status callback: the call was answered, completed, failed..."""
    duration = form.get("CallDuration", "")
    await _calls(request).status(
        _required(form, "CallSid"),
        _required(form, "CallStatus"),
        int(duration) if duration.isdigit() else None,
    )
    return Response(status_code=204)
