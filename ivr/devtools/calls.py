"""Twilio's Calls API for the local providers. A call placed through the real ``twilio``
library rings, is answered (or not) as its number's *answer policy* says, fetches the line's
TwiML and follows it, and reports its progress to its ``StatusCallback``. Every webhook is
signed with the auth token as Twilio signs it.

Answer policies (``FakeTwilio.answers`` maps a number to one; ``default_answer`` is for the
others):

``keys:1``, ``keys:2``, ``keys:1,1430``
    A person answers (``AnsweredBy=human`` when ``MachineDetection`` was asked) and keys one
    group at each ``<Gather>``, posted as ``Digits`` to the gather's ``action``. When the
    groups are used up (or a group is empty: ``keys:,1``), the gather hears nothing and the
    call goes on to the next verb, the ``<Redirect>``, posted without ``Digits``.
``silent``
    A person answers and keys nothing.
``machine``
    An answering machine (``AnsweredBy=machine_start``): it hears what is said, keys nothing.
``no-answer``, ``busy``, ``fail``
    It rings for ``ring_seconds`` and nobody answers; the number is busy; the call fails.
``ring``
    It rings until a person answers it from another terminal (``python -m
    ivr.devtools.answer NUMBER KEYS``, which posts to ``/_local/answer``) or until
    ``ring_timeout_seconds`` pass (then ``no-answer``). Any ringing call can be answered so.

An answered policy rings for ``ring_seconds`` first. Status callbacks go only to the events
asked for (``StatusCallbackEvent``; ``completed`` alone by default): ``initiated``, then
``ringing`` (``busy`` and ``fail`` never ring), ``answered`` (``CallStatus=in-progress``),
and the final one (``completed``, ``busy``, ``no-answer``, ``failed`` or ``canceled``, with
``CallDuration``). ``<Hangup/>`` or the end of a document ends the call ``completed``; so do
an error of the line's webhook and the 20th document of one call (a loop). TwiML is always
fetched with POST, and only ``<Say>``, ``<Gather>``, ``<Redirect>`` and ``<Hangup/>`` (or
``<Reject/>``) do anything.

``POST .../Calls/{sid}.json`` with ``Status=completed`` ends a call as Twilio does: a ringing
one is ``canceled``, one in progress ``completed`` (the document being fetched is the last).
For a person trying the line: ``POST /_local/answer`` (form ``to``, ``keys``) answers the
latest ringing call to ``to``; ``GET /_local/calls`` lists the calls, what each said and keyed.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from xml.etree.ElementTree import ParseError

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ivr.devtools.answer import (
    FINAL,
    LOCAL_ANSWER_PATH,
    LOCAL_CALLS_PATH,
    AnswerPolicy,
    answer_policy,
    follow,
    key_groups,
)
from ivr.devtools.signing import signed_post, webhook_client

CALLS_PATH = "/2010-04-01/Accounts/{account_sid}/Calls.json"
CALL_PATH = "/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json"
MAX_DOCUMENTS = 20
WEBHOOK_TIMEOUT = 10.0
# Twilio's errors for a call that cannot be placed or changed.
REQUIRED = (
    ("To", 21201, "No 'To' number is specified"),
    ("From", 21213, "No 'From' number is specified"),
    ("Url", 21205, "Url parameter is required."),
)
NOT_FOUND, NOT_IN_PROGRESS = 20404, 21220
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
RESOURCE_FIELDS = (
    *("sid", "to", "from", "status", "answered_by", "date_created", "date_updated"),
    *("start_time", "end_time", "duration"),
)


def twilio_error(status: int, code: int | None, message: str) -> JSONResponse:
    """An error as Twilio's REST API answers it (the ``twilio`` library reads ``code``)."""
    body: dict[str, Any] = {"status": status, "message": message}
    if code is not None:
        body["code"] = code
        body["more_info"] = f"https://www.twilio.com/docs/errors/{code}"
    return JSONResponse(body, status_code=status)


def twilio_time() -> str:
    return datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


class CallsHost(Protocol):
    """What the calls take from the fake Twilio they are part of."""

    account_sid: str
    auth_token: str
    answers: dict[str, str]
    default_answer: str
    ring_seconds: float
    ring_timeout_seconds: float | None
    calls: list[dict[str, Any]]
    call_updates: list[dict[str, str]]

    @property
    def on_call(self) -> Callable[[dict[str, Any]], None]: ...

    @property
    def on_call_end(self) -> Callable[[dict[str, Any]], None]: ...

    async def refusal(self, request: Request) -> Response | None: ...


