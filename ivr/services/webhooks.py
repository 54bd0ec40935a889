"""Absence webhooks: which events there are, which URLs may take them, the signing secrets,
and what is posted (Standard Webhooks' shape: ``type``, ``timestamp``, ``data``).

Each change of a report (recorded, acknowledged, cancelled) already writes a feed event in
the same transaction as the change (``ivr.store.feed``); those events are the outbox's
source. The relay (``ivr.services.webhook_relay``) copies each new one into the outbox for
every endpoint that wants it, and the dispatcher posts it, signed with the endpoint's
secret, with retries like every other message.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from ivr.domain.statuses import AbsenceEvent
from ivr.services.absence_json import Absence
from ivr.twilio.sealed import Sealer

# What `ivr webhook add --event` takes, and the feed events each stands for.
EVENTS: dict[str, AbsenceEvent] = {
    "recorded": AbsenceEvent.REPORTED,
    "cancelled": AbsenceEvent.CANCELLED,
    "acknowledged": AbsenceEvent.ACKNOWLEDGED,
}
EventType = Literal["absence.recorded", "absence.cancelled", "absence.acknowledged"]
TYPES: dict[str, EventType] = {
    AbsenceEvent.REPORTED: "absence.recorded",
    AbsenceEvent.CANCELLED: "absence.cancelled",
    AbsenceEvent.ACKNOWLEDGED: "absence.acknowledged",
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LONGEST_URL = 2000
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix Standard Webhooks gives secrets


class InvalidEndpoint(ValueError):
    """A URL or an event list no endpoint may have; the message says why."""


def check_url(url: str, development: bool) -> str:
    """``url`` if events may go there: https, or in development http to this machine."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidEndpoint(
            f"{url!r} is not an address events can be posted to; "
            "give an https URL, e.g. https://sis.example.org/absence-events"
        )
    if parts.scheme == "http" and not (development and parts.hostname in LOCAL_HOSTS):
        raise InvalidEndpoint(
            "the URL must be https: events name pupils (http only to 127.0.0.1 or localhost, "
            "in development)"
        )
    if parts.username or parts.password:
        raise InvalidEndpoint(
            "put no user or password in the URL: the signature shows the receiver who sent it"
        )
    if len(url) > LONGEST_URL:
        raise InvalidEndpoint(f"the URL is longer than {LONGEST_URL} characters")
    return url


def shown_url(url: str) -> str:
    """The URL without its query (which may hold a token), for the outbox and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:254]


def check_events(names: Iterable[str]) -> list[str]:
    """The events asked for, in the usual order; all of them when none is named."""
    asked = {name.strip().lower() for name in names}
    unknown = sorted(asked - EVENTS.keys())
    if unknown:
        raise InvalidEndpoint(
            f"no event {', '.join(map(repr, unknown))}; the events are {', '.join(EVENTS)}"
        )
    return [name for name in EVENTS if name in asked or not asked]


def wanted_kinds(events: str) -> frozenset[str]:
    """The feed event kinds an endpoint's ``events`` column asks for."""
    return frozenset(EVENTS[name].value for name in events.split(",") if name in EVENTS)


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes it: ``whsec_`` and 32 random bytes in
    base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class EndpointSecrets:
    """The signing secrets, sealed (AES-SIV) under a key derived from ``IVR_SECRET_KEY``
    for this purpose alone and bound to the endpoint's organisation and URL: the line needs
    them whole to sign, so they cannot be stored as hashes. A changed ``IVR_SECRET_KEY``
    leaves them unreadable: the endpoints must then be added again."""

    PURPOSE = b"ivr webhook signing secret"

    def __init__(self, secret_key: bytes) -> None:
        self._sealer = Sealer(secret_key, self.PURPOSE)

    def seal(self, secret: str, organisation_id: int, url: str) -> str:
        return self._sealer.seal(secret.encode(), f"{organisation_id} {url}")

    def open(self, sealed: str, organisation_id: int, url: str) -> str:
        """The secret; ``InvalidToken`` if it was not sealed here for this endpoint."""
        return self._sealer.open(sealed, f"{organisation_id} {url}").decode()


class AbsenceWebhook(BaseModel):
    """What an endpoint is posted when a report changes."""

    type: EventType = Field(
        description="What happened: `absence.recorded` (reported by phone, or by a guardian "
        "answering a missing-pupil message), `absence.acknowledged` (seen by staff), "
        "`absence.cancelled` (withdrawn by staff)."
    )
    timestamp: datetime = Field(
        description="When it happened, in the organisation's time zone with offset."
    )
    data: Absence = Field(
        description="The absence as the feed API shows it (`GET /api/v1/absences`), as it "
        "stood when the event was relayed."
    )


class PingData(BaseModel):
    endpoint: int = Field(description="The endpoint's id (`ivr webhook list`).")
    organisation: str


class PingWebhook(BaseModel):
    """What `ivr webhook test` posts: the signature and the receiver's answer checked
    without a report."""

    type: Literal["webhook.test"] = "webhook.test"
    timestamp: datetime
    data: PingData


def event_body(kind: str, happened_at: datetime, zone: ZoneInfo, absence: Absence) -> str:
    return AbsenceWebhook(
        type=TYPES[kind], timestamp=happened_at.astimezone(zone), data=absence
    ).model_dump_json()


def ping_body(endpoint_id: int, organisation: str, now: datetime, zone: ZoneInfo) -> str:
    return PingWebhook(
        timestamp=now.astimezone(zone),
        data=PingData(endpoint=endpoint_id, organisation=organisation),
    ).model_dump_json()
