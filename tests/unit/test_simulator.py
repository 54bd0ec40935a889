"""The simulator follows TwiML as Twilio does (against a scripted line, no server)."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest
from twilio.request_validator import RequestValidator

from ivr.cli.simulator import CallFailed, CallSimulator, keys_from_list

TOKEN = "token"


class ScriptedLine:
    """Answers each request with the next TwiML document and remembers what it was sent."""

    def __init__(self, *documents: str) -> None:
        self.documents = list(documents)
        self.requests: list[tuple[str, dict[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        assert RequestValidator(TOKEN).validate(
            str(request.url), params, request.headers["X-Twilio-Signature"]
        )
        self.requests.append((str(request.url), params))
        if request.url.path.endswith("/status"):
            return httpx.Response(204)
        body = self.documents.pop(0) if self.documents else "<Response/>"
        return httpx.Response(200, text=body, headers={"content-type": "text/xml"})


def _call(line: ScriptedLine, *keys: str) -> tuple[list[str], list[str]]:
    client = httpx.Client(transport=httpx.MockTransport(line))
    simulator = CallSimulator(
        "http://line.test/", TOKEN, "+46701740605", "+46846500400", client=client
    )
    result = simulator.place(keys_from_list(list(keys)))
    return result.heard, [params.get("Digits", "-") for _url, params in line.requests]


def test_say_gather_and_the_status_callback() -> None:
    line = ScriptedLine(
        '<Response><Gather numDigits="2" action="/next"><Say>Two keys</Say></Gather></Response>',
        "<Response><Say>Thanks</Say><Hangup/></Response>",
    )
    heard, digits = _call(line, "12")
    assert heard == ["Two keys", "Thanks"]
    assert [url for url, _params in line.requests] == [
        "http://line.test/twilio/voice",
        "http://line.test/next",
        "http://line.test/twilio/voice/status",
    ]
    assert digits == ["-", "12", "-"]
    assert line.requests[-1][1]["CallStatus"] == "completed"


def test_gather_stops_at_the_finish_key_and_after_num_digits() -> None:
    line = ScriptedLine(
        '<Response><Gather action="a"/></Response>',
        '<Response><Gather numDigits="3" action="b"/></Response>',
        '<Response><Gather finishOnKey="" numDigits="4" action="c"/></Response>',
    )
    _heard, digits = _call(line, "12#34", "98765", "1#*")
    assert digits[1:4] == ["12", "987", "1#*"]


def test_silence_falls_through_to_the_next_verb() -> None:
    line = ScriptedLine(
        '<Response><Gather action="/keys"/><Redirect>/silence</Redirect></Response>',
        "<Response><Say>Heard nothing</Say></Response>",
    )
    heard, _digits = _call(line, "")
    assert heard == ["Heard nothing"]
    assert line.requests[1][0] == "http://line.test/silence"
    assert "Digits" not in line.requests[1][1]


def test_a_hash_alone_with_the_default_finish_key_is_silence() -> None:
    line = ScriptedLine('<Response><Gather action="/keys"/><Say>Nothing</Say></Response>')
    heard, _digits = _call(line, "#")
    assert heard == ["Nothing"]


def test_the_caller_hangs_up_when_keys_run_out() -> None:
    line = ScriptedLine('<Response><Gather action="/keys"><Say>Press</Say></Gather></Response>')
    heard, _digits = _call(line)
    assert heard == ["Press"]
    assert len(line.requests) == 2


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (httpx.Response(500, text="boom"), "answered 500"),
        (httpx.Response(200, text="<html>"), "not TwiML"),
        (httpx.Response(200, text="<Other/>"), "not <Response>"),
    ],
)
def test_anything_but_twiml_fails_the_call(response: httpx.Response, problem: str) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda _request: response))
    simulator = CallSimulator(
        "http://line.test", TOKEN, "+46701740605", "+46846500400", client=client
    )
    with pytest.raises(CallFailed, match=problem):
        simulator.place(keys_from_list([]))


def test_a_line_that_redirects_forever_is_stopped() -> None:
    loop = "<Response><Redirect>/again</Redirect></Response>"
    client = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(200, text=loop)))
    simulator = CallSimulator(
        "http://line.test", TOKEN, "+46701740605", "+46846500400", client=client
    )
    with pytest.raises(CallFailed, match="does not end"):
        simulator.place(keys_from_list([]))
