"""Requests signed as Twilio signs its webhooks: ``X-Twilio-Signature`` over the full URL
(with its query) and the POST parameters, computed with the account's auth token."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from twilio.request_validator import RequestValidator

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def signed_headers(url: str, params: Mapping[str, str], auth_token: str) -> dict[str, str]:
    """The headers of a webhook Twilio posts to ``url`` with ``params``."""
    signature = RequestValidator(auth_token).compute_signature(url, dict(params))
    return {"X-Twilio-Signature": signature, "Content-Type": FORM_CONTENT_TYPE}


async def signed_post(
    client: httpx.AsyncClient, url: str, params: Mapping[str, str], auth_token: str
) -> httpx.Response:
    """Post ``params`` to ``url`` as a form, signed like a Twilio webhook."""
    return await client.post(
        url, data=dict(params), headers=signed_headers(url, params, auth_token)
    )
