"""Where a call is, carried from one webhook to the next in the gather's action URL.

The provider posts each webhook to the URL the last TwiML named, and signs that URL with
its query string (``X-Twilio-Signature``), so what the line put there comes back unaltered.
A step that only reads a date, a time, ``#``, ``*`` or silence then needs no database at
all: the call's state arrives with the keys.

Twilio's console and logs show those URLs, so the state is sealed (``ivr.twilio.sealed``:
AES-SIV under a key derived from ``IVR_SECRET_KEY``), bound to the call's ``CallSid``. SIV
is deterministic: the same state in the same call gives the same URL, so a repeated webhook
is answered with exactly the same TwiML, and a token cannot be replayed into another call.
It holds the pupil's internal id, never a personal number, and nothing readable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

import orjson

from ivr.flows import CallState, Step
from ivr.twilio.sealed import LONGEST_TOKEN, InvalidToken, Sealer

VERSION = 1
__all__ = ["LONGEST_TOKEN", "CallProgress", "InvalidProgress", "ProgressTokens"]


@dataclass(frozen=True, slots=True)
class CallProgress:
    """A call between two webhooks: whose line it is (the organisation, its time zone and
    country, which decide "today" and the rules), the language it speaks, and the flow's
    state."""

    organisation_id: int
    timezone: str
    country: str
    language: str
    state: CallState


class InvalidProgress(ValueError):
    """The token is not one this line made for this call (another key, another call, or
    not a token at all)."""


class ProgressTokens:
    def __init__(self, secret_key: bytes) -> None:
        self._sealer = Sealer(secret_key, b"ivr call progress")

    def seal(self, progress: CallProgress, call_sid: str) -> str:
        return self._sealer.seal(orjson.dumps(_as_list(progress)), call_sid)

    def open(self, token: str, call_sid: str) -> CallProgress:
        try:
            return _from_list(orjson.loads(self._sealer.open(token, call_sid)))
        except (InvalidToken, ValueError, TypeError, KeyError) as error:
            raise InvalidProgress(f"not this call's progress ({error})") from None


def _as_list(progress: CallProgress) -> list[Any]:
    state = progress.state
    return [
        VERSION,
        progress.organisation_id,
        progress.timezone,
        progress.country,
        progress.language,
        state.step.value,
        state.failures,
        state.pupil_id,
        _iso(state.start_date),
        _iso(state.start_time),
        _iso(state.end_date),
        _iso(state.end_time),
        state.reports,
        state.unknown_pupils,
        state.offer,
    ]


def _from_list(values: list[Any]) -> CallProgress:
    if not isinstance(values, list) or len(values) != 15 or values[0] != VERSION:
        raise ValueError("an unknown shape of progress")
    (
        _version,
        organisation_id,
        timezone,
        country,
        language,
        step,
        failures,
        pupil_id,
        start_date,
        start_time,
        end_date,
        end_time,
        reports,
        unknown_pupils,
        offer,
    ) = values
    state = CallState(
        step=Step(step),
        failures=int(failures),
        pupil_id=None if pupil_id is None else int(pupil_id),
        start_date=None if start_date is None else date.fromisoformat(start_date),
        start_time=None if start_time is None else time.fromisoformat(start_time),
        end_date=None if end_date is None else date.fromisoformat(end_date),
        end_time=None if end_time is None else time.fromisoformat(end_time),
        reports=int(reports),
        unknown_pupils=int(unknown_pupils),
        offer=offer,
    )
    return CallProgress(int(organisation_id), str(timezone), str(country), str(language), state)


def _iso(value: date | time | None) -> str | None:
    return None if value is None else value.isoformat()
