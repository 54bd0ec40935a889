"""Absence webhooks' rules, without a database: which URLs and events an endpoint may have,
the sealed signing secrets, the payload's shape, and the signed headers."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ivr.notify.webhook_gateway import WebhookGateway, WebhookPost
from ivr.services.absence_json import Absence
from ivr.services.webhooks import (
    EndpointSecrets,
    InvalidEndpoint,
    check_events,
    check_url,
    event_body,
    new_secret,
    shown_url,
    wanted_kinds,
)
from ivr.settings import Settings
from ivr.twilio.sealed import InvalidToken

KEY = b"a secret key of sufficient length for the tests"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.mark.parametrize(
    "url",
    [
        "https://sis.example.org/absence-events",
        "https://sis.example.org:8443/hooks?token=abc",
        "  https://sis.example.org/x  ",
    ],
)
def test_https_urls_are_taken(url: str) -> None:
    assert check_url(url, development=False) == url.strip()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "http://localhost/hook"])
def test_http_is_only_for_this_machine_in_development(url: str) -> None:
    assert check_url(url, development=True) == url
    with pytest.raises(InvalidEndpoint, match="must be https"):
        check_url(url, development=False)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://sis.example.org/hook", "must be https"),
        ("http://10.0.0.5/hook", "must be https"),
        ("ftp://sis.example.org/hook", "not an address events can be posted to"),
        ("sis.example.org/hook", "not an address events can be posted to"),
        ("https://", "not an address events can be posted to"),
        ("https://user:password@sis.example.org/hook", "no user or password"),
        ("https://sis.example.org/" + "x" * 2000, "longer than 2000"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(InvalidEndpoint, match=says):
        check_url(url, development=True)


def test_the_shown_url_leaves_out_the_query() -> None:
    assert shown_url("https://sis.example.org/hook?token=abc") == "https://sis.example.org/hook"


def test_events_default_to_all_and_unknown_ones_name_the_valid_ones() -> None:
    assert check_events([]) == ["recorded", "cancelled", "acknowledged"]
    assert check_events(["Acknowledged", "recorded"]) == ["recorded", "acknowledged"]
    with pytest.raises(InvalidEndpoint) as refused:
        check_events(["recorded", "sent"])
    assert str(refused.value) == "no event 'sent'; the events are recorded, cancelled, acknowledged"
    assert wanted_kinds("recorded,cancelled") == {"reported", "cancelled"}


def test_a_secret_is_32_random_bytes_as_standard_webhooks_writes_them() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_a_sealed_secret_opens_only_for_its_endpoint_and_key() -> None:
    secret = new_secret()
    sealed = EndpointSecrets(KEY).seal(secret, 1, "https://sis.example.org/hook")

    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed
    assert EndpointSecrets(KEY).open(sealed, 1, "https://sis.example.org/hook") == secret
    for organisation, url, key in (
        (2, "https://sis.example.org/hook", KEY),
        (1, "https://evil.example.org/hook", KEY),
        (1, "https://sis.example.org/hook", KEY + b"!"),
    ):
        with pytest.raises(InvalidToken):
            EndpointSecrets(key).open(sealed, organisation, url)


def _absence() -> Absence:
    return Absence.model_validate(
        {
            "reference": "K7M4QX2P",
            "pupil_id": "P1",
            "pupil": "Alva Andersson",
            "group": "5A",
            "school": "Solskolan",
            "start_date": date(2026, 11, 25),
            "start_time": None,
            "end_date": date(2026, 11, 25),
            "end_time": None,
            "whole_days": True,
            "reported_at": datetime(2026, 11, 25, 7, 30, tzinfo=STOCKHOLM),
            "caller": "+46701740605",
            "caller_is_guardian": True,
            "status": "active",
            "acknowledged": None,
            "cancelled": None,
            "confirmations": [],
            "cancellation_messages": [],
        }
    )


def test_the_payload_is_type_timestamp_and_the_feed_apis_absence() -> None:
    happened = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    body = json.loads(event_body("reported", happened, STOCKHOLM, _absence()))
    assert list(body) == ["type", "timestamp", "data"]
    assert body["type"] == "absence.recorded"
    assert body["timestamp"] == "2026-11-25T07:30:00+01:00"
    assert body["data"] == _absence().model_dump(mode="json")
    assert json.loads(event_body("cancelled", happened, STOCKHOLM, _absence()))["type"] == (
        "absence.cancelled"
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_headers_verify_with_the_standardwebhooks_library() -> None:
    now = datetime(2026, 11, 25, 7, 30, 12, tzinfo=STOCKHOLM)
    gateway = WebhookGateway(Settings(_env_file=None), lambda: now)
    try:
        secret = new_secret()
        body = event_body("reported", now, STOCKHOLM, _absence())
        headers = gateway.headers(WebhookPost("https://x.example/", secret, "msg_1_7", body))
    finally:
        await gateway.close()

    assert headers["webhook-id"] == "msg_1_7"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    with time_machine.travel(now, tick=False):
        assert Webhook(secret).verify(body, headers)["data"]["reference"] == "K7M4QX2P"
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            Webhook(new_secret()).verify(body, headers)