@dataclass(eq=False)
class _Run:
    """A call being simulated; ``record`` is the one in ``FakeTwilio.calls``."""

    record: dict[str, Any]
    policy: AnswerPolicy
    events: frozenset[str]
    keys: deque[str]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    person: bool = False  # answered through /_local/answer
    stop_status: str | None = None  # asked to end: canceled or completed
    sequence: int = 0
    answered_at: float = 0.0

    def stop(self, status: str) -> None:
        self.stop_status = status
        self.record["status"] = status
        self.record["date_updated"] = twilio_time()
        self.wake.set()


class FakeCalls:
    """The Calls API routes and the simulated calls of a ``FakeTwilio``."""

    def __init__(self, host: CallsHost) -> None:
        self.host = host
        self.runs: dict[str, _Run] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[Route]:
        return [
            Route(CALLS_PATH, self.create, methods=["POST"]),
            Route(CALL_PATH, self.update, methods=["POST"]),
            Route(LOCAL_ANSWER_PATH, self.local_answer, methods=["POST"]),
            Route(LOCAL_CALLS_PATH, self.local_calls, methods=["GET"]),
        ]

    # --- the REST API -----------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        refusal = await self.host.refusal(request)
        if refusal is not None:
            return refusal
        try:
            fields = await request.form()
        except ClientDisconnect:
            return Response(status_code=499)
        form = {name: str(value) for name, value in fields.items()}
        for name, code, message in REQUIRED:
            if not form.get(name):
                return twilio_error(400, code, message)
        choice = self.host.answers.get(form["To"], self.host.default_answer)
        policy = answer_policy(choice)
        events = [str(event) for event in fields.getlist("StatusCallbackEvent")]
        record = _record(form, events, choice)
        run = _Run(record, policy, frozenset(events or ["completed"]), deque(policy.keys))
        self.runs[record["sid"]] = run
        self.host.calls.append(record)
        self.host.on_call(record)
        task = asyncio.get_running_loop().create_task(self._simulate(run))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return JSONResponse(self._resource(record), status_code=201)

    async def update(self, request: Request) -> Response:
        refusal = await self.host.refusal(request)
        if refusal is not None:
            return refusal
        sid = request.path_params["call_sid"]
        form = {name: str(value) for name, value in (await request.form()).items()}
        update = {"sid": sid, **form}
        self.host.call_updates.append(update)
        run = self.runs.get(sid)
        if run is None:
            update["result"] = f"error {NOT_FOUND}"
            return twilio_error(
                404, NOT_FOUND, f"The requested resource {request.url.path} was not found"
            )
        status = run.record["status"]
        if status in FINAL:
            update["result"] = f"error {NOT_IN_PROGRESS}"
            return twilio_error(400, NOT_IN_PROGRESS, "Call is not in-progress. Cannot redirect.")
        if form.get("Status") not in ("completed", "canceled"):
            update["result"] = "unchanged"
        elif status != "in-progress":
            run.stop("canceled")
        elif form["Status"] == "completed":
            run.stop("completed")
        update.setdefault("result", run.record["status"])
        return JSONResponse(self._resource(run.record))

    def _resource(self, record: dict[str, Any]) -> dict[str, Any]:
        """The call as Twilio's Call resource."""
        account, sid = self.host.account_sid, record["sid"]
        return {name: record[name] for name in RESOURCE_FIELDS} | {
            "account_sid": account,
            "to_formatted": record["to"],
            "from_formatted": record["from"],
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
        }

    # --- the local endpoints ----------------------------------------------------------------

    async def local_answer(self, request: Request) -> Response:
        """A person answers the latest ringing call to ``to`` and keys ``keys``."""
        if request.client is None or request.client.host not in LOCAL_HOSTS:
            return JSONResponse({"message": "only from this machine"}, status_code=403)
        form = await request.form()
        to = "".join(str(form.get("to", "")).split())
        try:
            keys = key_groups(str(form.get("keys", "")).strip())
        except ValueError as error:
            return JSONResponse({"message": str(error)}, status_code=400)
        ringing = [
            run
            for run in self.runs.values()
            if run.record["to"] == to and run.record["status"] in ("queued", "ringing")
        ]
        if not ringing:
            return JSONResponse({"message": f"no call to {to} is ringing"}, status_code=404)
        run = ringing[-1]
        run.person, run.keys = True, deque(keys)
        run.wake.set()
        return JSONResponse({"sid": run.record["sid"], "to": to, "keys": list(run.keys)})

    async def local_calls(self, request: Request) -> Response:
        return JSONResponse(self.host.calls)

    # --- the simulation ---------------------------------------------------------------------

    async def _simulate(self, run: _Run) -> None:
        async with webhook_client(WEBHOOK_TIMEOUT) as client:
            final = await self._place(run, client)
            record = run.record
            record["status"] = final
            record["end_time"] = record["date_updated"] = twilio_time()
            answered = run.answered_at > 0
            duration = math.ceil(time.monotonic() - run.answered_at) if answered else 0
            record["duration"] = str(duration)
            await self._progress(run, client, "completed", final)
        self.host.on_call_end(record)

    async def _place(self, run: _Run, client: httpx.AsyncClient) -> str:
        """The call from its dialling to its end: its final status."""
        await self._progress(run, client, "initiated", "initiated")
        if run.stop_status is not None:
            return run.stop_status
        if run.policy.kind in ("busy", "fail"):
            return "busy" if run.policy.kind == "busy" else "failed"
        run.record["status"] = "ringing"
        await self._progress(run, client, "ringing", "ringing")
        seconds = self.host.ring_seconds
        if run.policy.kind == "ring" and self.host.ring_timeout_seconds is not None:
            seconds = self.host.ring_timeout_seconds
        with suppress(TimeoutError):
            await asyncio.wait_for(run.wake.wait(), seconds)
        if run.stop_status is not None:
            return run.stop_status
        if not (run.person or run.policy.answers):
            return "no-answer"
        self._answer(run)
        await self._progress(run, client, "answered", "in-progress")
        await self._converse(run, client)
        return "completed"

    def _answer(self, run: _Run) -> None:
        run.answered_at = time.monotonic()
        record = run.record
        record["status"] = "in-progress"
        record["start_time"] = record["date_updated"] = twilio_time()
        if record["form"].get("MachineDetection") in ("Enable", "DetectMessageEnd"):
            machine = run.policy.kind == "machine" and not run.person
            beep = record["form"].get("MachineDetection") == "DetectMessageEnd"
            record["answered_by"] = (
                ("machine_end_beep" if beep else "machine_start") if machine else "human"
            )

    async def _converse(self, run: _Run, client: httpx.AsyncClient) -> None:
        """Fetch the call's TwiML and follow it until it hangs up (or the call is ended)."""
        url: str | None = run.record["url"]
        digits: str | None = None
        extra = {"AnsweredBy": run.record["answered_by"]} if run.record["answered_by"] else {}
        for _ in range(MAX_DOCUMENTS):
            if url is None or run.stop_status is not None:
                return
            params = self._params(run, "in-progress") | extra
            if digits is not None:
                params["Digits"] = digits
            response = await self._post(run, client, url, params, "twiml")
            if run.stop_status is not None:
                return
            if response is None or not response.is_success:
                status = "no answer" if response is None else response.status_code
                run.record["log"].append({"note": f"the line's webhook failed ({status})"})
                return
            try:
                step = follow(response.content, url, run.keys)
            except (ParseError, ValueError) as error:
                run.record["log"].append({"note": f"not TwiML: {error}"})
                return
            run.record["log"].extend(step.log)
            url, digits, extra = step.url, step.digits, {}
        run.record["log"].append({"note": f"hung up after {MAX_DOCUMENTS} documents"})

    async def _progress(
        self, run: _Run, client: httpx.AsyncClient, event: str, status: str
    ) -> None:
        """The status callback of ``event``, if the call asked for it."""
        url = run.record["form"].get("StatusCallback")
        if not url or event not in run.events:
            return
        params = self._params(run, status) | {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(run.sequence),
            "Timestamp": twilio_time(),
        }
        run.sequence += 1
        if run.record["answered_by"] and event in ("answered", "completed"):
            params["AnsweredBy"] = run.record["answered_by"]
        if event == "completed":
            params["CallDuration"] = run.record["duration"]
        await self._post(run, client, url, params, "status")

    def _params(self, run: _Run, status: str) -> dict[str, str]:
        record = run.record
        return {
            "CallSid": record["sid"],
            "AccountSid": self.host.account_sid,
            "From": record["from"],
            "To": record["to"],
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallStatus": status,
        }

    async def _post(
        self, run: _Run, client: httpx.AsyncClient, url: str, params: dict[str, str], kind: str
    ) -> httpx.Response | None:
        webhook: dict[str, Any] = {"kind": kind, "url": url, "params": params}
        run.record["webhooks"].append(webhook)
        try:
            response = await signed_post(client, url, params, self.host.auth_token)
        except httpx.HTTPError as error:
            webhook["status"] = 0
            webhook["error"] = type(error).__name__
            return None
        webhook["status"] = response.status_code
        return response


def _record(form: dict[str, str], events: list[str], policy: str) -> dict[str, Any]:
    now = twilio_time()
    return {
        "sid": "CA" + secrets.token_hex(16),
        "to": form["To"],
        "from": form["From"],
        "url": form["Url"],
        "policy": policy,
        "status": "queued",
        "answered_by": None,
        "date_created": now,
        "date_updated": now,
        "start_time": None,
        "end_time": None,
        "duration": None,
        "form": form,
        "status_callback_events": events,
        "log": [],
        "webhooks": [],
    }
