"""Twilio's delivery reports for the SMS we sent."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from ivr.store.outbox import record_provider_status
from ivr.twilio.signature import WEBHOOK_ERRORS, form_body, signed_form
from ivr.web.state import database_of, now_of

router = APIRouter(tags=["twilio"])


@router.post(
    "/twilio/sms/status",
    status_code=204,
    responses=WEBHOOK_ERRORS,
    openapi_extra={"requestBody": form_body("MessageSid", "MessageStatus", "ErrorCode")},
)
async def sms_status(request: Request) -> Response:
    """Message status callback: ``delivered``, ``undelivered`` or ``failed`` (and the steps
    before). The message is found by its ``MessageSid``."""
    form = await signed_form(request)
    message_sid = form.get("MessageSid", "").strip()
    status = form.get("MessageStatus", form.get("SmsStatus", "")).strip().lower()
    if not message_sid or not status:
        raise HTTPException(status_code=400, detail="missing MessageSid or MessageStatus")
    now = now_of(request)
    error_code = form.get("ErrorCode")
    await database_of(request).run(
        lambda session: record_provider_status(session, message_sid, status, error_code, now)
    )
    return Response(status_code=204)
