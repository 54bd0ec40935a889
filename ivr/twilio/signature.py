"""Checking that a webhook really comes from Twilio (``X-Twilio-Signature``)."""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from twilio.request_validator import RequestValidator

from ivr import metrics

log = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

# What a webhook route answers besides its success, for its OpenAPI document.
WEBHOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not a webhook of a call: a field such as `CallSid` is missing."},
    403: {"description": "The `X-Twilio-Signature` does not match."},
    413: {"description": "The request is larger than any webhook."},
    415: {"description": "Not `application/x-www-form-urlencoded`."},
}


def public_url(base_url: str, request: Request) -> str:
    """The URL the provider called, rebuilt from ``IVR_PUBLIC_BASE_URL`` and never from
    request headers (``Host``, ``X-Forwarded-*``) that anyone can set."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{base_url}{request.scope['path']}" + (f"?{query}" if query else "")


class _Fields(dict[str, list[str]]):
    """Form fields with every value of each, read by twilio's signature code through
    ``getall`` (its first choice, so it needs no fallbacks per field)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def signature_matches(
    validator: RequestValidator, url: str, fields: _Fields, signature: str
) -> bool:
    """Twilio signs the URL it called; behind some proxies it is signed with the default
    port written out (``:443``) or left out, so ``validate`` tries both. The URL as
    configured is almost always the one: try it alone first."""
    if hmac.compare_digest(validator.compute_signature(url, fields), signature):
        return True
    return bool(validator.validate(url, fields, signature))


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form fields, once its signature has been checked; 403 if it fails.

    Called by each webhook route itself (not as a FastAPI dependency, whose resolution
    costs more than the rest of the parsing): every webhook pays for this.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        raise HTTPException(status_code=415, detail=f"expected {FORM_CONTENT_TYPE}")
    # As Starlette's own form parser does: bytes as Latin-1, escapes as UTF-8.
    body = (await request.body()).decode("latin-1")
    fields = _Fields()
    for name, value in parse_qsl(body, keep_blank_values=True, errors="replace"):
        if "\x00" in value or "\x00" in name:
            raise HTTPException(status_code=400, detail="NUL characters are not accepted")
        fields.setdefault(name, []).append(value)
    validator: RequestValidator = request.app.state.validator
    url = public_url(request.app.state.settings.public_base_url, request)
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not signature_matches(validator, url, fields, signature):
        log.warning("refused webhook with a bad signature", extra={"path": request.url.path})
        metrics.BAD_SIGNATURES.labels(request.url.path).inc()
        raise HTTPException(status_code=403, detail="invalid signature")
    return {name: values[-1] for name, values in fields.items()}


def form_body(*names: str) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of a webhook: a form with (at least) the fields ``names``,
    all strings, as Twilio posts them; the route reads them with ``signed_form``."""
    return {
        "required": True,
        "content": {
            FORM_CONTENT_TYPE: {
                "schema": {
                    "type": "object",
                    "properties": {name: {"type": "string"} for name in names},
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    }
