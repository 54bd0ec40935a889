"""Placing simulated calls against the live test server."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from functools import cache

import httpx
from defusedxml import ElementTree as defused
from twilio.request_validator import RequestValidator

from ivr.cli.simulator import CallResult, CallSimulator, keys_from_list
from ivr.domain.call_time import Keys, Speech
from ivr.domain.personal_number import mask_personal_numbers
from ivr.i18n import available_languages, load_catalogue
from tests.conftest import AUTH_TOKEN, LiveServer
from tests.roster_data import ANNA, LINE


@cache
def speech_rates() -> dict[str, float]:
    """Each shipped language's speaking rate, as ``ivr call`` reads it."""
    return {
        language: float(load_catalogue(language).texts["meta.characters_per_second"])
        for language in available_languages()
    }


def place_call(
    server: LiveServer, *keys: str, caller: str = ANNA, called: str = LINE
) -> CallResult:
    """Call the line and press ``keys`` at the prompts in turn, then hang up."""
    with httpx.Client(timeout=10) as client:
        simulator = CallSimulator(
            server.url, AUTH_TOKEN, caller, called, client=client, speech_rates=speech_rates()
        )
        return simulator.place(keys_from_list(list(keys)))


def heard(result: CallResult) -> str:
    return "\n".join(result.heard)


def transcript(result: CallResult) -> str:
    """What was said and keyed, in order, as ``ivr call`` shows it, and the call time."""
    lines = []
    for event in result.events:
        if isinstance(event, Speech):
            lines.append(f"◀ {event.text}")
        elif isinstance(event, Keys):
            lines.append(f"▶ {mask_personal_numbers(event.keys) if event.keys else '(silence)'}")
    lines.append(f"Call time (estimate): {result.call_time}")
    return "\n".join(lines) + "\n"


class SignedCall:
    """One call's webhooks posted by hand, signed as Twilio signs them: for looking at the
    TwiML itself."""

    def __init__(self, server: LiveServer, called: str, caller: str) -> None:
        self.server = server
        self.params = {
            "CallSid": "CA" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "From": caller,
            "To": called,
        }
        self.validator = RequestValidator(AUTH_TOKEN)

    action = ""  # the last gather's action: where the next keys go

    def post(self, path: str, extra: dict[str, str]) -> bytes:
        url = f"{self.server.url}{path}"
        params = {**self.params, **extra}
        signature = self.validator.compute_signature(url, params)
        response = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200
        self.action = next_action(response.content) or self.action
        return response.content

    def press(self, digits: str) -> bytes:
        """Key ``digits`` at the last prompt."""
        return self.post(self.action, {"Digits": digits})


def next_action(twiml: bytes | str) -> str | None:
    """Where the TwiML's gather posts the keys (with the call's progress), if it gathers."""
    gather = defused.fromstring(twiml).find("Gather")
    return None if gather is None else gather.get("action")


def first_twiml(server: LiveServer, called: str, caller: str) -> ET.Element:
    """The TwiML a call to ``called`` from ``caller`` is answered with."""
    content = SignedCall(server, called, caller).post("/twilio/voice", {"CallStatus": "ringing"})
    root: ET.Element = defused.fromstring(content)
    return root
