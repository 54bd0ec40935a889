"""Gateways that hand a message to a provider: SMS through Twilio, email over SMTP, and a
development gateway that only logs. Each says whether a failure is worth retrying."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Protocol

import aiohttp
import aiosmtplib
from twilio.base.exceptions import TwilioRestException

from ivr.domain.phone import mask
from ivr.settings import Settings
from ivr.twilio.client import TwilioApi

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


class TwilioSmsGateway:
    """The Twilio Messages API through the ``twilio`` library, asynchronously."""

    channel = "sms"

    def __init__(self, settings: Settings) -> None:
        self.api = TwilioApi(settings)
        self.sender = (
            {"messaging_service_sid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"from_": settings.sms_from}
        )
        self.status_callback = f"{settings.public_base_url}/twilio/sms/status"
        self.timeout = settings.send_timeout_seconds
        via = self.sender.get("messaging_service_sid") or settings.sms_from
        self.description = f"Twilio SMS from {via} via {self.api.base_url}"

    async def send(self, message: Outgoing) -> Accepted:
        try:
            async with asyncio.timeout(self.timeout):
                created = await self.api.client.messages.create_async(
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

    async def check(self) -> str | None:
        # Wrong credentials show at the first send (401, logged as an error there); asking
        # the API beforehand would cost a request at every start for the same answer.
        return None

    async def close(self) -> None:
        await self.api.close()


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
            except aiosmtplib.SMTPServerDisconnected as error:
                if not reused:
                    raise self._failure(error) from None
                # An idle connection the server had closed: once more on a fresh one.
                client, _reused = await self._client(fresh=True)
                await self._send_fresh(client, email)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                await self._discard(client)
                raise self._failure(error) from None
            self.idle.put_nowait(client)
        return Accepted(str(email["Message-ID"]), "sent")

    async def _send_fresh(self, client: aiosmtplib.SMTP, email: EmailMessage) -> None:
        try:
            await client.send_message(email)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            await self._discard(client)
            raise self._failure(error) from None

    async def _client(self, fresh: bool = False) -> tuple[aiosmtplib.SMTP, bool]:
        if not fresh:
            while not self.idle.empty():
                client = self.idle.get_nowait()
                if client.is_connected:
                    return client, True
        client = self._new_client()
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            await self._discard(client)
            raise self._failure(error) from None
        return client, False

    async def check(self) -> str | None:
        """Connect as a send would (TLS or STARTTLS, login), then say goodbye."""
        try:
            client, _reused = await self._client(fresh=True)
        except SendFailure as failure:
            return failure.reason
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
        return None

    def _failure(self, error: BaseException) -> SendFailure:
        return smtp_failure(error, self.settings.smtp_host, self.settings.smtp_port)

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


def smtp_failure(error: BaseException, host: str, port: int) -> SendFailure:
    """What went wrong with the SMTP server, and what to change, as the outbox records it.

    Only the recipient's own address or the message itself (a 5xx for either) fails it
    for good.
    A server that cannot be reached, a setting that does not suit the server (TLS, login,
    sender) or a 4xx is kept for retry: an operator fixes those, not the guardian."""
    server = f"the SMTP server {host}:{port}"
    return (
        _refused(error, server)
        or _unsuited_setting(error, server)
        or _unreachable(error, server)
        or TemporaryFailure(f"{server}: {str(error).strip() or type(error).__name__}")
    )


def _refused(error: BaseException, server: str) -> SendFailure | None:
    """The server answered a command with a refusal: of the recipient, the login, the
    sender, or something else."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        refused = error.recipients[0]
        return _by_code(refused.code, f"SMTP {refused.code} for the recipient: {refused.message}")
    if isinstance(error, aiosmtplib.SMTPRecipientRefused):
        return _by_code(error.code, f"SMTP {error.code} for the recipient: {error.message}")
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        return TemporaryFailure(
            f"{server} refused the login ({error.code} {error.message}): check "
            "IVR_SMTP_USERNAME and IVR_SMTP_PASSWORD"
        )
    if isinstance(error, aiosmtplib.SMTPSenderRefused):
        if error.code == 530:
            return TemporaryFailure(
                f"{server} wants a login before it takes mail ({error.code} {error.message}): "
                "set IVR_SMTP_USERNAME and IVR_SMTP_PASSWORD"
            )
        return TemporaryFailure(
            f"{server} refused the sender {error.sender} ({error.code} {error.message}): set "
            "IVR_SMTP_FROM to an address the server may send from"
        )
    if isinstance(error, aiosmtplib.SMTPDataError):
        return _by_code(error.code, f"SMTP {error.code} from {server}: {error.message}")
    if isinstance(error, aiosmtplib.SMTPResponseException):  # a greeting or EHLO refused
        return TemporaryFailure(f"SMTP {error.code} from {server}: {error.message}")
    return None


def _unsuited_setting(error: BaseException, server: str) -> SendFailure | None:
    """The server does not offer what the settings ask for: STARTTLS, a login, TLS."""
    message = str(error)
    if "STARTTLS extension not supported" in message:
        return TemporaryFailure(
            f"{server} does not offer STARTTLS; set IVR_SMTP_STARTTLS=false for a relay "
            "without TLS, or IVR_SMTP_PORT=465 for a server that speaks TLS from the start"
        )
    if "AUTH extension is not supported" in message:
        return TemporaryFailure(
            f"{server} offers no login (AUTH); leave IVR_SMTP_USERNAME empty for a relay "
            "that takes mail without one (or keep IVR_SMTP_STARTTLS on if it offers login "
            "only over TLS)"
        )
    if isinstance(error, ssl.SSLError):
        return TemporaryFailure(
            f"TLS with {server} failed ({getattr(error, 'reason', None) or error}): check "
            "its certificate, and IVR_SMTP_PORT (465 is TLS from the start, 587 is STARTTLS)"
        )
    return None


def _unreachable(error: BaseException, server: str) -> SendFailure | None:
    message = str(error).strip()
    if isinstance(error, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TemporaryFailure(f"{server} did not answer in time: {message or 'timed out'}")
    if isinstance(error, aiosmtplib.SMTPServerDisconnected):
        return TemporaryFailure(f"{server} closed the connection: {message or 'no reason given'}")
    if isinstance(error, aiosmtplib.SMTPConnectError | OSError):
        return TemporaryFailure(
            f"SMTP unreachable: could not connect to {server}: {message or type(error).__name__}"
            " (check IVR_SMTP_HOST and IVR_SMTP_PORT)"
        )
    return None


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
