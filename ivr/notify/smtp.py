"""Email over SMTP with ``aiosmtplib``, and what each failure means and asks to change."""

from __future__ import annotations

import asyncio
import logging
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import aiosmtplib

from ivr.notify.sending import Accepted, Outgoing, PermanentFailure, SendFailure, TemporaryFailure
from ivr.settings import Settings

log = logging.getLogger(__name__)


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
