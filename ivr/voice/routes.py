"""Twilio Voice webhooks.

The provider never gets an error page: whatever goes wrong behind a webhook (the database
down, locked or slow past the deadline, a bug), the caller hears an apology and what to do
instead, and the call ends cleanly. Only a request that is not a valid webhook at all (no
signature, no ``CallSid``) gets a 4xx.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from ivr import metrics
from ivr.twilio.signature import WEBHOOK_ERRORS, form_body, signed_form
from ivr.twilio.urls import OUTREACH_CALL_PATH, OUTREACH_PARAMETER, OUTREACH_STATUS_PATH
from ivr.voice.calls import PROGRESS_PARAMETER, STEP_PATH, Answer, CallHandler
from ivr.voice.outreach import STATE_PARAMETER, OutreachCalls
from ivr.voice.progress import LONGEST_TOKEN

TWIML = "text/xml; charset=utf-8"
ABSENCE_HEADER = "X-Absence-Reference"
FALLBACK_PATH = "/twilio/voice/fallback"

log = logging.getLogger(__name__)

_TWIML_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/xml": {}}, "description": "TwiML for the provider."},
    **WEBHOOK_ERRORS,
}

_STEP_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": PROGRESS_PARAMETER,
            "in": "query",
            "required": True,
            "description": "The call's progress, sealed by the line in the gather's action "
            "(not readable, bound to the call).",
            "schema": {"type": "string", "maxLength": LONGEST_TOKEN},
        }
    ],
    "requestBody": form_body("CallSid", "From", "To", "Digits"),
}

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


async def _answer_or_apologise(
    calls: CallHandler, route: str, call_sid: str, work: Awaitable[Answer]
) -> Response:
    started = time.perf_counter()
    try:
        answer = await work
    except Exception as error:
        log.error(
            "webhook failed: the caller is asked to call again",
            extra={"call_sid": call_sid, "route": route, "error": type(error).__name__},
            exc_info=not isinstance(error, TimeoutError | OSError),
        )
        answer = calls.unavailable()
    metrics.labelled(metrics.WEBHOOKS, route, answer.step, answer.outcome).inc()
    if answer.touched_database:
        metrics.labelled(metrics.WEBHOOKS_WITH_DATABASE, route).inc()
    metrics.labelled(metrics.WEBHOOK_SECONDS, route).observe(time.perf_counter() - started)
    return _twiml(answer)


@router.post(
    "/twilio/voice",
    response_class=Response,
    responses=_TWIML_RESPONSE,
    openapi_extra={"requestBody": form_body("CallSid", "From", "To")},
)
async def incoming_call(request: Request) -> Response:
    """The number's "a call comes in" webhook: greet the caller, or refuse the call."""
    form = await signed_form(request)
    call_sid = _required(form, "CallSid")
    calls = _calls(request)
    work = calls.incoming(call_sid, form.get("From", "").strip(), _required(form, "To"))
    return await _answer_or_apologise(calls, "incoming", call_sid, work)


@router.post(
    STEP_PATH,
    response_class=Response,
    responses=_TWIML_RESPONSE,
    openapi_extra=_STEP_OPENAPI,
)
async def keys_entered(request: Request) -> Response:
    """What the caller keyed at the prompt whose gather posted here (no ``Digits``:
    silence). A request without this call's progress is answered with an apology."""
    form = await signed_form(request)
    call_sid = _required(form, "CallSid")
    calls = _calls(request)
    token = request.query_params.get(PROGRESS_PARAMETER, "")
    work = calls.answer(call_sid, token, form.get("Digits"), form.get("From", "").strip())
    return await _answer_or_apologise(calls, "step", call_sid, work)


@router.post(
    FALLBACK_PATH,
    response_class=Response,
    responses=_TWIML_RESPONSE,
    openapi_extra={"requestBody": form_body("CallSid", "ErrorCode")},
)
async def fallback(request: Request) -> Response:
    """The number's fallback URL, which the provider calls when the main webhook failed or
    timed out. Needs nothing but the settings: it works with the database down."""
    form = await signed_form(request)
    log.warning(
        "fallback webhook",
        extra={"call_sid": form.get("CallSid", ""), "error_code": form.get("ErrorCode", "")},
    )
    answer = _calls(request).unavailable()
    metrics.labelled(metrics.WEBHOOKS, "fallback", "", answer.outcome).inc()
    return _twiml(answer)


