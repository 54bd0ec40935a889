"""The Twilio edge: signatures, TwiML shape, repeated and concurrent webhooks, and call state
shared between server processes."""

from __future__ import annotations

import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from defusedxml import ElementTree as defused
from twilio.request_validator import RequestValidator

from ivr.app import create_app
from ivr.voice.calls import STEP_PATH
from tests.clock import Clock
from tests.conftest import AUTH_TOKEN, LiveServer, free_port, make_settings
from tests.records import absences, calls, outbox
from tests.roster_data import ALVA, ANNA, LINE


class Caller:
    """Posts one call's webhooks by hand, signed (or not) as the test says."""

    def __init__(self, server: LiveServer, client: httpx.Client) -> None:
        self.server = server
        self.client = client
        self.call_sid = "CA" + secrets.token_hex(16)
        self.validator = RequestValidator(AUTH_TOKEN)

    def params(self, **extra: str) -> dict[str, str]:
        return {
            "CallSid": self.call_sid,
            "From": ANNA,
            "To": LINE,
            "AccountSid": "AC" + "0" * 32,
            **extra,
        }

    def post(
        self,
        path: str,
        params: dict[str, str],
        base_url: str | None = None,
        sign_url: str | None = None,
    ) -> httpx.Response:
        url = f"{base_url or self.server.url}{path}"
        signature = self.validator.compute_signature(sign_url or url, params)
        return self.client.post(url, data=params, headers={"X-Twilio-Signature": signature})

    action = STEP_PATH  # where the next keys go: the last gather's action

    def start(self) -> ET.Element:
        response = self.post("/twilio/voice", self.params(CallStatus="ringing"))
        assert response.status_code == 200
        return self._follow(response)

    def press(self, digits: str | None, at: str | None = None) -> httpx.Response:
        """Key ``digits`` (None: silence) at the last prompt, or at the prompt whose action
        is ``at``."""
        extra = {} if digits is None else {"Digits": digits}
        response = self.post(at or self.action, self.params(**extra))
        self._follow(response)
        return response

    def _follow(self, response: httpx.Response) -> ET.Element:
        document: ET.Element = defused.fromstring(response.content)
        gather = document.find("Gather")
        if gather is not None:
            self.action = gather.get("action") or self.action
        return document


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as session:
        yield session


def test_every_gather_lets_hash_and_star_through_and_falls_through_to_a_redirect(
    live_server: LiveServer, client: httpx.Client
) -> None:
    caller = Caller(live_server, client)
    expected_lengths = iter(["10", "6", "4", "6", "4", "1"])
    document = caller.start()
    actions = set()
    for digits in [ALVA, "261127", "9", "9", "9"]:
        gather, redirect = list(document)
        assert gather.tag == "Gather"
        assert gather.get("finishOnKey") == ""
        assert gather.get("input") == "dtmf"
        assert gather.get("numDigits") == next(expected_lengths)
        action = gather.get("action") or ""
        assert action.startswith("/twilio/voice/step?s=")
        actions.add(action)
        assert [child.tag for child in gather] == ["Say"]
        assert gather[0].get("language") == "sv-SE"
        assert redirect.tag == "Redirect"
        assert redirect.text == action
        document = defused.fromstring(caller.press(digits).content)
    assert next(iter(document)).get("numDigits") == next(expected_lengths)
    assert len(actions) == 5, "each prompt carries its own progress"


@pytest.mark.parametrize(
    "tamper",
    ["unsigned", "wrong-token", "changed-parameter", "other-port", "other-scheme", "other-path"],
)
def test_a_request_that_fails_the_signature_check_gets_403_and_changes_nothing(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine, tamper: str
) -> None:
    caller = Caller(live_server, client)
    caller.start()
    caller.press(ALVA)
    params = caller.params(Digits="9")
    url = f"{live_server.url}{caller.action}"
    signed_url = url
    headers: dict[str, str] = {}
    if tamper == "wrong-token":
        headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(
            url, params
        )
    elif tamper != "unsigned":
        if tamper == "other-port":
            signed_url = url.replace(live_server.url, "http://127.0.0.1:1")
        elif tamper == "other-scheme":
            signed_url = url.replace("http://", "https://")
        elif tamper == "other-path":
            signed_url = url.replace("?s=", "?s=A")
        signed = params if tamper != "changed-parameter" else {**params, "Digits": "261127"}
        headers["X-Twilio-Signature"] = caller.validator.compute_signature(signed_url, signed)

    response = client.post(url, data=params, headers=headers)

    assert response.status_code == 403
    assert absences(db) == []
    assert outbox(db) == []
    assert caller.press("9").headers["X-Absence-Reference"], "the call goes on as it was"


def test_the_signature_uses_the_configured_public_url_not_the_host_header(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine
) -> None:
    caller = Caller(live_server, client)
    params = caller.params(CallStatus="ringing")
    forged_url = "https://attacker.example/twilio/voice"
    signature = caller.validator.compute_signature(forged_url, params)
    response = client.post(
        f"{live_server.url}/twilio/voice",
        data=params,
        headers={
            "X-Twilio-Signature": signature,
            "Host": "attacker.example",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "attacker.example",
        },
    )
    assert response.status_code == 403
    assert calls(db) == []


