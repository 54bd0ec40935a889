"""Local providers that speak the real protocols: an SMTP server (``aiosmtpd``) and an HTTP
server that speaks the Twilio Messages and Calls APIs, reached through the real ``twilio``
library.

    pip install '.[devtools]'                   # once: the SMTP server comes with the extra
    python -m ivr.devtools.providers            # SMTP on 127.0.0.1:8025, Twilio API on :8030

prints what arrives and the settings that point the line at them. The calls the line places
ring until answered from another terminal (``python -m ivr.devtools.answer NUMBER KEYS``);
``--answer`` and ``--answer-for`` choose another answer policy (``ivr.devtools.calls``).
Tests use the same classes, and can make them fail on purpose (``fail_next``, ``refuse``,
``stop``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import uvicorn

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session
except ModuleNotFoundError as missing:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        "the local providers need the devtools extra: pip install 'ivr-absence-line[devtools]'"
        " (or '.[devtools]' in a checkout)"
    ) from missing
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ivr.devtools.answer import answer_policy, describe
from ivr.devtools.calls import FakeCalls, twilio_error, twilio_time
from ivr.devtools.signing import signed_post, webhook_client

MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"


@dataclass(frozen=True)
class PlannedError:
    status: int
    code: int | None
    message: str


@dataclass
class FakeTwilio:
    """Speaks ``POST /2010-04-01/Accounts/{sid}/Messages.json`` as Twilio does: basic auth,
    a form body, ``201`` with the message as JSON, errors as JSON with a ``code``. When
    ``deliver`` is set it then reports ``delivered`` to the message's ``StatusCallback``,
    signed with the auth token like Twilio's own callbacks.

    It places calls too (``Calls.json``, ``Calls/{sid}.json``; ``ivr.devtools.calls``): each
    number called answers as ``answers`` says (``default_answer`` for the others; nobody
    answers unless told), after ringing ``ring_seconds`` (``ring_timeout_seconds`` for the
    ``ring`` policy, which waits for a person). ``fail_next`` plans the answers to the next
    API requests, whichever they are."""

    account_sid: str
    auth_token: str
    deliver: bool = True
    delay_seconds: float = 0.0
    messages: list[dict[str, str]] = field(default_factory=list)
    planned: deque[PlannedError] = field(default_factory=deque)
    callbacks: list[tuple[str, int]] = field(default_factory=list)
    on_message: Callable[[dict[str, str]], None] = lambda _message: None
    answers: dict[str, str] = field(default_factory=dict)
    default_answer: str = "no-answer"
    ring_seconds: float = 0.2
    ring_timeout_seconds: float | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    call_updates: list[dict[str, str]] = field(default_factory=list)
    on_call: Callable[[dict[str, Any]], None] = lambda _call: None
    on_call_end: Callable[[dict[str, Any]], None] = lambda _call: None
    phone: FakeCalls = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for choice in [self.default_answer, *self.answers.values()]:
            answer_policy(choice)  # a mistyped policy fails here, not at the first call
        self.phone = FakeCalls(self)

    def fail_next(self, status: int, code: int | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.planned.append(PlannedError(status, code, f"planned failure {status}"))

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route(MESSAGES_PATH, self._create, methods=["POST"]), *self.phone.routes()]
        )

    def _authorised(self, request: Request, account_sid: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return (
            account_sid == self.account_sid
            and request.headers.get("authorization", "") == f"Basic {expected}"
        )

    async def refusal(self, request: Request) -> Response | None:
        """Twilio's answer to an API request it does not serve: wrong credentials or a
        planned failure (after ``delay_seconds``); None to serve it."""
        if not self._authorised(request, request.path_params["account_sid"]):
            return twilio_error(401, 20003, "Authenticate")
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.planned:
            planned = self.planned.popleft()
            return twilio_error(planned.status, planned.code, planned.message)
        return None

    async def _create(self, request: Request) -> Response:
        account_sid = request.path_params["account_sid"]
        refusal = await self.refusal(request)
        if refusal is not None:
            return refusal
        try:
            form = {name: str(value) for name, value in (await request.form()).items()}
        except ClientDisconnect:
            return Response(status_code=499)
        if not form.get("To") or not form.get("Body"):
            return twilio_error(400, 21604, "A 'To' phone number and a 'Body' are required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return twilio_error(
                400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required."
            )
        sid = "SM" + secrets.token_hex(16)
        message = {"sid": sid, **form}
        self.messages.append(message)
        self.on_message(message)
        if self.deliver and form.get("StatusCallback"):
            asyncio.get_running_loop().create_task(self._report(form["StatusCallback"], sid, form))
        now = twilio_time()
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": account_sid,
                "to": form["To"],
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form["Body"],
                "status": "queued",
                "direction": "outbound-api",
                "num_segments": "1",
                "date_created": now,
                "date_updated": now,
                "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
            },
            status_code=201,
        )

    async def _report(self, url: str, sid: str, form: dict[str, str]) -> None:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "MessageStatus": "delivered",
            "SmsStatus": "delivered",
            "To": form["To"],
            "From": form.get("From", ""),
            "ApiVersion": "2010-04-01",
        }
        try:
            async with webhook_client(5) as client:
                response = await signed_post(client, url, params, self.auth_token)
            self.callbacks.append((sid, response.status_code))
        except httpx.HTTPError:
            self.callbacks.append((sid, 0))


@dataclass
class SmtpSink:
    """An SMTP server that keeps what it receives. ``refuse`` maps an address to the reply
    its RCPT gets (``"550 5.1.1 no such user"``); ``fail_data`` answers the next DATA
    commands with a temporary error; ``delay_seconds`` makes it slow."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    fail_data: int = 0
    delay_seconds: float = 0.0
    on_message: Callable[[EmailMessage], None] = lambda _message: None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.fail_data > 0:
            self.fail_data -= 1
            return "451 4.3.0 planned temporary failure"
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.on_message(message)
        return "250 2.0.0 accepted"


