"""Checking that a webhook really comes from Twilio (``X-Twilio-Signature``)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import UploadFile
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def public_url(base_url: str, request: Request) -> str:
    """The URL the provider called, rebuilt from ``IVR_PUBLIC_BASE_URL`` and never from
    request headers (``Host``, ``X-Forwarded-*``) that anyone can set."""
    query = request.url.query
    return f"{base_url}{request.url.path}" + (f"?{query}" if query else "")


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, once its signature has been checked; 403 if it fails."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        raise HTTPException(status_code=415, detail=f"expected {FORM_CONTENT_TYPE}")
    form = await request.form()
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise HTTPException(status_code=415, detail="file uploads are not accepted")
        fields[name] = value
    validator: RequestValidator = request.app.state.validator
    url = public_url(request.app.state.settings.public_base_url, request)
    signature = request.headers.get("x-twilio-signature", "")
    # The form itself, not ``fields``: a repeated field is signed with all its values.
    if not signature or not validator.validate(url, form, signature):
        log.warning("refused webhook with a bad signature", extra={"path": request.url.path})
        raise HTTPException(status_code=403, detail="invalid signature")
    return fields


TwilioForm = Annotated[dict[str, str], Depends(signed_form)]
