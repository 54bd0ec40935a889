"""The local providers' Calls API, reached through the real ``twilio`` library as the line's
gateways reach it, against a small stand-in for the line that serves an outreach call's
TwiML and checks every webhook's signature; and the command that sends the line an SMS."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from ivr.devtools import answer, reply
from ivr.devtools.providers import FakeTwilio, HttpServer
from tests.conftest import AUTH_TOKEN, free_port
from tests.providers import ACCOUNT_SID

GUARDIAN = "+46701740605"
OTHER_GUARDIAN = "+46701740606"
CALLER_ID = "+46701740698"
LINE_NUMBER = "+46701740699"
ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]

QUESTION = "Ella är inte i skolan. Tryck 1 om hon är borta i dag, 2 om du inte vet var hon är."
WHEN = "När kommer hon? Tryck klockslaget med fyra siffror."
NOT_HEARD = "Vi hörde inget."
THANKS = "Tack, frånvaron är anmäld."
VOICEMAIL = "Ring skolan om Ella."
GOODBYE = "Hej då."


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Line:
    """Stands in for the line: an outreach call's TwiML by where the call is (``at``), its
    status callbacks and inbound SMS; keeps every webhook, each checked against its
    signature as the line checks it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.validator = RequestValidator(AUTH_TOKEN)
        self.webhooks: list[tuple[str, dict[str, str]]] = []
        self.refused: list[str] = []
        self.holding = threading.Event()  # a webhook waits for ``release``
        self.release = threading.Event()
        self.sms_reply: str | None = "Tack! Frånvaron är anmäld."

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/voice", self.voice, methods=["POST"]),
                Route("/status", self.status, methods=["POST"]),
                Route("/twilio/sms/incoming", self.sms, methods=["POST"]),
            ]
        )

    async def _signed(self, request: Request) -> dict[str, str] | None:
        params = {name: str(value) for name, value in (await request.form()).items()}
        signature = request.headers.get("x-twilio-signature", "")
        form = request.headers.get("content-type") == "application/x-www-form-urlencoded"
        if not (form and self.validator.validate(str(request.url), params, signature)):
            self.refused.append(str(request.url))
            return None
        self.webhooks.append((f"{request.url.path}?{request.url.query}", params))
        return params

    async def voice(self, request: Request) -> Response:
        params = await self._signed(request)
        if params is None:
            return Response(status_code=403)
        if "hold" in request.query_params:
            self.holding.set()
            await anyio.to_thread.run_sync(self.release.wait, 5)
        twiml = outreach(request.query_params.get("at", ""), params)
        return Response(str(twiml), media_type="text/xml")

    async def status(self, request: Request) -> Response:
        params = await self._signed(request)
        return Response(status_code=403 if params is None else 204)

    async def sms(self, request: Request) -> Response:
        if await self._signed(request) is None:
            return Response(status_code=403)
        response = MessagingResponse()
        if self.sms_reply:
            response.message(self.sms_reply)
        return Response(str(response), media_type="text/xml")

    def calls_webhooks(self, sid: str, path: str) -> list[dict[str, str]]:
        return [
            params
            for where, params in self.webhooks
            if where.startswith(path) and params["CallSid"] == sid
        ]

    def statuses(self, sid: str) -> list[str]:
        return [params["CallStatus"] for params in self.calls_webhooks(sid, "/status")]


def outreach(at: str, params: dict[str, str]) -> VoiceResponse:
    """The conversation of an outreach call, shaped as the line renders it."""
    response = VoiceResponse()
    digits = params.get("Digits")
    if at == "" and params.get("AnsweredBy", "").startswith("machine"):
        response.say(VOICEMAIL)
        response.hangup()
    elif at == "":
        _ask(response, QUESTION, 1, "ask")
    elif at == "loop":
        _ask(response, QUESTION, 1, "loop")
    elif at in ("ask", "again") and digits == "1":
        response.say(THANKS)
        response.hangup()
    elif at == "ask" and digits == "2":
        _ask(response, WHEN, 4, "back")
    elif at == "ask" and digits is None:
        response.say(NOT_HEARD)
        _ask(response, QUESTION, 1, "again")
    elif at == "back" and digits:
        response.say(f"Tack, hon kommer {digits}.")
        response.hangup()
    else:
        response.say(GOODBYE)
    return response