class SmtpServer:
    """Runs an ``SmtpSink`` on a port; can be stopped and started again (an SMTP outage)."""

    def __init__(self, sink: SmtpSink, port: int, host: str = "127.0.0.1") -> None:
        self.sink = sink
        self.host = host
        self.port = port
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class HttpServer:
    """Runs an ASGI app with uvicorn in a thread."""

    def __init__(self, app: Starlette, port: int, host: str = "127.0.0.1") -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


CALLER_ID = "+46701740698"


def _policy(text: str) -> str:
    try:
        answer_policy(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text.strip()


def _number_policy(text: str) -> tuple[str, str]:
    number, equals, policy = text.partition("=")
    if not equals or not number.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: NUMBER=POLICY, e.g. +46701740605=keys:1")
    return number.strip(), _policy(policy)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--sms-port", type=int, default=8030, help="the Twilio API's port")
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="development-auth-token")
    parser.add_argument("--quiet", action="store_true", help="do not print each message")
    parser.add_argument(
        "--no-delivery-reports", action="store_true", help="do not call StatusCallback"
    )
    parser.add_argument(
        "--answer",
        type=_policy,
        default="ring",
        metavar="POLICY",
        help="how the numbers called answer (keys:1, keys:1,1430, silent, machine, no-answer, "
        "busy, fail, ring). Default ring: a call waits for you to answer it with "
        "`python -m ivr.devtools.answer NUMBER KEYS`, so nothing is answered behind your back",
    )
    parser.add_argument(
        "--answer-for",
        type=_number_policy,
        action="append",
        default=[],
        metavar="NUMBER=POLICY",
        help="how one number answers (repeatable), e.g. +46701740605=keys:1",
    )
    parser.add_argument(
        "--ring-seconds", type=float, default=3, help="how long a call rings before the policy"
    )
    parser.add_argument(
        "--ring-timeout", type=float, default=30, help="how long a ring call waits for you"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    arguments = _arguments(argv)

    def show_sms(message: dict[str, str]) -> None:
        print(f"SMS to {message['To']}: {message['Body']}", flush=True)

    def show_email(message: EmailMessage) -> None:
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        print(f"Email to {message['To']}: {message['Subject']}\n{text}", flush=True)

    def show_call(call: dict[str, Any]) -> None:
        print(f"Call {call['sid']} to {call['to']} ({call['policy']})", flush=True)

    def show_call_end(call: dict[str, Any]) -> None:
        print(f"Call {call['sid']} to {call['to']} ended:\n{describe(call)}", flush=True)

    def ignore(_message: object) -> None:
        return None

    twilio = FakeTwilio(
        arguments.account_sid,
        arguments.auth_token,
        deliver=not arguments.no_delivery_reports,
        on_message=ignore if arguments.quiet else show_sms,
        answers=dict(arguments.answer_for),
        default_answer=arguments.answer,
        ring_seconds=arguments.ring_seconds,
        ring_timeout_seconds=arguments.ring_timeout,
        on_call=ignore if arguments.quiet else show_call,
        on_call_end=ignore if arguments.quiet else show_call_end,
    )
    smtp = SmtpServer(
        SmtpSink(on_message=ignore if arguments.quiet else show_email), arguments.smtp_port
    )
    smtp.start()
    api = f"http://127.0.0.1:{arguments.sms_port}"
    print(
        "Point the line at these providers:\n"
        f"  export IVR_SMTP_HOST=127.0.0.1 IVR_SMTP_PORT={arguments.smtp_port} "
        "IVR_SMTP_STARTTLS=false IVR_SMTP_FROM=franvaro@example.org\n"
        f"  export IVR_TWILIO_ACCOUNT_SID={arguments.account_sid} IVR_SMS_FROM=+46701740699 "
        f"IVR_TWILIO_API_BASE_URL={api}\n"
        f"  export IVR_CALL_FROM={CALLER_ID}\n"
        "  (and IVR_PUBLIC_BASE_URL=http://127.0.0.1:8000, the line's own address, which the "
        "calls fetch their TwiML from)\n"
        f"Calls answer as {arguments.answer!r}"
        + "".join(f", {number} as {policy!r}" for number, policy in arguments.answer_for)
        + f". Answer a ringing call: python -m ivr.devtools.answer NUMBER KEYS --url {api}\n"
        "Ctrl-C stops them.",
        flush=True,
    )
    try:
        uvicorn.run(twilio.app(), host="127.0.0.1", port=arguments.sms_port, log_level="warning")
    finally:
        smtp.stop()
        counts = {"sms": len(twilio.messages), "email": len(smtp.sink.messages)}
        print(json.dumps(counts | {"calls": len(twilio.calls)}))


if __name__ == "__main__":
    main()
