"""A phone call, simulated over the provider's webhook protocol.

Signs every request as Twilio does and follows the TwiML the way Twilio does: ``<Say>`` is
heard, ``<Gather>`` collects keys (stopping at ``finishOnKey`` or after ``numDigits``) and
posts them to its ``action``, a gather that hears nothing falls through to the next verb,
``<Redirect>`` fetches new TwiML, ``<Hangup>`` or the end of the document ends the call.

What is said is heard as text: SSML inside ``<Say>`` (``<say-as>``, ``<break>``) is read
for its words. Each call keeps what was said and keyed, for an estimate of how long it
takes the caller (``ivr.domain.call_time``).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
from defusedxml import ElementTree as defused
from twilio.request_validator import RequestValidator

from ivr.domain.call_time import CallTime, Event, Keys, Speech, estimate, rate_for
from ivr.domain.personal_number import mask_personal_numbers

ABSENCE_HEADER = "X-Absence-Reference"
MAX_REQUESTS = 200


class CallFailed(RuntimeError):
    """The line answered with something other than TwiML."""


@dataclass
class CallResult:
    call_sid: str
    heard: list[str] = field(default_factory=list)
    keys_sent: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    requests: int = 0
    ended_by: str = "end of document"
    events: list[Event] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return bool(self.references)

    @property
    def call_time(self) -> CallTime:
        """How long the call took the caller, estimated (``ivr.domain.call_time``)."""
        return estimate(self.events)


KeySource = Callable[[], str | None]
"""Gives the keys for the next gather: a string (``""`` is silence) or None to hang up."""


def keys_from_list(keys: list[str]) -> KeySource:
    remaining: Iterator[str] = iter(keys)
    return lambda: next(remaining, None)


class CallSimulator:
    def __init__(
        self,
        base_url: str,
        auth_token: str,
        caller: str,
        called: str,
        account_sid: str = "",
        client: httpx.Client | None = None,
        show: Callable[[str], None] = lambda _line: None,
        speech_rates: Mapping[str, float] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.speech_rates = speech_rates or {}
        self.validator = RequestValidator(auth_token)
        self.client = client or httpx.Client(timeout=15.0)
        self.show = show
        self.call_sid = "CA" + secrets.token_hex(16)
        self.params = {
            "CallSid": self.call_sid,
            "AccountSid": account_sid or "AC" + "0" * 32,
            "From": caller,
            "To": called,
            "Caller": caller,
            "Called": called,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }

    def post(self, url: str, extra: dict[str, str]) -> httpx.Response:
        params = {**self.params, **extra}
        signature = self.validator.compute_signature(url, params)
        return self.client.post(url, data=params, headers={"X-Twilio-Signature": signature})

    def place(self, next_keys: KeySource) -> CallResult:
        result = CallResult(self.call_sid)
        url = f"{self.base_url}/twilio/voice"
        document: ET.Element | None = self._fetch(url, {"CallStatus": "ringing"}, result)
        while document is not None:
            document, url = self._run(document, url, next_keys, result)
        self.post(
            f"{self.base_url}/twilio/voice/status",
            {"CallStatus": "completed", "CallDuration": str(max(1, result.requests * 5))},
        )
        return result

    def _fetch(self, url: str, extra: dict[str, str], result: CallResult) -> ET.Element:
        result.requests += 1
        if result.requests > MAX_REQUESTS:
            raise CallFailed(f"more than {MAX_REQUESTS} requests: the call does not end")
        response = self.post(url, {"CallStatus": "in-progress"} | extra)
        if response.status_code != 200:
            raise CallFailed(f"{url} answered {response.status_code}: {response.text[:200]}")
        if reference := response.headers.get(ABSENCE_HEADER):
            result.references.append(reference)
            self.show(f"  [recorded: reference {reference}]")
        try:
            root = defused.fromstring(response.content)
        except defused.ParseError as error:
            raise CallFailed(f"{url} answered something that is not TwiML: {error}") from None
        if root.tag != "Response":
            raise CallFailed(f"{url} answered <{root.tag}>, not <Response>")
        return root

    def _hear(self, element: ET.Element, result: CallResult) -> None:
        text = spoken_text(element)
        result.heard.append(text)
        rate = rate_for(element.get("language", ""), self.speech_rates)
        result.events.append(Speech(text, rate))
        self.show(f"◀ {text}")

    def _run(
        self, document: ET.Element, url: str, next_keys: KeySource, result: CallResult
    ) -> tuple[ET.Element | None, str]:
        """Play one TwiML document; the next document to play and its URL, or None at the end."""
        for verb in document:
            if verb.tag == "Say":
                self._hear(verb, result)
            elif verb.tag == "Gather":
                for nested in verb:
                    if nested.tag == "Say":
                        self._hear(nested, result)
                pressed = next_keys()
                if pressed is None:
                    result.ended_by = "caller hung up"
                    self.show("☎ caller hangs up")
                    return None, url
                digits = _gathered(verb, pressed)
                result.keys_sent.append(digits)
                result.events.append(Keys(digits, _num_digits(verb), _timeout(verb)))
                self.show(f"▶ {mask_personal_numbers(digits) if digits else '(silence)'}")
                if digits or verb.get("actionOnEmptyResult") == "true":
                    action = urljoin(url, verb.get("action") or url)
                    return self._fetch(action, {"Digits": digits}, result), action
            elif verb.tag == "Redirect":
                target = urljoin(url, (verb.text or "").strip())
                return self._fetch(target, {}, result), target
            elif verb.tag in {"Hangup", "Reject"}:
                result.ended_by = "line hung up"
                return None, url
        return None, url


def spoken_text(say: ET.Element) -> str:
    """The words of a ``<Say>``: its text and that of any SSML in it; a pause is a space."""
    parts = [say.text or ""]
    for child in say:
        parts.append(" " if child.tag == "break" else "".join(child.itertext()))
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def _num_digits(gather: ET.Element) -> int | None:
    limit = gather.get("numDigits", "")
    return int(limit) if limit.isdigit() else None


def _timeout(gather: ET.Element) -> float:
    """Twilio's ``timeout`` (5 seconds unless the gather says otherwise)."""
    value = gather.get("timeout", "5")
    return float(value) if value.isdigit() else 5.0


def _gathered(gather: ET.Element, pressed: str) -> str:
    """What Twilio would post: keys up to ``finishOnKey`` (default ``#``), ``numDigits`` at most."""
    finish = gather.get("finishOnKey", "#")
    digits = pressed
    if finish and finish in digits:
        digits = digits[: digits.index(finish)]
    limit = gather.get("numDigits")
    if limit and limit.isdigit():
        digits = digits[: int(limit)]
    return digits
