"""Requests signed as Twilio signs its webhooks: ``X-Twilio-Signature`` over the full URL
(with its query) and the POST parameters, computed with the account's auth token."""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import httpx
from twilio.request_validator import RequestValidator

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Loading the certificate store costs about 40 ms of CPU per client; a webhook's client is
# short-lived, so they share one TLS context, made once.
_TLS = ssl.create_default_context()


def webhook_client(timeout: float) -> httpx.AsyncClient:
    """A client for the webhooks the local providers post, as Twilio would."""
    return httpx.AsyncClient(timeout=timeout, verify=_TLS)


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