def _ask(response: VoiceResponse, text: str, num_digits: int, at: str) -> None:
    action = f"/voice?o=token&at={at}"
    gather = response.gather(
        input="dtmf",
        num_digits=num_digits,
        finish_on_key="",
        timeout=5,
        action=action,
        method="POST",
        action_on_empty_result=False,
    )
    gather.say(text, voice="Polly.Astrid", language="sv-SE")
    response.redirect(action, method="POST")


class Switch(Starlette):
    """A server's app for one test at a time: the servers are started once for the module
    (stopping one takes a while), each test gets fresh providers."""

    current: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.current is not None
        await self.current(scope, receive, send)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Switch, HttpServer, Switch, HttpServer]]:
    """The line's stand-in and the fake Twilio."""
    line_app, twilio_app = Switch(), Switch()
    line_server = HttpServer(line_app, free_port())
    twilio_server = HttpServer(twilio_app, free_port())
    line_server.start()
    twilio_server.start()
    yield line_app, line_server, twilio_app, twilio_server
    line_server.stop()
    twilio_server.stop()


@pytest.fixture
def line(servers: tuple[Switch, HttpServer, Switch, HttpServer]) -> Iterator[Line]:
    switch, server = servers[:2]
    stand_in = Line(server.url)
    switch.current = stand_in.app()
    yield stand_in
    stand_in.release.set()
    assert stand_in.refused == [], "every webhook is signed as Twilio signs it"


class Calls:
    """The fake Twilio, its server, the line's stand-in, and the twilio library's client."""

    def __init__(self, line: Line, server: HttpServer, client: Client) -> None:
        self.fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, ring_seconds=0.05, on_call_end=self._ended)
        self.server = server
        self.line, self.line_url = line, line.url
        self.client = client
        self.client.api.base_url = self.server.url
        self.ended: set[str] = set()

    def _ended(self, call: dict[str, Any]) -> None:
        self.ended.add(call["sid"])

    async def place(
        self, to: str = GUARDIAN, events: list[str] | None = None, query: str = ""
    ) -> Any:
        """A call placed as ``TwilioCallGateway`` places it."""
        return await self.client.calls.create_async(
            to=to,
            from_=CALLER_ID,
            url=f"{self.line_url}/voice?o=token{query}",
            method="POST",
            status_callback=f"{self.line_url}/status?o=token",
            status_callback_method="POST",
            status_callback_event=ALL_EVENTS if events is None else events,
            machine_detection="Enable",
            timeout=30,
        )

    async def until(self, condition: Callable[[], bool], seconds: float = 5) -> None:
        for _ in range(int(seconds * 100)):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"not so after {seconds} s")

    async def ended_call(self, sid: str) -> dict[str, Any]:
        await self.until(lambda: sid in self.ended)
        return self.record(sid)

    def record(self, sid: str) -> dict[str, Any]:
        return next(call for call in self.fake.calls if call["sid"] == sid)

    def voice(self, sid: str) -> list[dict[str, str]]:
        return self.line.calls_webhooks(sid, "/voice")


