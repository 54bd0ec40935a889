"""Twilio's SMS webhooks: delivery reports for the messages the line sent, and the replies
that come in."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from twilio.twiml.messaging_response import MessagingResponse

from ivr.services.missing.answers import sms_reply
from ivr.services.missing.rules import Rules
from ivr.store.outbox import record_provider_status
from ivr.twilio.signature import WEBHOOK_ERRORS, form_body, signed_form
from ivr.twilio.urls import SMS_STATUS_PATH
from ivr.web.state import database_of, now_of

router = APIRouter(tags=["twilio"])
log = logging.getLogger(__name__)


@router.post(
    SMS_STATUS_PATH,
    status_code=204,
    responses=WEBHOOK_ERRORS,
    openapi_extra={"requestBody": form_body("MessageSid", "MessageStatus", "ErrorCode")},
)
async def sms_status(request: Request) -> Response:
    """Message status callback: ``delivered``, ``undelivered`` or ``failed`` (and the steps
    before). The message is found by the id in the callback's URL (which the signature
    covers), else by its ``MessageSid``."""
    form = await signed_form(request)
    message_sid = form.get("MessageSid", "").strip()
    status = form.get("MessageStatus", form.get("SmsStatus", "")).strip().lower()
    if not message_sid or not status:
        raise HTTPException(status_code=400, detail="missing MessageSid or MessageStatus")
    now = now_of(request)
    error_code = form.get("ErrorCode")
    named = request.query_params.get("m", "")
    message_id = int(named) if named.isdigit() else None
    await database_of(request).run(
        lambda session: record_provider_status(
            session, message_sid, status, error_code, now, message_id
        )
    )
    return Response(status_code=204)


SMS_INCOMING_PATH = "/twilio/sms/incoming"
TWIML = "text/xml; charset=utf-8"


@router.post(
    SMS_INCOMING_PATH,
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "TwiML: the reply, if any."},
        **WEBHOOK_ERRORS,
    },
    openapi_extra={"requestBody": form_body("MessageSid", "From", "To", "Body")},
)
async def sms_incoming(request: Request) -> Response:
    """The number's "a message comes in" webhook: a guardian's reply to a missing pupil's
    SMS (1: away today, 2: does not know where). The reply is answered in the same TwiML."""
    form = await signed_form(request)
    phone = form.get("From", "").strip()
    if not phone:
        raise HTTPException(status_code=400, detail="missing From")
    rules: Rules = request.app.state.missing_rules
    now = now_of(request)
    response = MessagingResponse()
    try:
        reply = await database_of(request).run(
            lambda session: sms_reply(
                session, rules, phone=phone, body=form.get("Body", ""), now=now
            )
        )
    except Exception as error:
        log.error("SMS reply not handled", extra={"error": type(error).__name__}, exc_info=True)
    else:
        if reply.text:
            response.message(reply.text)
    return Response(str(response.to_xml()), media_type=TWIML)
