"""Absence events POSTed to a school's endpoint, signed as the Standard Webhooks
specification says (``standardwebhooks``): ``webhook-id`` (the same on every attempt at one
event), ``webhook-timestamp`` (this attempt, in seconds) and ``webhook-signature``
(``v1,`` and the HMAC-SHA256 of ``id.timestamp.body`` under the endpoint's secret).

2xx: taken. 410 Gone: the receiver wants no more (the endpoint is disabled). Anything
else, a timeout or a refused connection is worth trying again later. Redirects are not
followed: an endpoint that moved is registered again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from ivr import __version__
from ivr.notify.sending import Accepted, PermanentFailure, TemporaryFailure
from ivr.settings import Settings

# Read of an answer's body at most (then the connection goes back to the pool).
_LONGEST_ANSWER = 64 * 1024


@dataclass(frozen=True, slots=True)
class WebhookPost:
    url: str
    secret: str
    webhook_id: str
    body: str


class EndpointGone(PermanentFailure):
    """The receiver answered 410 Gone: it takes no more events."""


class EndpointUnreachable(TemporaryFailure):
    """No answer in time, or no connection: the endpoint as a whole, not this event."""


class WebhookGateway:
    channel = "webhook"

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.timeout = settings.webhook_timeout_seconds
        self.clock = clock
        concurrency = settings.webhook_concurrency
        self.client = httpx.AsyncClient(
            timeout=self.timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=False,
            headers={"user-agent": f"ivr-absence-line/{__version__} (absence webhooks)"},
        )
        self.description = (
            f"absence webhooks: at most {concurrency} at once, {self.timeout:g} s to answer"
        )

    def headers(self, post: WebhookPost) -> dict[str, str]:
        """The Standard Webhooks headers of one attempt, signed now."""
        now = self.clock().astimezone(UTC)
        return {
            "content-type": "application/json",
            "webhook-id": post.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(post.secret).sign(post.webhook_id, now, post.body),
        }

    async def send(self, post: WebhookPost) -> Accepted:
        try:
            # The client's timeout is per read; this one is for the whole answer.
            async with asyncio.timeout(self.timeout):
                status = await self._post(post)
        except (TimeoutError, httpx.TimeoutException):
            raise EndpointUnreachable(f"no answer within {self.timeout:g} s") from None
        except httpx.ConnectError as error:
            raise EndpointUnreachable(f"could not connect: {error or 'refused'}") from None
        except httpx.HTTPError as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from None
        if 200 <= status < 300:
            return Accepted(post.webhook_id, str(status))
        if status == 410:
            raise EndpointGone("410 Gone: the receiver takes no more events; endpoint disabled")
        raise TemporaryFailure(f"HTTP {status}")

    async def _post(self, post: WebhookPost) -> int:
        async with self.client.stream(
            "POST", post.url, content=post.body.encode(), headers=self.headers(post)
        ) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > _LONGEST_ANSWER:
                    break
            return response.status_code

    async def close(self) -> None:
        await self.client.aclose()