@pytest.fixture
async def calls(
    line: Line, servers: tuple[Switch, HttpServer, Switch, HttpServer]
) -> AsyncIterator[Calls]:
    switch, server = servers[2:]
    http = AsyncTwilioHttpClient()
    fixture = Calls(line, server, Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
    switch.current = fixture.fake.app()
    yield fixture
    await http.close()
    await fixture.until(lambda: not fixture.fake.phone.tasks)  # no call left for the next test


@pytest.mark.anyio
async def test_a_guardian_keys_at_each_gather_and_the_hangup_completes_the_call(
    calls: Calls,
) -> None:
    calls.fake.answers[GUARDIAN] = "keys:2,0830"

    created = await calls.place()

    assert created.status == "queued" and created.sid.startswith("CA") and len(created.sid) == 34
    assert (created.to, created._from, created.direction) == (GUARDIAN, CALLER_ID, "outbound-api")
    call = await calls.ended_call(created.sid)
    assert call["log"] == [
        {"said": QUESTION},
        {"keyed": "2"},
        {"said": WHEN},
        {"keyed": "0830"},
        {"said": "Tack, hon kommer 0830."},
    ]
    voice = calls.voice(created.sid)
    assert [(w.get("Digits"), w.get("AnsweredBy")) for w in voice] == [
        (None, "human"),
        ("2", None),
        ("0830", None),
    ]
    assert [where for where, _ in calls.line.webhooks if where.startswith("/voice")] == [
        "/voice?o=token",
        "/voice?o=token&at=ask",
        "/voice?o=token&at=back",
    ]
    assert {
        (w["From"], w["To"], w["AccountSid"], w["Direction"], w["ApiVersion"], w["CallStatus"])
        for w in voice
    } == {(CALLER_ID, GUARDIAN, ACCOUNT_SID, "outbound-api", "2010-04-01", "in-progress")}
    statuses = calls.line.calls_webhooks(created.sid, "/status")
    assert [s["CallStatus"] for s in statuses] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [s["SequenceNumber"] for s in statuses] == ["0", "1", "2", "3"]
    assert {s["CallbackSource"] for s in statuses} == {"call-progress-events"}
    assert all(s["Timestamp"].endswith("+0000") for s in statuses)
    final = statuses[-1]
    assert final["CallDuration"].isdigit() and final["AnsweredBy"] == "human"
    assert "CallDuration" not in statuses[2] and "AnsweredBy" not in statuses[1]
    assert (call["status"], call["answered_by"], call["policy"]) == (
        "completed",
        "human",
        "keys:2,0830",
    )
    assert call["form"]["MachineDetection"] == "Enable" and call["form"]["Timeout"] == "30"
    assert call["status_callback_events"] == ALL_EVENTS


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("policy", "log", "keyed"),
    [
        ("silent", [QUESTION, "▶", NOT_HEARD, QUESTION, "▶", GOODBYE], [None, None, None]),
        ("keys:,1", [QUESTION, "▶", NOT_HEARD, QUESTION, "▶1", THANKS], [None, None, "1"]),
        ("keys:2", [QUESTION, "▶2", WHEN, "▶", GOODBYE], [None, "2", None]),
    ],
)
async def test_a_gather_that_hears_nothing_falls_through_to_the_redirect(
    calls: Calls, policy: str, log: list[str], keyed: list[str | None]
) -> None:
    """``log``: what was said, and what was keyed (``▶`` alone: nothing)."""
    calls.fake.answers[GUARDIAN] = policy

    created = await calls.place()

    call = await calls.ended_call(created.sid)
    heard = [f"▶{e['keyed']}" if "keyed" in e else e["said"] for e in call["log"]]
    assert heard == log
    assert [w.get("Digits") for w in calls.voice(created.sid)] == keyed
    assert calls.line.statuses(created.sid)[-1] == "completed"


@pytest.mark.anyio
async def test_an_answering_machine_hears_the_voicemail(calls: Calls) -> None:
    calls.fake.answers[GUARDIAN] = "machine"

    created = await calls.place()

    call = await calls.ended_call(created.sid)
    assert call["log"] == [{"said": VOICEMAIL}]
    assert [w["AnsweredBy"] for w in calls.voice(created.sid)] == ["machine_start"]
    statuses = calls.line.calls_webhooks(created.sid, "/status")
    assert [(s["CallStatus"], s.get("AnsweredBy")) for s in statuses] == [
        ("initiated", None),
        ("ringing", None),
        ("in-progress", "machine_start"),
        ("completed", "machine_start"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("policy", "statuses"),
    [
        ("no-answer", ["initiated", "ringing", "no-answer"]),
        ("busy", ["initiated", "busy"]),
        ("fail", ["initiated", "failed"]),
    ],
)
async def test_a_call_nobody_answers_ends_with_its_final_status(
    calls: Calls, policy: str, statuses: list[str]
) -> None:
    calls.fake.default_answer = policy

    created = await calls.place(to=OTHER_GUARDIAN)

    call = await calls.ended_call(created.sid)
    assert calls.line.statuses(created.sid) == statuses
    final = calls.line.calls_webhooks(created.sid, "/status")[-1]
    assert final["CallDuration"] == "0" and "AnsweredBy" not in final
    assert calls.voice(created.sid) == [], "no TwiML is fetched"
    assert (call["status"], call["log"], call["answered_by"]) == (statuses[-1], [], None)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("events", "statuses"),
    [
        (["ringing", "completed"], ["ringing", "completed"]),
        (["answered"], ["in-progress"]),
        ([], ["completed"]),
    ],
)
async def test_status_callbacks_only_for_the_events_asked_for(
    calls: Calls, events: list[str], statuses: list[str]
) -> None:
    calls.fake.answers[GUARDIAN] = "keys:1"

    created = await calls.place(events=events)

    call = await calls.ended_call(created.sid)
    assert calls.line.statuses(created.sid) == statuses
    sequence = [s["SequenceNumber"] for s in calls.line.calls_webhooks(created.sid, "/status")]
    assert sequence == [str(number) for number in range(len(statuses))]
    assert call["log"][-1] == {"said": THANKS}