@router.post(
    "/twilio/voice/status",
    status_code=204,
    responses=WEBHOOK_ERRORS,
    openapi_extra={"requestBody": form_body("CallSid", "CallStatus", "CallDuration")},
)
async def call_status(request: Request) -> Response:
    """Call status callback: the call was answered, completed, failed..."""
    form = await signed_form(request)
    call_sid = _required(form, "CallSid")
    status = _required(form, "CallStatus")
    duration = form.get("CallDuration", "")
    metrics.labelled(metrics.WEBHOOKS, "status", "", "ok").inc()
    metrics.labelled(metrics.WEBHOOKS_WITH_DATABASE, "status").inc()
    try:
        await _calls(request).status(
            call_sid, status, int(duration) if duration.isdigit() and len(duration) < 9 else None
        )
    except Exception as error:  # noqa: BLE001 - a lost status report harms nobody
        log.error(
            "call status not recorded",
            extra={"call_sid": call_sid, "error": type(error).__name__},
        )
    return Response(status_code=204)


# --- outreach calls: the line calls a guardian about a missing pupil ------------------------

_OUTREACH_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": OUTREACH_PARAMETER,
            "in": "query",
            "required": True,
            "description": "The guardian called, sealed by the line (not readable).",
            "schema": {"type": "string", "maxLength": LONGEST_TOKEN},
        },
        {
            "name": STATE_PARAMETER,
            "in": "query",
            "required": False,
            "description": "Where the call is (step, times asked, misses); none at first.",
            "schema": {"type": "string", "maxLength": 40},
        },
    ],
    "requestBody": form_body("CallSid", "Digits", "AnsweredBy", "CallStatus"),
}


def _outreach(request: Request) -> OutreachCalls:
    handler: OutreachCalls = request.app.state.outreach
    return handler


@router.post(
    OUTREACH_CALL_PATH,
    response_class=Response,
    responses=_TWIML_RESPONSE,
    openapi_extra=_OUTREACH_OPENAPI,
)
async def outreach_call(request: Request) -> Response:
    """An outreach call: its first TwiML when answered (``AnsweredBy`` tells a machine
    apart), then each key the guardian presses."""
    form = await signed_form(request)
    call_sid = _required(form, "CallSid")
    params = request.query_params
    started = time.perf_counter()
    try:
        twiml = await _outreach(request).webhook(
            call_sid,
            params.get(OUTREACH_PARAMETER, ""),
            params.get(STATE_PARAMETER, ""),
            form.get("Digits"),
            form.get("AnsweredBy"),
        )
        outcome = "ok"
    except Exception as error:
        log.error(
            "outreach webhook failed: the guardian is asked to call the school",
            extra={"call_sid": call_sid, "error": type(error).__name__},
            exc_info=not isinstance(error, TimeoutError | OSError),
        )
        twiml, outcome = _calls(request).unavailable().twiml, "unavailable"
    metrics.labelled(metrics.WEBHOOKS, "outreach", "", outcome).inc()
    metrics.labelled(metrics.WEBHOOK_SECONDS, "outreach").observe(time.perf_counter() - started)
    return Response(twiml, media_type=TWIML)


@router.post(
    OUTREACH_STATUS_PATH,
    status_code=204,
    responses=WEBHOOK_ERRORS,
    openapi_extra={
        "parameters": _OUTREACH_OPENAPI["parameters"][:1],
        "requestBody": form_body("CallSid", "CallStatus", "AnsweredBy"),
    },
)
async def outreach_status(request: Request) -> Response:
    """An outreach call's status: ringing, answered, completed, busy, no answer..."""
    form = await signed_form(request)
    call_sid = _required(form, "CallSid")
    status = _required(form, "CallStatus")
    try:
        await _outreach(request).status(
            call_sid,
            request.query_params.get(OUTREACH_PARAMETER, ""),
            status,
            form.get("AnsweredBy"),
        )
    except Exception as error:  # noqa: BLE001 - the provider is answered whatever happens
        log.error(
            "outreach call status not recorded",
            extra={"call_sid": call_sid, "error": type(error).__name__},
        )
    return Response(status_code=204)