def test_the_same_webhook_twice_records_nothing_twice(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine
) -> None:
    caller = Caller(live_server, client)
    first_start = caller.start()
    assert ET.tostring(caller.start()) == ET.tostring(first_start)
    caller.press(ALVA)
    at = caller.action
    first = caller.press("9", at=at)
    again = caller.press("9", at=at)

    assert first.text == again.text
    assert first.headers["X-Absence-Reference"]
    assert "X-Absence-Reference" not in again.headers
    assert len(absences(db)) == 1
    assert len(outbox(db)) == 4
    assert len(calls(db)) == 1


def test_a_late_repeat_of_an_old_prompt_is_answered_as_before_and_records_nothing(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine
) -> None:
    caller = Caller(live_server, client)
    caller.start()
    first_prompt = caller.action
    answered = caller.press(ALVA)
    caller.press("261127")
    stale = caller.press(ALVA, at=first_prompt)

    assert stale.text == answered.text
    assert absences(db) == []
    [call] = calls(db)
    assert call["unknown_pupils"] == 0


def test_the_same_webhook_at_the_same_moment_records_one_absence(
    live_server: LiveServer, db: sa.Engine
) -> None:
    with httpx.Client(timeout=10) as client:
        caller = Caller(live_server, client)
        caller.start()
        caller.press(ALVA)
    barrier = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def deliver() -> None:
        with httpx.Client(timeout=10) as own_client:
            copy = Caller(live_server, own_client)
            copy.call_sid = caller.call_sid
            barrier.wait()
            answers.append(copy.press("9", at=caller.action))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in answers] == [200] * 8
    assert len({response.text for response in answers}) == 1
    assert sum("X-Absence-Reference" in response.headers for response in answers) == 1
    assert len(absences(db)) == 1
    assert len(outbox(db)) == 4


def test_any_server_process_can_take_the_next_webhook(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine, clock: Clock
) -> None:
    """Two servers on one database, the call's webhooks alternating between them."""
    port = free_port()
    other_url = f"http://127.0.0.1:{port}"
    other = uvicorn.Server(
        uvicorn.Config(
            create_app(make_settings(live_server.settings.database_url, other_url), clock=clock),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=other.run, daemon=True)
    thread.start()
    while not other.started:
        time.sleep(0.01)
    try:
        caller = Caller(live_server, client)
        caller.start()
        servers = [other_url, live_server.url]
        for prompt, digits in enumerate([ALVA, "261127", "1000", "9", "1200"], start=1):
            base = servers[prompt % 2]
            response = caller.post(caller.action, caller.params(Digits=digits), base_url=base)
            assert response.status_code == 200
            caller._follow(response)
        assert response.headers["X-Absence-Reference"]
        [absence] = absences(db)
        assert str(absence["start_time"]).startswith("10:00")
    finally:
        other.should_exit = True
        thread.join(timeout=10)


def test_silence_arrives_as_a_post_without_digits(
    live_server: LiveServer, client: httpx.Client
) -> None:
    caller = Caller(live_server, client)
    caller.start()
    first = caller.action
    response = caller.press(None)
    assert "Jag hörde ingen knapptryckning." in response.text
    assert "Slå elevens personnummer" in response.text
    assert caller.action != first, "one failure more in the progress"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/twilio/voice", {"From": ANNA, "To": LINE}, 400),
        ("/twilio/voice", {"CallSid": "CA1", "From": ANNA}, 400),
        ("/twilio/voice/step?s=x", {"From": ANNA, "Digits": "1"}, 400),
        ("/twilio/voice/status", {"CallSid": "CA1"}, 400),
    ],
)
def test_a_webhook_missing_what_it_needs_gets_a_4xx(
    live_server: LiveServer,
    client: httpx.Client,
    db: sa.Engine,
    path: str,
    params: dict[str, str],
    status: int,
) -> None:
    caller = Caller(live_server, client)
    response = caller.post(path, params)
    assert response.status_code == status
    assert calls(db) == []


def test_a_webhook_that_is_not_a_form_gets_415(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine
) -> None:
    response = client.post(f"{live_server.url}/twilio/voice", json={"CallSid": "CA1"})
    assert response.status_code == 415
    assert calls(db) == []


@pytest.mark.parametrize("action", [STEP_PATH, f"{STEP_PATH}?s=", f"{STEP_PATH}?s=bm90IG91cnM"])
def test_a_step_without_this_calls_progress_is_answered_with_an_apology(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine, action: str
) -> None:
    """An old gather from before an upgrade, or another call's progress: the caller hears
    why the call ends, the provider never gets an error."""
    caller = Caller(live_server, client)
    response = caller.press(ALVA, at=action)
    assert response.status_code == 200
    assert "<Hangup" in response.text
    assert "Tjänsten fungerar inte just nu." in response.text
    assert calls(db) == []


def test_a_progress_from_another_call_opens_nothing(
    live_server: LiveServer, client: httpx.Client, db: sa.Engine
) -> None:
    first = Caller(live_server, client)
    first.start()
    first.press(ALVA)
    second = Caller(live_server, client)
    second.start()
    response = second.press("9", at=first.action)
    assert "Tjänsten fungerar inte just nu." in response.text
    assert absences(db) == []


def test_health_and_readiness(live_server: LiveServer, client: httpx.Client) -> None:
    assert client.get(f"{live_server.url}/healthz").json() == {"status": "ok"}
    assert client.get(f"{live_server.url}/readyz").json() == {"status": "ready"}