@pytest.mark.anyio
async def test_ending_a_ringing_call_cancels_it(calls: Calls) -> None:
    calls.fake.answers[GUARDIAN] = "ring"
    calls.fake.ring_timeout_seconds = 5
    created = await calls.place()
    await calls.until(lambda: "ringing" in calls.line.statuses(created.sid))

    ended = await calls.client.calls(created.sid).update_async(status="completed")

    assert (ended.sid, ended.status) == (created.sid, "canceled")
    call = await calls.ended_call(created.sid)
    assert calls.line.statuses(created.sid) == ["initiated", "ringing", "canceled"]
    assert calls.voice(created.sid) == [] and call["log"] == []
    assert calls.fake.call_updates == [
        {"sid": created.sid, "Status": "completed", "result": "canceled"}
    ]


@pytest.mark.anyio
async def test_ending_a_call_in_progress_completes_it_after_the_webhook_in_flight(
    calls: Calls,
) -> None:
    calls.fake.answers[GUARDIAN] = "keys:1"
    created = await calls.place(query="&hold=1")
    await calls.until(calls.line.holding.is_set)

    ended = await calls.client.calls(created.sid).update_async(status="completed")

    assert ended.status == "completed"
    calls.line.release.set()
    call = await calls.ended_call(created.sid)
    assert len(calls.voice(created.sid)) == 1, "what the held webhook answered is not followed"
    assert call["log"] == []
    assert calls.line.statuses(created.sid) == ["initiated", "ringing", "in-progress", "completed"]
    assert call["status"] == "completed"


@pytest.mark.anyio
async def test_ending_a_call_that_has_ended_is_refused_as_twilio_refuses_it(calls: Calls) -> None:
    calls.fake.answers[GUARDIAN] = "busy"
    created = await calls.place()
    await calls.ended_call(created.sid)

    with pytest.raises(TwilioRestException) as refused:
        await calls.client.calls(created.sid).update_async(status="completed")

    assert (refused.value.status, refused.value.code) == (400, 21220)
    assert calls.fake.call_updates == [
        {"sid": created.sid, "Status": "completed", "result": "error 21220"}
    ]
    assert calls.line.statuses(created.sid) == ["initiated", "busy"], "nothing more is reported"


@pytest.mark.anyio
async def test_ending_an_unknown_call_is_not_found(calls: Calls) -> None:
    unknown = "CA" + "0" * 32

    with pytest.raises(TwilioRestException) as refused:
        await calls.client.calls(unknown).update_async(status="completed")

    assert (refused.value.status, refused.value.code) == (404, 20404)
    assert calls.fake.call_updates == [
        {"sid": unknown, "Status": "completed", "result": "error 20404"}
    ]


@pytest.mark.anyio
async def test_planned_failures_apply_to_calls(calls: Calls) -> None:
    calls.fake.fail_next(429, 20429)

    with pytest.raises(TwilioRestException) as refused:
        await calls.place()

    assert (refused.value.status, refused.value.code) == (429, 20429)
    assert calls.fake.calls == [] and calls.line.webhooks == []
    created = await calls.place()
    await calls.ended_call(created.sid)
    assert [call["sid"] for call in calls.fake.calls] == [created.sid]


