"""Gateways that hand a message to a provider: SMS through Twilio, email over SMTP, and a
development gateway that only logs. Each says whether a failure is worth retrying."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Protocol

import aiohttp
import aiosmtplib
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from ivr.phone import mask
from ivr.settings import Settings

log = logging.getLogger(__name__)

# Twilio errors that no retry will fix: not a valid number, unsubscribed (STOP), not a
# mobile, region not enabled, unreachable destination, message too long.
PERMANENT_TWILIO_CODES = frozenset({21211, 21610, 21614, 21408, 21612, 21617, 21606})
TWILIO_TOO_MANY_REQUESTS = 20429


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

    async def close(self) -> None:
        return None


class TwilioSmsGateway:
    """The Twilio Messages API through the ``twilio`` library, asynchronously."""

    channel = "sms"

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
        self.sender = (
            {"messaging_service_sid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"from_": settings.sms_from}
        )
        self.status_callback = f"{settings.public_base_url}/twilio/sms/status"
        self.timeout = settings.send_timeout_seconds
        via = self.sender.get("messaging_service_sid") or settings.sms_from
        self.description = f"Twilio SMS from {via} via {self.client.api.base_url}"

    async def send(self, message: Outgoing) -> Accepted:
        try:
            async with asyncio.timeout(self.timeout):
                created = await self.client.messages.create_async(
                    to=message.address,
                    body=message.body,
                    status_callback=self.status_callback,
                    **self.sender,
                )
        except TwilioRestException as error:
            raise _twilio_failure(error) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise TemporaryFailure(f"Twilio unreachable: {type(error).__name__}") from None
        return Accepted(str(created.sid), str(created.status) if created.status else None)

    async def close(self) -> None:
        await self.http.close()


def _twilio_failure(error: TwilioRestException) -> SendFailure:
    code = error.code
    reason = f"Twilio {error.status}" + (f" error {code}" if code else "") + f": {error.msg}"
    if code in PERMANENT_TWILIO_CODES:
        return PermanentFailure(reason)
    if error.status == 429 or code == TWILIO_TOO_MANY_REQUESTS or error.status >= 500:
        return TemporaryFailure(reason)
    if error.status in (401, 403):
        # Wrong credentials are fixed by an operator, not by the recipient: keep the
        # message until someone does.
        log.error("Twilio refused our credentials", extra={"status": error.status, "code": code})
        return TemporaryFailure(reason)
    return PermanentFailure(reason)


class SmtpEmailGateway:
    """Email over SMTP with ``aiosmtplib``, over a few reused connections."""

    channel = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sender = settings.smtp_from
        self.idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self.slots = asyncio.Semaphore(settings.smtp_connections)
        implicit_tls = settings.smtp_port == 465
        self.description = (
            f"SMTP {settings.smtp_host}:{settings.smtp_port}"
            f"{' (TLS)' if implicit_tls else ' (STARTTLS)' if settings.smtp_starttls else ''}"
            f" from {self.sender}"
        )

    def _new_client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        implicit_tls = settings.smtp_port == 465
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            use_tls=implicit_tls,
            start_tls=settings.smtp_starttls if not implicit_tls else False,
            username=settings.smtp_username or None,
            password=settings.smtp_password.get_secret_value() or None,
            timeout=settings.send_timeout_seconds,
        )

    def compose(self, message: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = formataddr((message.recipient_name, message.address))
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(localtime=False)
        # IVR_SMTP_FROM may carry a display name: "Frånvaro <franvaro@example.org>".
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
        email["Message-ID"] = make_msgid(idstring=f"outbox-{message.message_id}", domain=domain)
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.body)
        return email

    async def send(self, message: Outgoing) -> Accepted:
        email = self.compose(message)
        async with self.slots:
            client, reused = await self._client()
            try:
                await client.send_message(email)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise TemporaryFailure("SMTP server closed the connection") from None
                # An idle connection the server had closed: once more on a fresh one.
                client, _reused = await self._client(fresh=True)
                await self._send_fresh(client, email)
            except aiosmtplib.SMTPException as error:
                await self._discard(client)
                raise _smtp_failure(error) from None
            except (OSError, TimeoutError) as error:
                await self._discard(client)
                raise TemporaryFailure(f"SMTP unreachable: {type(error).__name__}") from None
            self.idle.put_nowait(client)
        return Accepted(str(email["Message-ID"]), "sent")

    async def _send_fresh(self, client: aiosmtplib.SMTP, email: EmailMessage) -> None:
        try:
            await client.send_message(email)
        except aiosmtplib.SMTPException as error:
            await self._discard(client)
            raise _smtp_failure(error) from None
        except (OSError, TimeoutError) as error:
            await self._discard(client)
            raise TemporaryFailure(f"SMTP unreachable: {type(error).__name__}") from None

    async def _client(self, fresh: bool = False) -> tuple[aiosmtplib.SMTP, bool]:
        if not fresh:
            while not self.idle.empty():
                client = self.idle.get_nowait()
                if client.is_connected:
                    return client, True
        client = self._new_client()
        try:
            await client.connect()
        except aiosmtplib.SMTPException as error:
            raise _smtp_failure(error) from None
        except (OSError, TimeoutError) as error:
            raise TemporaryFailure(f"SMTP unreachable: {type(error).__name__}") from None
        return client, False

    @staticmethod
    async def _discard(client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            client.close()

    async def close(self) -> None:
        while not self.idle.empty():
            client = self.idle.get_nowait()
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()


_SMTP_UNREACHABLE = (
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPConnectTimeoutError,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPServerDisconnected,
)


def _smtp_failure(error: aiosmtplib.SMTPException) -> SendFailure:
    if isinstance(error, _SMTP_UNREACHABLE):
        return TemporaryFailure(f"SMTP unreachable: {type(error).__name__}")
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        refused = error.recipients[0]
        return _by_code(refused.code, f"SMTP {refused.code} for the recipient: {refused.message}")
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _by_code(error.code, f"SMTP {error.code}: {error.message}")
    return TemporaryFailure(f"SMTP: {type(error).__name__}")


def _by_code(code: int, reason: str) -> SendFailure:
    if 500 <= code < 600:
        return PermanentFailure(reason)
    return TemporaryFailure(reason)


def build_gateways(settings: Settings) -> dict[str, Gateway]:
    """The real gateways where credentials are set, the development gateway elsewhere.
    Must be called inside the event loop that will use them."""
    sms: Gateway = (
        TwilioSmsGateway(settings)
        if settings.sms_configured
        else LoggingGateway("sms", "set IVR_TWILIO_ACCOUNT_SID and IVR_SMS_FROM to send")
    )
    email: Gateway = (
        SmtpEmailGateway(settings)
        if settings.email_configured
        else LoggingGateway("email", "set IVR_SMTP_HOST and IVR_SMTP_FROM to send")
    )
    return {"sms": sms, "email": email}
