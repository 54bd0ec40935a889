"""The person (or machine) a call of the local providers reaches: the answer policies, what
a call hears and keys in the line's TwiML, and the command that answers a ringing call.

    python -m ivr.devtools.answer +46701740605 1          # answer, key 1 at the first gather
    python -m ivr.devtools.answer +46701740605 1,1430     # then 1430 at the next
    python -m ivr.devtools.answer +46701740605            # answer, key nothing

waits for a call to that number to ring (``--wait`` seconds), answers it, waits for it to
end and prints what it said and what was keyed. The policies are described in
``ivr.devtools.calls``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

import httpx
from defusedxml.ElementTree import fromstring

LOCAL_ANSWER_PATH = "/_local/answer"
LOCAL_CALLS_PATH = "/_local/calls"
ANSWERING = ("keys", "silent", "machine")
POLICIES = ("silent", "machine", "no-answer", "busy", "fail", "ring")
FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@dataclass(frozen=True)
class AnswerPolicy:
    """What happens at a number called (``ivr.devtools.calls`` describes each)."""

    kind: str
    keys: tuple[str, ...] = ()

    @property
    def answers(self) -> bool:
        return self.kind in ANSWERING


def answer_policy(text: str) -> AnswerPolicy:
    """``keys:1,1430``, ``silent``, ``machine``, ``no-answer``, ``busy``, ``fail`` or ``ring``."""
    name = text.strip()
    if name.startswith("keys:"):
        return AnswerPolicy("keys", key_groups(name.removeprefix("keys:")))
    if name in POLICIES:
        return AnswerPolicy(name)
    raise ValueError(
        f"unknown answer policy {text!r}: keys:DIGITS[,DIGITS...], {', '.join(POLICIES)}"
    )


def key_groups(keys: str) -> tuple[str, ...]:
    """``1,1430``: the keys of each gather in turn (none for ``""``)."""
    if any(key not in "0123456789*#," for key in keys):
        raise ValueError(f"keys {keys!r}: digits, * and #, one group per gather split by ','")
    return tuple(keys.split(",")) if keys else ()


class Step(NamedTuple):
    """What one TwiML document made the call say and key, and where it goes next."""

    log: list[dict[str, str]]
    url: str | None  # None: the call hangs up
    digits: str | None  # posted as ``Digits`` (None: not posted)


def follow(twiml: bytes, url: str, keys: deque[str]) -> Step:
    """Follow the document fetched from ``url``: each ``<Gather>`` takes the next group of
    ``keys``; one that hears nothing goes on to the next verb. Raises ``ValueError`` (or
    ``xml.etree.ElementTree.ParseError``) if it is not TwiML."""
    root = fromstring(twiml)
    if root.tag != "Response":
        raise ValueError(f"<{root.tag}> is not a TwiML document")
    log: list[dict[str, str]] = []
    for verb in root:
        if verb.tag == "Say":
            log.append(_said(verb))
        elif verb.tag == "Gather":
            log.extend(_said(say) for say in verb.iter("Say"))
            digits = keys.popleft() if keys else ""
            log.append({"keyed": digits})
            if digits or verb.get("actionOnEmptyResult") == "true":
                return Step(log, urljoin(url, verb.get("action") or url), digits)
        elif verb.tag == "Redirect":
            return Step(log, urljoin(url, (verb.text or "").strip() or url), None)
        elif verb.tag in ("Hangup", "Reject"):
            return Step(log, None, None)
    return Step(log, None, None)


def _said(say: Element) -> dict[str, str]:
    """The words of a ``<Say>``, its SSML markup left out."""
    return {"said": " ".join("".join(say.itertext()).split())}


def describe(call: dict[str, Any]) -> str:
    """A call's log as a person reads it: ``◀`` said, ``▶`` keyed, ``!`` what went wrong."""
    lines = []
    for entry in call["log"]:
        if "said" in entry:
            lines.append(f"  ◀ {entry['said']}")
        elif "keyed" in entry:
            lines.append(f"  ▶ {entry['keyed'] or '(silence)'}")
        else:
            lines.append(f"  ! {entry.get('note', entry)}")
    answered_by = f", answered by {call['answered_by']}" if call.get("answered_by") else ""
    lines.append(f"  {call['status']}{answered_by}, {call.get('duration') or 0} s")
    return "\n".join(lines)


def answer(
    client: httpx.Client, number: str, keys: str, wait_seconds: float, end_seconds: float
) -> dict[str, Any]:
    """Answer the ringing call to ``number``, keying ``keys``; the call once it has ended."""
    deadline = time.monotonic() + wait_seconds
    while True:
        response = client.post(LOCAL_ANSWER_PATH, data={"to": number, "keys": keys})
        if response.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {_message(response)}")
    sid = response.json()["sid"]
    deadline = time.monotonic() + end_seconds
    while time.monotonic() < deadline:
        call = next(c for c in client.get(LOCAL_CALLS_PATH).json() if c["sid"] == sid)
        if call["end_time"] is not None:
            return dict(call)
        time.sleep(0.2)
    raise RuntimeError(f"the call {sid} did not end within {end_seconds:g} s")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("number", help="the number called, as the line dialled it")
    parser.add_argument("keys", nargs="?", default="", help="e.g. 1 or 1,1430 (none: silent)")
    parser.add_argument("--url", default="http://127.0.0.1:8030", help="the local providers")
    parser.add_argument("--wait", type=float, default=30, help="seconds to wait for a ring")
    arguments = parser.parse_args(argv)
    try:
        key_groups(arguments.keys)
    except ValueError as error:
        parser.error(str(error))
    try:
        with httpx.Client(base_url=arguments.url, timeout=10) as client:
            call = answer(client, arguments.number, arguments.keys, arguments.wait, 600)
    except httpx.HTTPError as error:
        print(f"cannot reach the local providers at {arguments.url}: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"Call {call['sid']} to {call['to']}:\n{describe(call)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