@pytest.mark.anyio
@pytest.mark.parametrize(("missing", "code"), [("To", 21201), ("From", 21213), ("Url", 21205)])
async def test_a_call_without_its_number_or_url_is_refused(
    calls: Calls, missing: str, code: int
) -> None:
    form = {"To": GUARDIAN, "From": CALLER_ID, "Url": f"{calls.line_url}/voice?o=token"}
    del form[missing]
    async with httpx.AsyncClient(auth=(ACCOUNT_SID, AUTH_TOKEN)) as client:
        response = await client.post(
            f"{calls.server.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json", data=form
        )

    assert (response.status_code, response.json()["code"]) == (400, code)
    assert calls.fake.calls == []


@pytest.mark.anyio
async def test_a_call_that_loops_is_hung_up(calls: Calls) -> None:
    calls.fake.answers[GUARDIAN] = "silent"

    created = await calls.place(query="&at=loop")

    call = await calls.ended_call(created.sid)
    assert len(calls.voice(created.sid)) == 20
    assert call["log"][-1] == {"note": "hung up after 20 documents"}
    assert calls.line.statuses(created.sid)[-1] == "completed"


@pytest.mark.anyio
async def test_a_person_answers_a_ringing_call_from_the_command_line(
    calls: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    calls.fake.answers[GUARDIAN] = "ring"
    calls.fake.ring_timeout_seconds = 5
    created = await calls.place()
    await calls.until(lambda: "ringing" in calls.line.statuses(created.sid))

    arguments = [GUARDIAN, "1", "--url", calls.server.url, "--wait", "2"]
    status = await anyio.to_thread.run_sync(answer.main, arguments)

    assert status == 0
    printed = capsys.readouterr().out
    assert f"Call {created.sid} to {GUARDIAN}:" in printed
    assert f"◀ {QUESTION}\n  ▶ 1\n  ◀ {THANKS}\n  completed, answered by human" in printed
    assert [(w.get("Digits"), w.get("AnsweredBy")) for w in calls.voice(created.sid)] == [
        (None, "human"),
        ("1", None),
    ]
    async with httpx.AsyncClient() as client:
        listed = (await client.get(f"{calls.server.url}/_local/calls")).json()
    assert [(c["sid"], c["status"], c["log"][-1]) for c in listed] == [
        (created.sid, "completed", {"said": THANKS})
    ]


@pytest.mark.anyio
async def test_answering_when_nothing_rings_says_so(
    calls: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [GUARDIAN, "1", "--url", calls.server.url, "--wait", "0"]

    status = await anyio.to_thread.run_sync(answer.main, arguments)

    assert status == 1
    assert f"no call to {GUARDIAN} is ringing" in capsys.readouterr().err


def test_an_sms_is_posted_signed_and_the_reply_printed(
    line: Line, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["--from", GUARDIAN, "--body", "1 ", "--url", line.url]
    arguments += ["--auth-token", AUTH_TOKEN, "--account-sid", ACCOUNT_SID]

    assert reply.main(arguments) == 0

    assert capsys.readouterr().out == "Tack! Frånvaron är anmäld.\n"
    [(where, params)] = line.webhooks
    assert where == "/twilio/sms/incoming?"
    assert params["MessageSid"].startswith("SM") and len(params["MessageSid"]) == 34
    assert params == {
        "MessageSid": params["MessageSid"],
        "SmsSid": params["MessageSid"],
        "AccountSid": ACCOUNT_SID,
        "From": GUARDIAN,
        "To": LINE_NUMBER,
        "Body": "1 ",
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }

    line.sms_reply = None
    assert reply.main(arguments) == 0
    assert capsys.readouterr().out == "(no reply)\n"


def test_an_sms_the_line_refuses_or_cannot_take_fails_clearly(
    line: Line, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong_token = ["--from", GUARDIAN, "--body", "1", "--url", line.url, "--auth-token", "x"]

    assert reply.main(wrong_token) == 1
    assert "the line answered 403" in capsys.readouterr().err
    line.refused.clear()  # refused on purpose

    nowhere = f"http://127.0.0.1:{free_port()}"
    assert reply.main(["--from", GUARDIAN, "--body", "1", "--url", nowhere]) == 1
    assert f"cannot reach the line at {nowhere}/twilio/sms/incoming" in capsys.readouterr().err
    assert line.webhooks == []
