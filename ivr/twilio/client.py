"""The Twilio REST API through the ``twilio`` library, asynchronously: the Messages API for
SMS now, the Calls API next."""

from __future__ import annotations

import logging

from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from ivr.settings import Settings


class TwilioApi:
    """The library's client on its asyncio HTTP client, pointed at
    ``IVR_TWILIO_API_BASE_URL`` (Twilio's, a proxy's, or the local providers')."""

    def __init__(self, settings: Settings) -> None:
        self.http = AsyncTwilioHttpClient()
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=self.http,
        )
        # The library logs every request with its parameters (numbers and texts): keep that
        # personal data out of the logs.
        logging.getLogger("twilio").setLevel(logging.WARNING)
        self.client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        self._closed = False

    @property
    def base_url(self) -> str:
        return str(self.client.api.base_url)

    async def close(self) -> None:
        """Close the HTTP client (once, whichever of its gateways asks first)."""
        if not self._closed:
            self._closed = True
            await self.http.close()
