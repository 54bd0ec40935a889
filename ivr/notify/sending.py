"""What a gateway is: a message handed to a provider, what the provider answered, and whether
a failure is worth retrying; and the development gateway that only logs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from ivr.domain.phone import mask

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outgoing:
    message_id: int
    channel: str
    address: str
    recipient_name: str
    subject: str | None
    body: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The provider took the message."""

    provider_id: str
    provider_status: str | None


class SendFailure(Exception):
    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(SendFailure):
    """Worth trying again later: the provider was down, slow, or asked us to slow down."""


class PermanentFailure(SendFailure):
    """No retry will help: the address is wrong or the recipient has opted out."""

    permanent = True


class Gateway(Protocol):
    channel: str
    description: str

    async def send(self, message: Outgoing) -> Accepted: ...

    async def check(self) -> str | None:
        """What keeps this gateway from sending, found without sending anything (a setting
        no retry can fix), or None."""
        ...

    async def close(self) -> None: ...


class LoggingGateway:
    """For development: logs that a message would be sent, and sends nothing."""

    def __init__(self, channel: str, why: str) -> None:
        self.channel = channel
        self.description = f"development gateway: {channel} is only logged ({why})"

    async def send(self, message: Outgoing) -> Accepted:
        log.info(
            "not sending (development gateway)",
            extra={
                "channel": self.channel,
                "message_id": message.message_id,
                "to": mask(message.address),
                "length": len(message.body),
            },
        )
        return Accepted(f"dev-{self.channel}-{message.message_id}", "sent")

    async def check(self) -> str | None:
        return None

    async def close(self) -> None:
        return None
